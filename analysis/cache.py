"""Per-signature state in Table Storage (settings.analysis_cache_table).

PartitionKey = signature hash; rows:
  answer  -- the LLM's answer for this signature (so an alert storm costs one call per distinct error)
  failure -- the last LLM failure, so an outage is not hammered once per alert
  stats   -- occurrence count, first/last seen and the most recent occurrences (the prompt's history)
Everything written is redacted. Stats are read-modify-write: under concurrency a count may lag.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from shared.redaction import redact

MAX_PROPERTY_CHARS = 30_000
RECENT_KEEP = 10


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _parse(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _dumps(value: Any) -> str:
    text = json.dumps(redact(value), default=str, ensure_ascii=False)
    return text if len(text) <= MAX_PROPERTY_CHARS else json.dumps({"truncated": True})


class AnalysisCache:
    def __init__(self, table: TableClient) -> None:
        self.table = table

    def _get(self, signature: str, row: str) -> dict[str, Any] | None:
        try:
            return dict(self.table.get_entity(partition_key=signature, row_key=row))
        except ResourceNotFoundError:
            return None

    def get_answer(self, signature: str, max_age: timedelta) -> dict[str, Any] | None:
        entity = self._get(signature, "answer")
        if entity is None:
            return None
        created = _parse(entity.get("created_at"))
        if created is None or _now() - created > max_age:
            return None
        data: dict[str, Any] = json.loads(str(entity.get("answer") or "{}"))
        data["_cache"] = {"created_at": entity.get("created_at"), "model": entity.get("model"),
                          "usage": json.loads(str(entity.get("usage") or "{}"))}
        return data

    def put_answer(self, signature: str, answer: dict[str, Any], model: str | None, usage: dict[str, int]) -> None:
        self.table.upsert_entity({
            "PartitionKey": signature, "RowKey": "answer", "answer": _dumps(answer), "model": model or "",
            "usage": json.dumps(usage), "created_at": _iso(_now()),
        }, mode=UpdateMode.REPLACE)

    def note_failure(self, signature: str, reason: str) -> None:
        self.table.upsert_entity({"PartitionKey": signature, "RowKey": "failure", "reason": str(redact(reason)),
                                  "at": _iso(_now())}, mode=UpdateMode.REPLACE)

    def recent_failure(self, signature: str, within: timedelta) -> str | None:
        entity = self._get(signature, "failure")
        if entity is None:
            return None
        at = _parse(entity.get("at"))
        if at is None or _now() - at > within:
            return None
        return str(entity.get("reason") or "")

    def history(self, signature: str) -> dict[str, Any]:
        entity = self._get(signature, "stats")
        if entity is None:
            return {"occurrences": 0, "first_seen": None, "last_seen": None, "recent": []}
        return {"occurrences": int(entity.get("count") or 0), "first_seen": entity.get("first_seen"),
                "last_seen": entity.get("last_seen"), "recent": json.loads(str(entity.get("recent") or "[]"))}

    def record(self, signature: str, occurrence: dict[str, Any]) -> dict[str, Any]:
        """Add one occurrence; returns the history as it was before it."""
        before = self.history(signature)
        now = _iso(_now())
        recent = [redact({**occurrence, "at": now}), *before["recent"]][:RECENT_KEEP]
        self.table.upsert_entity({
            "PartitionKey": signature, "RowKey": "stats", "count": int(before["occurrences"]) + 1,
            "first_seen": before["first_seen"] or now, "last_seen": now, "recent": _dumps(recent),
        }, mode=UpdateMode.REPLACE)
        return before
