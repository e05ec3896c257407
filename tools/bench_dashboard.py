"""Dashboard read latency with 1,000 / 10,000 (/ 100,000 with --full) incidents on Azurite. Prints figures; asserts
nothing.

Index rows and counters are seeded directly, in transactions of 100 (what IncidentStore writes for each incident,
without running the pipeline 100,000 times). Each size is measured in a fresh in-memory Azurite, server side:
the handler's work (query + HTML) without the browser. Figures: median and p90 over the repeats of
  list first page   -- newest 50, no filter (the page an engineer opens)
  list status=open  -- newest 50 open ones (a property filter over the index)
  list pipeline     -- a case-insensitive pipeline prefix
  list deep page    -- the 5th page through continuation tokens
  trends            -- 14 day rows + the signature rows, charts rendered

    python -m tools.bench_dashboard [--full] [--repeats 7]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.data.tables import TableServiceClient, UpdateMode

from dashboard import listing, pages
from shared.models import Incident
from shared.readmodel import IncidentIndex, summary
from shared.timeutil import to_iso
from shared.trendstats import IncidentStats
from tests.support.azurite import Azurite

PLATFORMS = ("adf", "synapse", "databricks", "airflow")
CATEGORIES = ("transient_network", "timeout", "configuration", "resource_capacity", "missing_source_data")
STATUSES = ("resolved",) * 17 + ("open", "escalated", "remediating")


def _incident(i: int, now: datetime) -> Incident:
    first = to_iso(now - timedelta(seconds=i * 37))
    rng = random.Random(i)
    return Incident(id=uuid.UUID(int=i).hex, source="azure-monitor", platform=rng.choice(PLATFORMS),
                    resource="factory", pipeline=f"Pipeline_{rng.randrange(300):03d}", run_id=f"run-{i}",
                    status=rng.choice(STATUSES), occurrences=1, first_seen=first, last_seen=first,
                    error_message="ErrorCode=2200 Operation timed out " * 8,
                    verdict={"category": rng.choice(CATEGORIES), "retryable": rng.random() < 0.5})


def seed(conn: str, count: int, now: datetime) -> tuple[IncidentIndex, IncidentStats]:
    service = TableServiceClient.from_connection_string(conn)
    index_table = service.create_table_if_not_exists("benchindex")
    stats_table = service.create_table_if_not_exists("benchstats")
    batch: list[Any] = []
    for i in range(count):
        row = summary(_incident(i, now))
        if batch and (len(batch) == 100 or batch[0][1]["PartitionKey"] != row["PartitionKey"]):
            index_table.submit_transaction(batch)
            batch = []
        batch.append(("upsert", row, {"mode": UpdateMode.REPLACE}))
    if batch:
        index_table.submit_transaction(batch)
    for d in range(30):
        stats_table.upsert_entity({"PartitionKey": "day", "RowKey": (now - timedelta(days=d)).strftime("%Y-%m-%d"),
                                   "opened": count // 30, "resolved": count // 35, "auto_resolved": count // 60,
                                   "mttr_sum_s": 1800.0 * (count // 35), "mttr_n": float(count // 35),
                                   "by_category_json": '{"timeout": 10, "configuration": 4}',
                                   "by_pipeline_json": '{"Pipeline_001": 7, "Pipeline_002": 3}'})
    for s in range(200):
        stats_table.upsert_entity({"PartitionKey": "sig", "RowKey": f"{s:040x}", "text": f"signature {s}",
                                   "category": "timeout", "incidents": s, "retries": s // 2, "retry_successes": s // 3})
    stats_table.upsert_entity({"PartitionKey": "totals", "RowKey": "status", "open": count // 20})
    return IncidentIndex(index_table), IncidentStats(stats_table, stats_table)


def timed(repeats: int, work: Callable[[], object]) -> tuple[float, float]:
    work()  # warm the connection
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.9))]


def measure(count: int, repeats: int) -> dict[str, tuple[float, float]]:
    now = datetime.now(UTC)
    azurite = Azurite().start()
    try:
        started = time.perf_counter()
        index, stats = seed(azurite.connection_string, count, now)
        print(f"  seeded {count:,} index rows in {time.perf_counter() - started:.1f} s")

        def list_html(params: dict[str, str]) -> str:
            page = listing.list_page(index, params)
            return pages.list_page(page.items, params, stats.status_counts(), page.continuation, 30)

        def deep() -> None:
            params: dict[str, str] = {}
            for _ in range(5):
                page = listing.list_page(index, params)
                params = {"continuation": page.continuation or ""}

        return {
            "list first page": timed(repeats, lambda: list_html({})),
            "list status=open": timed(repeats, lambda: list_html({"status": "open"})),
            "list pipeline=pipeline_00": timed(repeats, lambda: list_html({"pipeline": "pipeline_00"})),
            "list 5th page": timed(repeats, deep),
            "trends": timed(repeats, lambda: pages.trends_page(listing.trends(stats, 14, now))),
        }
    finally:
        azurite.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="also 100,000 incidents (a few minutes to seed)")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    sizes = [1_000, 10_000] + ([100_000] if args.full else [])
    results = {}
    for count in sizes:
        print(f"{count:,} incidents:")
        results[count] = measure(count, args.repeats)
    names = list(next(iter(results.values())))
    print("\nmedian / p90 ms" + "".join(f"{c:>20,}" for c in sizes))
    for name in names:
        print(f"{name:28}" + "".join(f"{results[c][name][0]:>11.1f} / {results[c][name][1]:<6.1f}" for c in sizes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
