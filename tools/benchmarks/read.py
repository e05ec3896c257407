"""`read`: GET /api/incidents (first page, and the filters the dashboard uses) at growing incident counts, next to
a raw table query for one page in the same run. Written against the public HTTP route, so it measures whatever
read model the store implements. Incidents are written through IncidentStore.record (what the processor calls),
so any index the store keeps is written as in production."""

from __future__ import annotations

import http.client
import json
import statistics
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from orchestration.runtime import Services
from shared.config import Settings
from shared.models import Failure
from tests.support.azurite import Azurite, DevHostProcess
from tools.benchmarks.common import stopping

PLATFORMS = ("adf", "synapse", "databricks", "airflow", "functions")
QUERIES: dict[str, str] = {
    "first page (limit 50)": "limit=50",
    "status=open": "status=open&limit=50",
    "platform=databricks": "platform=databricks&limit=50",
    "pipeline=pl_00007 (selective)": "pipeline=pl_00007&limit=50",
}


def _failure(index: int) -> Failure:
    return Failure(source="azure-monitor", platform=PLATFORMS[index % len(PLATFORMS)], resource="bench",
                   pipeline=f"pl_{index % 997:05d}", run_id=uuid.uuid4().hex, activity="Copy",
                   error_code="2200", message=f"Operation on target Copy failed: row {index} could not be read.")


def _populate(services: Services, start: int, stop: int) -> None:
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: services.incidents.record(_failure(i), uuid.uuid4().hex, now), range(start, stop)))


def _median_ms(call: Callable[[], int], times: int = 5) -> tuple[float, int]:
    samples, items = [], 0
    for _ in range(times):
        started = time.perf_counter()
        items = call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), items


def bench_read(sizes: list[int], work_dir: Path) -> None:
    azurite = Azurite().start()
    values = {"AzureWebJobsStorage": azurite.connection_string, "INCIDENTS_TABLE": "benchincidents",
              "AzureWebJobs.process.Disabled": "true", "AzureWebJobs.sweep.Disabled": "true"}
    host = DevHostProcess(env=values, log_path=work_dir / "bench-read.log")
    with stopping(azurite, host):
        services = Services.from_settings(Settings.from_mapping(values))
        services.ensure_ready()
        host.start()
        conn = http.client.HTTPConnection("127.0.0.1", host.port, timeout=120)
        table = services.storage.table(values["INCIDENTS_TABLE"])

        def api(query: str) -> Callable[[], int]:
            def call() -> int:
                conn.request("GET", f"/api/incidents?{query}")
                response = conn.getresponse()
                body = response.read()
                if response.status != 200:
                    raise RuntimeError(f"GET /api/incidents?{query} answered {response.status}: {body[:200]!r}")
                return len(json.loads(body)["items"])
            return call

        def raw_page() -> int:
            pages = table.query_entities("", results_per_page=50).by_page()
            return len(list(next(pages, [])))

        done = 0
        print("read: GET /api/incidents (median of 5, ms) vs one raw 50-row table query in the same run")
        for size in sizes:
            _populate(services, done, size)
            done = size
            raw_ms, _ = _median_ms(raw_page)
            print(f"  {size:>7} incidents: raw table page {raw_ms:7.1f} ms")
            for label, query in QUERIES.items():
                ms, items = _median_ms(api(query))
                print(f"      {label:32} {ms:8.1f} ms  ({items} items on the first page; "
                      f"{ms / raw_ms:5.1f} x raw)")
