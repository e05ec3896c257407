"""Rebuild the dashboard's incident index (INCIDENT_INDEX_TABLE) from the incidents table: for incidents written
before the index existed, or after an index write failed (logged as "read model update ... failed").

    python -m tools.reindex

Reads every incident row once (a scan: an operator's tool, not a request path) and upserts its summary row.
Counters (STATS_TABLE) are not rebuilt: they count changes as they happen.
"""

from __future__ import annotations

from orchestration.runtime import services


def main() -> int:
    svc = services()
    svc.ensure_ready()
    if svc.index is None:
        raise SystemExit("the incident index is not configured")
    batch = []
    total = 0
    for entity in svc.incidents.table.query_entities("RowKey eq 'incident'"):
        batch.append(svc.incidents.get(str(entity["PartitionKey"])))
        if len(batch) >= 500:
            total += svc.index.rebuild([i for i in batch if i is not None])
            batch = []
    total += svc.index.rebuild([i for i in batch if i is not None])
    print(f"indexed {total} incidents")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
