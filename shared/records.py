"""Alert records and the audit trail in Table Storage.

Table ALERTS_TABLE, PartitionKey = alert (envelope) id, RowKey = "alert":
  source, status (processed | ignored | failed), received_at, processed_at,
  incident_ids_json, ignored_reason, error.
Table AUDIT_TABLE, PartitionKey = subject id (incident id, or alert id for alert-level events),
  RowKey = "<ISO time>|<random>" so a partition reads back in time order:
  action (shared.models.AuditAction), actor, reason, time, details_json.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from shared.models import AlertRecord, AuditAction, AuditEntry
from shared.redaction import redact_text
from shared.timeutil import utc_now_iso

ALERT_ROW = "alert"
# Table properties hold at most 64 KB; texts that come from payloads or exceptions are capped.
TEXT_CAP = 8000
DETAILS_CAP = 30_000
MAX_BATCH = 50  # rows per entity-group transaction (100 allowed; 50 keeps capped rows under its 4 MiB)


class AlertStore:
    def __init__(self, table: TableClient) -> None:
        self.table = table

    def put(self, record: AlertRecord) -> None:
        entity = {
            "PartitionKey": record.id, "RowKey": ALERT_ROW, "source": record.source, "status": record.status,
            "received_at": record.received_at, "processed_at": record.processed_at,
            "incident_ids_json": json.dumps(record.incident_ids), "dropped_failures": record.dropped_failures,
        }
        if record.ignored_reason:
            entity["ignored_reason"] = redact_text(record.ignored_reason)[:TEXT_CAP]
        if record.error:
            entity["error"] = redact_text(record.error)[:TEXT_CAP]
        self.table.upsert_entity(entity, mode=UpdateMode.REPLACE)

    def get(self, alert_id: str) -> AlertRecord | None:
        try:
            e = self.table.get_entity(alert_id, ALERT_ROW)
        except ResourceNotFoundError:
            return None
        return AlertRecord(
            id=alert_id, source=e.get("source", ""), status=e.get("status", ""),
            received_at=e.get("received_at", ""), processed_at=e.get("processed_at", ""),
            incident_ids=json.loads(e.get("incident_ids_json") or "[]"),
            ignored_reason=e.get("ignored_reason"), error=e.get("error"),
            dropped_failures=int(e.get("dropped_failures") or 0),
        )


class AuditLog:
    def __init__(self, table: TableClient) -> None:
        self.table = table

    def append(self, subject_id: str, action: AuditAction, actor: str, reason: str,
               details: dict[str, Any] | None = None, time: str | None = None) -> AuditEntry:
        entry = AuditEntry(subject_id=subject_id, action=action, actor=actor, reason=reason,
                           time=time or utc_now_iso(), details=details or {})
        return self.append_many(subject_id, [entry])[0]

    def append_many(self, subject_id: str, entries: list[AuditEntry]) -> list[AuditEntry]:
        """Append entries of one subject in one entity-group transaction (its partition): all or none."""
        stored: list[AuditEntry] = []
        rows: list[dict[str, Any]] = []
        for entry in entries:
            entry = AuditEntry(subject_id=subject_id, action=entry.action, actor=entry.actor,
                               reason=redact_text(entry.reason)[:TEXT_CAP], time=entry.time or utc_now_iso(),
                               details=entry.details)
            details_json = redact_text(json.dumps(entry.details, default=str))
            if len(details_json) > DETAILS_CAP:
                # Half: dumping the cut text again doubles every quote and backslash (a property holds 32K).
                details_json = json.dumps({"truncated": details_json[:DETAILS_CAP // 2]})
            rows.append({
                "PartitionKey": subject_id, "RowKey": f"{entry.time}|{uuid.uuid4().hex[:12]}",
                "action": entry.action.value, "actor": entry.actor[:TEXT_CAP], "reason": entry.reason,
                "time": entry.time,
                "details_json": details_json,
            })
            stored.append(entry)
        if len(rows) == 1:
            self.table.create_entity(rows[0])
        for start in range(0, len(rows) if len(rows) > 1 else 0, MAX_BATCH):
            self.table.submit_transaction([("create", row) for row in rows[start:start + MAX_BATCH]])
        return stored

    def has(self, subject_id: str, action: AuditAction, alert_id: str) -> bool:
        """Whether the subject's trail already records `action` for this received alert."""
        return any(e.action is action and e.details.get("alert_id") == alert_id for e in self.trail(subject_id))

    def trail(self, subject_id: str) -> list[AuditEntry]:
        query = "PartitionKey eq '" + subject_id.replace("'", "''") + "'"
        entries = []
        for e in self.table.query_entities(query):
            try:
                action = AuditAction(str(e.get("action")))
            except ValueError:
                continue
            entries.append(AuditEntry(subject_id=subject_id, action=action, actor=e.get("actor", ""),
                                      reason=e.get("reason", ""), time=e.get("time", ""),
                                      details=json.loads(e.get("details_json") or "{}")))
        return sorted(entries, key=lambda a: a.time)
