"""`python -m tools.faults` (or `make faults`): the fault and fuzz suite of issue 9, with its figures.

  storm   Azurite paused / stopped / restarted and the host killed under a steady load: every alert that got
          a 202 is processed or ignored afterwards, none counted twice.
  fuzz    Hypothesis over the three POST routes, the query parameters and the ids: only 2xx / 4xx, no stall;
          accepted bodies are processed too.
  texts   Adversarial 1 MB texts through redaction, signature and classification; 1 MiB bodies through ingest
          and processing; each against a time budget.

Everything runs on loopback (its own Azurite and local host), is bounded in count and time, and stops by
itself. Exit status 0 only when every figure is within its bound.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from orchestration.runtime import Services
from shared.config import SETTINGS, Settings


def _services_on(azurite_connection: str) -> Services:
    import orchestration.runtime as runtime

    values = {s.name: s.default for s in SETTINGS}
    values.update(AzureWebJobsStorage=azurite_connection, ENRICHMENT_ENABLED="false", NOTIFY_CHANNELS="console")
    os.environ.update(values)  # the HTTP handlers build their services from the environment, as in the host
    svc = Services.from_settings(Settings.from_mapping(values))
    svc.ensure_ready()
    runtime._services = svc
    return svc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.faults", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("parts", nargs="*", help="storm, fuzz and / or texts (default: all three)")
    parser.add_argument("--fuzz-inputs", type=int, default=10_000)
    parser.add_argument("--process-every", type=int, default=5, help="process every n-th accepted fuzz body")
    parser.add_argument("--storm-seconds", type=float, default=40.0)
    parser.add_argument("--storm-rate", type=float, default=8.0, help="alerts per second")
    parser.add_argument("--bodies", type=int, default=12, help="1 MiB bodies through ingest + processing")
    args = parser.parse_args(argv)
    args.parts = args.parts or ["storm", "fuzz", "texts"]
    unknown = set(args.parts) - {"storm", "fuzz", "texts"}
    if unknown:
        parser.error(f"unknown parts: {', '.join(sorted(unknown))} (choose from storm, fuzz, texts)")
    logging.basicConfig(level=logging.ERROR)  # the console notifier would print every fuzzed incident
    ok = True

    if "storm" in args.parts:
        from tools.faults.storm import run_storm

        print(f"== storm: {args.storm_seconds:.0f} s of load at {args.storm_rate:.0f} alerts/s with faults")
        f = run_storm(duration_s=args.storm_seconds, rate_per_s=args.storm_rate)
        print(f"   alerts sent {f.sent}, accepted {f.accepted}, accounted for {f.accounted}, lost {f.lost}, "
              f"duplicates {f.duplicates}, never accepted {f.never_accepted}, 503s {f.answered_503} "
              f"(slowest {f.slowest_503_s:.2f} s), other 5xx {f.server_errors_5xx_other_than_503}, "
              f"slowest answer {f.slowest_answer_s:.2f} s, {f.seconds:.0f} s in all")
        if f.lost_ids:
            print(f"   lost: {f.lost_ids[:10]}")
        ok &= f.ok()

    if {"fuzz", "texts"} & set(args.parts):
        from tools.faults.processes import AzuriteProcess

        work = Path(tempfile.mkdtemp(prefix="faults-fuzz-"))
        azurite = AzuriteProcess(work / "azurite").start()
        try:
            svc = _services_on(azurite.connection_string)
            if "fuzz" in args.parts:
                from tools.faults.fuzz import fuzz_edge

                print(f"== fuzz: {args.fuzz_inputs} inputs over the POST routes, query parameters and ids")
                started = time.monotonic()
                z = fuzz_edge(svc, args.fuzz_inputs, args.process_every)
                statuses = ", ".join(f"{k}: {v}" for k, v in sorted(z.by_status.items()))
                print(f"   inputs fuzzed {z.inputs} ({statuses}); 5xx {z.server_errors}, exceptions {z.exceptions}; "
                      f"bodies processed {z.processed}, processing errors {z.processing_errors}; slowest "
                      f"{z.slowest_s:.2f} s ({z.slowest_input}); {time.monotonic() - started:.0f} s in all")
                for problem in z.problems[:10]:
                    print(f"   problem: {problem}")
                ok &= z.ok()
            if "texts" in args.parts:
                from tools.faults.texts import all_units, run_bodies, run_texts

                print("== texts: adversarial 1 MB texts through redaction, signature and classification")
                t = run_texts()
                print(f"   texts {t.texts}; slowest {t.slowest_text_s:.2f} s ({t.slowest_text})")
                units = all_units()[: args.bodies]
                run_bodies(svc, t, units)
                print(f"   1 MiB bodies through ingest + processing {t.bodies}; slowest {t.slowest_body_s:.2f} s "
                      f"({t.body_size} bytes of {t.slowest_body})")
                for problem in t.problems[:10]:
                    print(f"   problem: {problem}")
                ok &= t.ok()
        finally:
            azurite.stop()
            shutil.rmtree(work, ignore_errors=True)

    print("faults: OK" if ok else "faults: FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
