"""The notification ledger in Table Storage (NOTIFICATIONS_TABLE): claims that make each notification go out
at most once, the log of every attempt, bursts folded into one message, SLA breach claims, Jira keys.

  PK = incident id, RK = "claim|<seq 6>|<channel>": state (sending | retry | sent | skipped | quieted | failed),
       attempt, lease_until. Created insert-only: of two deliveries of one (incident, seq, channel) only one
       wins; a retry takes it over with an ETag-conditional update, only for the next attempt number.
  PK = incident id, RK = "log|<time>|<channel>|<seq>|<attempt>": one row per attempt (the sent log).
  PK = "burst|<digest>", RK = "<bucket>": the leader of a burst; RK = "<bucket>|m|<incident id>": members.
  PK = incident id, RK = "sla|<kind>": the breach of that SLA target was announced.
  PK = "jira", RK = <issue key>: the incident an issue belongs to (for the inbound webhook).
  PK = "jira-webhook", RK = sha256 of a signed inbound body: handled already (replays change nothing).
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from shared.redaction import redact_text
from shared.timeutil import parse_iso, to_iso, utc_now, utc_now_iso

DETAIL_CAP = 1000


def _q(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def claim_key(seq: int, channel: str) -> str:
    return f"claim|{seq:06d}|{channel}"


class NotificationLedger:
    def __init__(self, table: TableClient) -> None:
        self.table = table

    # --- at most once per (incident, seq, channel) ---------------------------------------
    def claim(self, incident_id: str, seq: int, channel: str, attempt: int, lease_seconds: float) -> bool:
        """Whether this delivery may send now. False for a duplicate, a finished one, or a stale attempt."""
        now = utc_now()
        lease = to_iso(now + timedelta(seconds=lease_seconds))
        row = {"PartitionKey": incident_id, "RowKey": claim_key(seq, channel), "state": "sending",
               "attempt": attempt, "lease_until": lease}
        try:
            self.table.create_entity(row)
            return True
        except ResourceExistsError:
            pass
        try:
            current = self.table.get_entity(incident_id, claim_key(seq, channel))
        except ResourceNotFoundError:
            return False
        state, last = str(current.get("state")), int(current.get("attempt") or 0)
        next_try = state == "retry" and attempt == last + 1
        # A sender that died mid-send leaves "sending"; after its lease the next attempt may take over.
        abandoned = state == "sending" and attempt >= last and parse_iso(str(current["lease_until"])) < now
        if not (next_try or abandoned):
            return False
        try:
            self.table.update_entity(row, mode=UpdateMode.REPLACE, etag=current.metadata["etag"],
                                     match_condition=MatchConditions.IfNotModified)
        except (ResourceModifiedError, ResourceNotFoundError):
            return False  # someone else took it
        return True

    def finish(self, incident_id: str, seq: int, channel: str, state: str, attempt: int) -> None:
        self.table.upsert_entity({"PartitionKey": incident_id, "RowKey": claim_key(seq, channel), "state": state,
                                  "attempt": attempt, "lease_until": utc_now_iso()}, mode=UpdateMode.REPLACE)

    def claim_state(self, incident_id: str, seq: int, channel: str) -> str | None:
        try:
            return str(self.table.get_entity(incident_id, claim_key(seq, channel)).get("state"))
        except ResourceNotFoundError:
            return None

    def channel_claims(self, incident_id: str, channel: str) -> dict[int, str]:
        """seq -> claim state of the incident's deliveries on `channel`."""
        query = f"PartitionKey eq {_q(incident_id)} and RowKey ge 'claim|' and RowKey lt 'claim|~'"
        return {int(str(e["RowKey"]).split("|")[1]): str(e.get("state")) for e in self.table.query_entities(query)
                if str(e["RowKey"]).endswith(f"|{channel}")}

    # --- the log ---------------------------------------------------------------------------
    def record(self, incident_id: str, *, seq: int, event: str, channel: str, attempt: int, outcome: str,
               detail: str = "", http_status: int | None = None, retry_in: float | None = None) -> dict[str, Any]:
        now = utc_now_iso()
        entry: dict[str, Any] = {"time": now, "channel": channel, "seq": seq, "event": event, "attempt": attempt,
                                 "outcome": outcome, "detail": redact_text(detail)[:DETAIL_CAP]}
        if http_status is not None:
            entry["http_status"] = http_status
        if retry_in is not None:
            entry["retry_in_seconds"] = retry_in
        self.table.create_entity({"PartitionKey": incident_id,
                                  "RowKey": f"log|{now}|{channel}|{seq:06d}|{attempt}|{uuid.uuid4().hex[:6]}",
                                  **entry})
        return entry

    def log_for(self, incident_id: str) -> list[dict[str, Any]]:
        query = f"PartitionKey eq {_q(incident_id)} and RowKey ge 'log|' and RowKey lt 'log|~'"
        keys = ("time", "channel", "seq", "event", "attempt", "outcome", "detail", "http_status", "retry_in_seconds")
        rows = [{k: e[k] for k in keys if k in e} for e in self.table.query_entities(query)]
        return sorted(rows, key=lambda r: str(r["time"]))

    # --- bursts ----------------------------------------------------------------------------
    @staticmethod
    def burst_partition(group: str) -> str:
        return "burst|" + hashlib.sha256(group.encode()).hexdigest()[:32]

    def join_burst(self, group: str, bucket: int, incident_id: str) -> str:
        """Join the burst of `group` in time bucket `bucket`; returns the leader's incident id (who sends)."""
        pk = self.burst_partition(group)
        self.table.upsert_entity({"PartitionKey": pk, "RowKey": f"{bucket}|m|{incident_id}",
                                  "incident_id": incident_id}, mode=UpdateMode.REPLACE)
        try:
            self.table.create_entity({"PartitionKey": pk, "RowKey": str(bucket), "leader": incident_id})
            return incident_id
        except ResourceExistsError:
            return str(self.table.get_entity(pk, str(bucket))["leader"])

    def burst_members(self, group: str, bucket: int) -> list[str]:
        pk = self.burst_partition(group)
        query = f"PartitionKey eq {_q(pk)} and RowKey ge {_q(f'{bucket}|m|')} and RowKey lt {_q(f'{bucket}|m|~')}"
        return sorted(str(e["incident_id"]) for e in self.table.query_entities(query))

    # --- once-only markers (SLA breaches) and Jira keys -------------------------------------
    def mark_once(self, incident_id: str, marker: str) -> bool:
        try:
            self.table.create_entity({"PartitionKey": incident_id, "RowKey": marker, "time": utc_now_iso()})
            return True
        except ResourceExistsError:
            return False

    def webhook_seen(self, digest: str) -> bool:
        try:
            self.table.get_entity("jira-webhook", digest)
            return True
        except ResourceNotFoundError:
            return False

    def remember_webhook(self, digest: str) -> None:
        self.table.upsert_entity({"PartitionKey": "jira-webhook", "RowKey": digest, "time": utc_now_iso()})

    def remember_issue(self, key: str, incident_id: str) -> None:
        self.table.upsert_entity({"PartitionKey": "jira", "RowKey": key, "incident_id": incident_id})

    def incident_of_issue(self, key: str) -> str | None:
        try:
            return str(self.table.get_entity("jira", key)["incident_id"])
        except ResourceNotFoundError:
            return None
