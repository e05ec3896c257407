"""Shared pieces of the benchmarks: load runner, request counting, CPU clocks, sample alerts."""

from __future__ import annotations

import json
import resource
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from shared.config import REPO_ROOT

CORPUS = REPO_ROOT / "tests" / "corpus" / "errors-train.jsonl"


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def run_load(label: str, total: int, concurrency: int, make_worker: Callable[[], Callable[[int], None]],
             quiet: bool = False) -> float:
    """Call `worker(i)` for i in range(total) from `concurrency` threads; print and return calls per second."""
    latencies: list[float] = []
    lock = threading.Lock()
    counter = iter(range(total))

    def worker() -> None:
        call = make_worker()
        while True:
            with lock:
                index = next(counter, None)
            if index is None:
                return
            start = time.perf_counter()
            call(index)
            elapsed = time.perf_counter() - start
            with lock:
                latencies.append(elapsed)

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for future in [pool.submit(worker) for _ in range(concurrency)]:
            future.result()
    wall = time.perf_counter() - started
    rate = len(latencies) / wall
    if not quiet:
        print(f"  {label:44} {rate:8.0f}/s   p50 {statistics.median(latencies) * 1000:6.1f} ms   "
              f"p99 {percentile(latencies, 99) * 1000:6.1f} ms   ({len(latencies)} in {wall:.1f}s)")
    return rate


def cpu_seconds() -> float:
    """CPU time (user + system) of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class RequestCounter:
    """A storage `raw_request_hook`: counts outgoing requests by method and kind (table / queue / blob op)."""

    counts: Counter[str]
    lock: threading.Lock

    @classmethod
    def new(cls) -> RequestCounter:
        return cls(Counter(), threading.Lock())

    def __call__(self, request: Any) -> None:
        http = request.http_request
        parts = urlsplit(http.url)
        path = parts.path.rstrip("/")
        last = path.rsplit("/", 1)[-1]
        if last == "$batch":
            kind = "table batch"
        elif "(" in last:
            kind = "table entity" if "PartitionKey=" in last else "table query"
        elif last.endswith("messages") or "/messages/" in path:
            kind = "queue message"
        else:
            kind = "other"
        with self.lock:
            self.counts[f"{http.method} {kind}"] += 1

    def total(self) -> int:
        return sum(self.counts.values())

    def reset(self) -> None:
        with self.lock:
            self.counts.clear()


def corpus_messages() -> list[dict[str, Any]]:
    return [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]


def airflow_alert(dag: str, run: str, message: str) -> dict[str, Any]:
    """An Airflow failure callback body (the shape of samples/airflow-task-failed.json)."""
    return {"dag_id": dag, "task_id": "load", "run_id": run, "try_number": 1, "max_tries": 1, "map_index": -1,
            "state": "failed", "exception_type": "airflow.exceptions.AirflowException", "exception": message,
            "log_url": f"http://airflow.example.internal:8080/dags/{dag}/grid?dag_run_id={run}",
            "logical_date": "2026-11-21T02:00:00+00:00", "start_date": "2026-11-21T02:14:03+00:00",
            "end_date": "2026-11-21T02:16:41+00:00", "instance": "airflow-prod"}


@contextmanager
def stopping(*things: Any) -> Iterator[None]:
    """Stop each started thing (Azurite, hosts, simulators) whatever happens, last started first."""
    try:
        yield
    finally:
        for thing in reversed(things):
            if thing is not None:
                thing.stop()
