"""Benchmarks that print figures (not tests).

`python -m tools.bench ingest [--alerts 2000] [--concurrency 16]`: alerts accepted per second over
HTTP (POST /api/azure-monitor through the local host, processing switched off so only ingest is
measured) next to raw `send_message` per second of the same envelope size to the same Azurite
with the same concurrency, with p50 / p99 latency of each.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from azure.storage.queue import QueueClient, TextBase64EncodePolicy

from shared.config import REPO_ROOT
from tests.support.azurite import Azurite, DevHostProcess

SAMPLE = REPO_ROOT / "samples" / "azure-monitor-adf-pipeline-failed.json"


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def run_load(label: str, total: int, concurrency: int, make_worker: Callable[[], Callable[[], None]]) -> float:
    latencies: list[float] = []
    lock = threading.Lock()
    counter = iter(range(total))

    def worker() -> None:
        call = make_worker()
        while True:
            with lock:
                if next(counter, None) is None:
                    return
            start = time.perf_counter()
            call()
            elapsed = time.perf_counter() - start
            with lock:
                latencies.append(elapsed)

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for future in [pool.submit(worker) for _ in range(concurrency)]:
            future.result()
    wall = time.perf_counter() - started
    rate = len(latencies) / wall
    print(f"{label:34} {rate:8.0f}/s   p50 {statistics.median(latencies) * 1000:6.1f} ms   "
          f"p99 {percentile(latencies, 99) * 1000:6.1f} ms   ({len(latencies)} in {wall:.1f}s)")
    return rate


def bench_ingest(total: int, concurrency: int, work_dir: Path) -> None:
    body = SAMPLE.read_bytes()
    azurite = Azurite().start()
    host = DevHostProcess(env={"AzureWebJobsStorage": azurite.connection_string, "ALERTS_QUEUE": "benchalerts",
                               "AzureWebJobs.process.Disabled": "true", "AzureWebJobs.sweep.Disabled": "true"},
                          log_path=work_dir / "bench-devhost.log").start()
    try:
        envelope = json.dumps({"id": uuid.uuid4().hex, "source": "azure-monitor",
                               "received_at": "2026-01-01T00:00:00.000000Z", "payload": json.loads(body)},
                              separators=(",", ":"))

        def raw_worker() -> Callable[[], None]:
            client = QueueClient.from_connection_string(azurite.connection_string, "benchraw",
                                                        message_encode_policy=TextBase64EncodePolicy())

            def send() -> None:
                client.send_message(envelope)

            return send

        def http_worker() -> Callable[[], None]:
            conn = http.client.HTTPConnection("127.0.0.1", host.port, timeout=30)

            def post() -> None:
                conn.request("POST", "/api/azure-monitor", body, {"Content-Type": "application/json"})
                response = conn.getresponse()
                response.read()
                if response.status != 202:
                    raise RuntimeError(f"ingest answered {response.status}")

            return post

        QueueClient.from_connection_string(azurite.connection_string, "benchraw").create_queue()
        warm = max(50, total // 20)
        run_load("warm-up (raw, not counted)", warm, concurrency, raw_worker)
        run_load("warm-up (http, not counted)", warm, concurrency, http_worker)
        print(f"\n{total} alerts of {len(body)} bytes, concurrency {concurrency}:")
        raw = run_load("raw send_message to Azurite", total, concurrency, raw_worker)
        ingest = run_load("POST /api/azure-monitor (devhost)", total, concurrency, http_worker)
        print(f"\ningest / raw = {ingest / raw:.2f}  (aim: >= 0.6)")
    finally:
        host.stop()
        azurite.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["ingest"])
    parser.add_argument("--alerts", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args(argv)
    work_dir = REPO_ROOT / ".azurite"
    work_dir.mkdir(exist_ok=True)
    bench_ingest(args.alerts, args.concurrency, work_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
