"""The incident index: what the list pages and `GET /api/incidents` read, newest first without a scan or a sort.

Table INCIDENT_INDEX_TABLE, one row per incident:
  PartitionKey = inverted first_seen day (5 digits, 99999 - days since 1970), RowKey = "<inverted first_seen ms,
  13 digits>|<incident id>". Table Storage returns rows in (PartitionKey, RowKey) order, so its own key order is
  newest first across days, a time range is a key range, and writes spread over one partition per day instead of
  one hot partition. Properties: a summary of the incident (status, platform, source, category,
  retry_safe, pipeline, team, owner, occurrences, times, error code and the first SUMMARY_CAP characters of the
  error) plus lower-cased copies of pipeline / team / owner for case-insensitive filters. Full texts stay on the
  incident row (the detail route).

The row is rewritten (upsert) from the incident's state after every write of the incident (record, stage fields,
lifecycle transition; see shared.incidents.IncidentStore), so it is as fresh as the last change. A failed index
write is logged and repaired by the next change of that incident, or by `rebuild` (python -m tools.reindex).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from azure.data.tables import TableClient, UpdateMode

from shared.models import Incident
from shared.timeutil import parse_iso

SUMMARY_CAP = 500
MAX_REQUESTS_PER_PAGE = 10
_MAX_MS = 9_999_999_999_999
# Filters the list understands; pipeline / team / owner match case-insensitively (pipeline by prefix).
EXACT_FILTERS = ("status", "platform", "source", "category", "run_id")
LOWER_FILTERS = ("team", "owner")


def _epoch_ms(iso: str) -> int:
    return int(parse_iso(iso).timestamp() * 1000)


def partition_of(iso: str) -> str:
    return f"{99_999 - _epoch_ms(iso) // 86_400_000:05d}"


def row_key(first_seen: str, incident_id: str) -> str:
    return f"{_MAX_MS - _epoch_ms(first_seen):013d}|{incident_id}"


def time_bound(iso: str) -> str:
    """The RowKey of the first row at or before `iso` (rows are newest first)."""
    return f"{_MAX_MS - _epoch_ms(iso):013d}"


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _next_prefix(prefix: str) -> str | None:
    """The smallest string greater than every string starting with `prefix`; None when there is none (the prefix is
    all U+10FFFF, the last code point)."""
    kept = prefix.rstrip(chr(0x10FFFF))
    return kept[:-1] + chr(ord(kept[-1]) + 1) if kept else None


def plan_state(incident: Incident) -> str:
    return str((incident.remediation or {}).get("state") or "")


def summary(incident: Incident) -> dict[str, Any]:
    """The index row of an incident."""
    verdict = incident.verdict or {}
    message = incident.error_message or ""
    row: dict[str, Any] = {
        "PartitionKey": partition_of(incident.first_seen), "RowKey": row_key(incident.first_seen, incident.id),
        "incident_id": incident.id,
        "status": incident.status, "platform": incident.platform, "source": incident.source,
        "resource": incident.resource, "pipeline": incident.pipeline or "",
        "pipeline_lc": (incident.pipeline or "").lower(),
        "activity": incident.activity or "", "run_id": incident.run_id or "", "occurrences": incident.occurrences,
        "first_seen": incident.first_seen, "last_seen": incident.last_seen, "error_code": incident.error_code or "",
        "failure_type": incident.failure_type or "", "error_summary": message[:SUMMARY_CAP],
        "error_truncated": len(message) > SUMMARY_CAP, "category": str(verdict.get("category") or ""),
        "retry_safe": bool(verdict.get("retryable")) if verdict else False, "classified": bool(verdict),
        "team": incident.team or "", "team_lc": (incident.team or "").lower(),
        "owner": incident.owner or "", "owner_lc": (incident.owner or "").lower(),
        "resolution": incident.resolution or "", "acknowledged": bool(incident.acknowledged_at),
        "plan_state": plan_state(incident), "links_run": (incident.links or {}).get("run", ""),
    }
    return row


def to_api(row: dict[str, Any]) -> dict[str, Any]:
    """An index row as a list item (the API's incident shape, with a shortened error)."""
    return {
        "id": row.get("incident_id"), "status": row.get("status"), "platform": row.get("platform"),
        "source": row.get("source"), "resource": row.get("resource"), "pipeline": row.get("pipeline") or None,
        "activity": row.get("activity") or None, "run_id": row.get("run_id") or None,
        "occurrences": int(row.get("occurrences") or 0), "first_seen": row.get("first_seen"),
        "last_seen": row.get("last_seen"), "category": row.get("category") or None,
        "retry_safe": bool(row.get("retry_safe")) if row.get("classified") else None,
        "team": row.get("team") or None, "owner": row.get("owner") or None,
        "resolution": row.get("resolution") or None, "acknowledged": bool(row.get("acknowledged")),
        "plan_state": row.get("plan_state") or None,
        "links": {"run": row["links_run"]} if row.get("links_run") else {},
        "error": {"code": row.get("error_code") or None, "message": row.get("error_summary") or None,
                  "failure_type": row.get("failure_type") or None},
        "error_truncated": bool(row.get("error_truncated")),  # the full text is on GET /api/incidents/{id}
    }


@dataclass(frozen=True)
class ListQuery:
    """What the list asks for; every field optional. Times are ISO-8601 on first_seen; `since` on last_seen."""

    status: str = ""
    platform: str = ""
    source: str = ""
    category: str = ""
    run_id: str = ""
    retry_safe: bool | None = None
    pipeline_prefix: str = ""
    team: str = ""
    owner: str = ""
    first_from: str = ""
    first_to: str = ""
    since: str = ""

    def odata(self) -> str:
        clauses = []
        # The time range is a key range: newest first means the later bound is the lower key.
        if self.first_to:
            clauses.append(f"PartitionKey ge {_quote(partition_of(self.first_to))}")
            clauses.append(f"RowKey ge {_quote(time_bound(self.first_to))}")
        if self.first_from:
            clauses.append(f"PartitionKey le {_quote(partition_of(self.first_from))}")
            clauses.append(f"RowKey lt {_quote(time_bound(self.first_from) + '}')}")
        for name in EXACT_FILTERS:
            value = getattr(self, name)
            if value:
                clauses.append(f"{name} eq {_quote(value)}")
        for name in LOWER_FILTERS:
            value = getattr(self, name)
            if value:
                clauses.append(f"{name}_lc eq {_quote(value.lower())}")
        if self.pipeline_prefix:
            low = self.pipeline_prefix.lower()
            high = _next_prefix(low)
            clauses.append(f"pipeline_lc ge {_quote(low)}" + (f" and pipeline_lc lt {_quote(high)}" if high else ""))
        if self.retry_safe is not None:
            clauses.append(f"classified eq true and retry_safe eq {'true' if self.retry_safe else 'false'}")
        if self.since:
            clauses.append(f"last_seen ge {_quote(self.since)}")
        return " and ".join(clauses) or "RowKey ne ''"


class IncidentIndex:
    def __init__(self, table: TableClient) -> None:
        self.table = table

    def put(self, incident: Incident) -> None:
        self.table.upsert_entity(summary(incident), mode=UpdateMode.REPLACE)

    def page(self, query: ListQuery, limit: int, continuation: Any = None) -> tuple[list[dict[str, Any]], Any]:
        """Up to `limit` index rows, newest first, and the continuation token of the rest (or None). The service
        may end a page early at a partition boundary; the next requests fill it (bounded)."""
        rows: list[dict[str, Any]] = []
        token = continuation
        for _ in range(MAX_REQUESTS_PER_PAGE):
            pages = self.table.query_entities(query.odata(), results_per_page=limit - len(rows)).by_page(
                continuation_token=token)
            rows += [dict(e) for e in next(pages, [])]
            token = getattr(pages, "continuation_token", None)
            if not token or len(rows) >= limit:
                break
        return rows, token

    def rebuild(self, incidents: list[Incident]) -> int:
        """Upsert the rows of `incidents` in transactions of up to 100 rows of one partition."""
        by_partition: dict[str, list[dict[str, Any]]] = {}
        for incident in incidents:
            row = summary(incident)
            by_partition.setdefault(row["PartitionKey"], []).append(row)
        for rows in by_partition.values():
            for start in range(0, len(rows), 100):
                batch = rows[start:start + 100]
                self.table.submit_transaction([("upsert", r, {"mode": UpdateMode.REPLACE}) for r in batch])
        return sum(len(r) for r in by_partition.values())


def day_of(iso: str) -> str:
    return parse_iso(iso).astimezone(UTC).strftime("%Y-%m-%d")


def seconds_between(start: str, end: str) -> float:
    return max(0.0, (parse_iso(end) - parse_iso(start)).total_seconds())


def today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")
