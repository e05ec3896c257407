"""Benchmarks that print figures (not tests); see docs/performance.md for what each measures and the results.

    python -m tools.bench all                      # what `make bench` runs
    python -m tools.bench ingest [--alerts 2000] [--concurrency 16] [--repeat 3]
    python -m tools.bench process [--alerts 500] [--repeat 3]
    python -m tools.bench read [--sizes 1000,10000]            # add 100000 for the big one (slow to fill)
    python -m tools.bench storm [--alerts 10000] [--runs 100]
    python -m tools.bench classify | coldstart

Each starts its own Azurite (in memory) and local host on free loopback ports and stops them, even on failure.
"""

from __future__ import annotations

import argparse
import signal
import sys

from shared.config import REPO_ROOT
from tools.benchmarks.ingest import bench_ingest
from tools.benchmarks.process import bench_process, bench_storm
from tools.benchmarks.read import bench_read
from tools.benchmarks.textcost import bench_classify, bench_coldstart

CHOICES = ["all", "ingest", "process", "read", "storm", "classify", "coldstart"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=CHOICES)
    parser.add_argument("--alerts", type=int, default=None, help="alerts per run (ingest 2000, process 500, "
                                                                   "storm 10000)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--runs", type=int, default=100, help="storm: distinct failed runs")
    parser.add_argument("--sizes", default="1000,10000", help="read: incident counts, comma-separated")
    args = parser.parse_args(argv)
    # Stopped from outside (timeout, kill): unwind, so Azurite and the hosts are stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    work_dir = REPO_ROOT / ".azurite"
    work_dir.mkdir(exist_ok=True)
    todo = CHOICES[1:] if args.what == "all" else [args.what]
    for what in todo:
        if what == "ingest":
            bench_ingest(args.alerts or 2000, args.concurrency, args.repeat, work_dir)
        elif what == "process":
            bench_process(args.alerts or 500, args.repeat, work_dir)
        elif what == "read":
            bench_read([int(s) for s in args.sizes.split(",") if s.strip()], work_dir)
        elif what == "storm":
            bench_storm(args.alerts or 10_000, args.runs, work_dir)
        elif what == "classify":
            bench_classify()
        elif what == "coldstart":
            bench_coldstart(args.repeat, work_dir)
        print(flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
