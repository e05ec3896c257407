"""Incidents in Table Storage, exactly one per identity however often and concurrently reported.

Entity schema, table INCIDENTS_TABLE:
  PartitionKey = incident id (see shared.identity), RowKey = "incident":
    source, platform, resource, pipeline, run_id, activity, status, occurrences (int),
    first_seen, last_seen, resolved_at (ISO-8601 UTC strings), error_code, error_message (capped),
    failure_type, alert_key, alert_key_hash, identity_basis, resolved_by (alert id of the Resolved),
    links_json, failure_json | failure_ref (blob when large), verdict_json, analysis_json,
    remediation_json, notifications_json (each stage owns one *_json column).
  PartitionKey = incident id, RowKey = "occ|<alert id>": occurrence marker, one per received alert
    (`created`: whether that alert created the incident).
  PartitionKey = incident id, RowKey = "key|<alert key hash>": one per Azure Monitor alert instance
    (essentials.alertId) that reported this run, so its Resolved finds the incident whoever opened it.
  PartitionKey = incident id, RowKey = "evt|<seq, 6 digits>": one per lifecycle event (shared.lifecycle.Event):
    event, status (after it), actor, reason, time, published (bool). Written in the same transaction as the
    status change it records, so an event exists exactly when its change does.

Counting is exactly-once per received alert: the marker and the incident change are one
entity-group transaction (same partition), so a redelivered queue message cannot count twice,
and the incident update is conditional on its ETag, so concurrent writers never lose a count.
"""

from __future__ import annotations

import base64
import json
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient, TableTransactionError, UpdateMode
from azure.storage.blob import ContainerClient

from shared.identity import alert_key_digest, incident_identity
from shared.lifecycle import RESOLUTION_OF, Event, IncidentStatus, TransitionError, next_status
from shared.models import Failure, Incident
from shared.trendstats import ReadModel

INCIDENT_ROW = "incident"
MARKER_PREFIX = "occ|"
KEY_PREFIX = "key|"
EVENT_PREFIX = "evt|"
SCALAR_CAP = 1024  # ids and names come from the payload; a table property holds at most 64 KB
MESSAGE_CAP = 16_000  # characters kept in the table; the full text stays in the failure blob
FAILURE_INLINE_LIMIT = 24_000  # a property holds at most 32K UTF-16 characters
JSON_INLINE_LIMIT = 30_000  # a *_json property larger than this goes to a blob (`<name>_ref` in the row)
MAX_ATTEMPTS = 200

_JSON_FIELDS = ("links", "verdict", "analysis", "remediation", "notifications", "ownership")
_SCALAR_FIELDS = ("source", "platform", "resource", "pipeline", "run_id", "activity", "status", "occurrences",
                  "first_seen", "last_seen", "resolved_at", "error_code", "error_message", "failure_type",
                  "alert_key", "identity_basis", "resolved_by", "resolution", "resolution_reason",
                  "acknowledged_at", "acknowledged_by", "escalated_at", "event_seq", "team", "owner")
FILTERABLE = ("status", "source", "platform", "pipeline", "run_id", "team", "owner")


@dataclass(frozen=True)
class Transitioned:
    incident: Incident  # after the event
    event: Event
    seq: int
    status: str


def event_row(incident_id: str, seq: int, event: Event, status: IncidentStatus, actor: str, reason: str,
              now: str) -> dict[str, Any]:
    return {"PartitionKey": incident_id, "RowKey": EVENT_PREFIX + f"{seq:06d}", "seq": seq, "event": event.value,
            "status": status.value, "actor": actor[:SCALAR_CAP], "reason": reason[:SCALAR_CAP], "time": now,
            "published": False}


def _lifecycle_stamps(event: Event, status: IncidentStatus, actor: str, reason: str, now: str,
                      resolution: str | None) -> dict[str, Any]:
    stamps: dict[str, Any] = {}
    if status is IncidentStatus.RESOLVED and event is not Event.REOPENED:
        stamps.update(resolved_at=now, resolved_by=actor[:SCALAR_CAP], resolution_reason=reason[:SCALAR_CAP],
                      resolution=str(resolution or RESOLUTION_OF.get(event) or "by_hand"))
    if event is Event.ESCALATED:
        stamps["escalated_at"] = now
    if event is Event.ACKNOWLEDGED:
        stamps.update(acknowledged_at=now, acknowledged_by=actor[:SCALAR_CAP])
    if event is Event.REOPENED:
        stamps.update(resolved_at="", resolved_by="", resolution="", resolution_reason="")
    return stamps


@dataclass(frozen=True)
class Recorded:
    incident: Incident
    created: bool
    duplicate_delivery: bool  # this alert had already been counted (queue redelivery)
    counted_as_creation: bool = False  # on a redelivery: the earlier delivery created the incident


def _odata_quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def encode_continuation(token: Any) -> str | None:
    if not token:
        return None
    return base64.urlsafe_b64encode(json.dumps(token, sort_keys=True).encode()).decode()


def decode_continuation(token: str | None) -> Any:
    if not token:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(token.encode()).decode())
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError("continuation token is not valid") from exc
    if not isinstance(value, dict):
        raise ValueError("continuation token is not valid")
    return value


class IncidentStore:
    def __init__(self, table: TableClient, payloads: ContainerClient, read_model: ReadModel | None = None) -> None:
        self.table = table
        self.payloads = payloads
        self.read_model = read_model  # the dashboard's index and counters, updated after every write

    # --- mapping -------------------------------------------------------------------------
    def _to_entity(self, incident: Incident) -> dict[str, Any]:
        entity: dict[str, Any] = {"PartitionKey": incident.id, "RowKey": INCIDENT_ROW}
        for name in _SCALAR_FIELDS:
            value = getattr(incident, name)
            if isinstance(value, str) and name != "error_message":
                value = value[:SCALAR_CAP]
            if value is not None:
                entity[name] = value
        if incident.error_message and len(incident.error_message) > MESSAGE_CAP:
            entity["error_message"] = incident.error_message[:MESSAGE_CAP] + " [truncated]"
        if incident.alert_key:
            entity["alert_key_hash"] = alert_key_digest(incident.alert_key)
        for name in _JSON_FIELDS:
            value = getattr(incident, name)
            if value is not None:
                entity.update(self._json_property(incident.id, name, value))
        failure_json = json.dumps(incident.failure)
        if len(failure_json) > FAILURE_INLINE_LIMIT:
            blob = f"incidents/{incident.id}/failure.json"
            self.payloads.upload_blob(blob, failure_json.encode("utf-8"), overwrite=True)
            entity["failure_ref"] = f"{self.payloads.container_name}/{blob}"
        else:
            entity["failure_json"] = failure_json
        return entity

    def _from_entity(self, entity: dict[str, Any], *, load_blobs: bool = False) -> Incident:
        # "" is how a cleared property reads back (e.g. resolved_at after a reopen).
        data: dict[str, Any] = {name: (None if entity.get(name) == "" else entity.get(name)) for name in _SCALAR_FIELDS}
        data["occurrences"] = int(data.get("occurrences") or 0)
        data["event_seq"] = int(data.get("event_seq") or 0)
        for name in _JSON_FIELDS:
            raw = entity.get(f"{name}_json")
            if not raw and entity.get(f"{name}_ref"):
                raw = self.payloads.download_blob(str(entity[f"{name}_ref"]).split("/", 1)[1]).readall()
            data[name] = json.loads(raw) if raw else None
        data["links"] = data["links"] or {}
        failure: dict[str, Any] = {}
        if entity.get("failure_json"):
            failure = json.loads(entity["failure_json"])
        elif entity.get("failure_ref"):
            failure = {"ref": entity["failure_ref"]}
            if load_blobs:
                blob = str(entity["failure_ref"]).split("/", 1)[1]
                failure = json.loads(self.payloads.download_blob(blob).readall())
        data["identity_basis"] = data.get("identity_basis") or "run"
        return Incident(id=entity["PartitionKey"], failure=failure, **data)

    @staticmethod
    def new_incident(failure: Failure, now: str) -> Incident:
        incident_id, basis = incident_identity(failure)
        return Incident(
            id=incident_id, source=failure.source, platform=failure.platform, resource=failure.resource,
            pipeline=failure.pipeline, run_id=failure.run_id, activity=failure.activity,
            status=IncidentStatus.OPEN.value, occurrences=1, first_seen=now, last_seen=now, event_seq=1,
            error_code=failure.error_code, error_message=failure.message, failure_type=failure.failure_type,
            alert_key=failure.origin.get("alert_id") or None, identity_basis=basis, links=dict(failure.links),
            failure=failure.to_dict(),
        )

    # --- writes --------------------------------------------------------------------------
    def record(self, failure: Failure, alert_id: str, now: str) -> Recorded:
        """Create the failure's incident or count one more occurrence of it, exactly once per alert."""
        fresh = self.new_incident(failure, now)
        marker = {"PartitionKey": fresh.id, "RowKey": MARKER_PREFIX + alert_id, "seen": now}
        # Upserted in the same transaction: the alert instance that reported the run, for its Resolved.
        key_rows: list[tuple[str, dict[str, Any]]] = []
        if fresh.alert_key:
            key_rows = [("upsert", {"PartitionKey": fresh.id, "RowKey": KEY_PREFIX + alert_key_digest(fresh.alert_key),
                                    "seen": now})]
        for attempt in range(MAX_ATTEMPTS):
            try:
                current = self.table.get_entity(fresh.id, INCIDENT_ROW)
            except ResourceNotFoundError:
                current = None
            try:
                if current is None:
                    opened = event_row(fresh.id, 1, Event.OPENED, IncidentStatus.OPEN, "processor",
                                       f"first report (alert {alert_id})", now)
                    entity = self._to_entity(fresh)
                    self.table.submit_transaction([("create", entity), ("create", {**marker, "created": True}),
                                                   ("create", opened), *key_rows])
                    # The incident as stored (capped texts), so the stages need not read it back.
                    stored = replace(self._from_entity(entity), failure=fresh.failure)
                    if self.read_model:
                        self.read_model.recorded(stored, created=True)
                    return Recorded(stored, created=True, duplicate_delivery=False)
                count = int(current.get("occurrences") or 0) + 1
                last_seen = max(str(current.get("last_seen") or ""), now)
                update = {"PartitionKey": fresh.id, "RowKey": INCIDENT_ROW, "occurrences": count,
                          "last_seen": last_seen}
                self.table.submit_transaction([
                    ("create", {**marker, "created": False}),
                    ("update", update, {"mode": UpdateMode.MERGE, "etag": current.metadata["etag"],
                                        "match_condition": MatchConditions.IfNotModified}),
                    *key_rows,
                ])
                current.update(update)
                counted = self._from_entity(current)
                if self.read_model:
                    self.read_model.recorded(counted, created=False)
                return Recorded(counted, created=False, duplicate_delivery=False)
            except TableTransactionError as exc:
                code = getattr(exc, "error_code", None)
                if current is not None and code == "EntityAlreadyExists":
                    # The marker exists: this alert was counted by an earlier delivery.
                    earlier = self.table.get_entity(fresh.id, MARKER_PREFIX + alert_id)
                    again = self._from_entity(current)
                    if self.read_model:  # repairs what a crash right after the first delivery left undone
                        self.read_model.recorded(again, created=bool(earlier.get("created")))
                    return Recorded(again, created=False, duplicate_delivery=True,
                                    counted_as_creation=bool(earlier.get("created")))
                if code not in ("EntityAlreadyExists", "UpdateConditionNotSatisfied"):
                    raise
            # Lost a race with a concurrent writer: back off a little and read again.
            time.sleep(random.uniform(0, min(0.05 * (attempt + 1), 0.5)))
        raise RuntimeError(f"incident {fresh.id}: too much contention, giving up after {MAX_ATTEMPTS} attempts")

    def update_fields(self, incident_id: str, **fields: Any) -> None:
        """Merge stage results (verdict=..., analysis=..., status=...) into the incident row."""
        entity: dict[str, Any] = {"PartitionKey": incident_id, "RowKey": INCIDENT_ROW}
        for name, value in fields.items():
            if name in ("status", "event_seq"):
                raise ValueError(f"{name} changes only through transition() (the lifecycle)")
            entity.update(self._field_property(name, value, incident_id))
        self.table.update_entity(entity, mode=UpdateMode.MERGE)
        if self.read_model:
            self.read_model.fields_changed(self._from_entity(self.table.get_entity(incident_id, INCIDENT_ROW)))

    def store_stage_results(self, incident_id: str, fields: dict[str, Any], published: list[int],
                            incident: Incident | None = None) -> None:
        """What the processor has after running the stages, in one transaction: their fields merged into the
        incident row and the event rows it has published marked so (`mark_published`). `incident` is the one the
        stages ran on (in memory): the read model is updated from it with the fields, without a read back."""
        operations: list[Any] = []
        if fields:
            entity: dict[str, Any] = {"PartitionKey": incident_id, "RowKey": INCIDENT_ROW}
            for name, value in fields.items():
                if name in ("status", "event_seq"):
                    raise ValueError(f"{name} changes only through transition() (the lifecycle)")
                entity.update(self._field_property(name, value))
            operations.append(("update", entity, {"mode": UpdateMode.MERGE}))
        for seq in published:
            operations.append(("update", {"PartitionKey": incident_id, "RowKey": EVENT_PREFIX + f"{seq:06d}",
                                          "published": True}, {"mode": UpdateMode.MERGE}))
        if len(operations) == 1:
            _, entity, options = operations[0]
            self.table.update_entity(entity, **options)
        elif operations:
            self.table.submit_transaction(operations)
        if self.read_model and incident is not None and fields:
            self.read_model.fields_changed(replace(incident, **fields))

    # --- reads ---------------------------------------------------------------------------
    def get(self, incident_id: str) -> Incident | None:
        try:
            entity = self.table.get_entity(incident_id, INCIDENT_ROW)
        except ResourceNotFoundError:
            return None
        return self._from_entity(entity, load_blobs=True)

    def by_alert_key(self, alert_key: str) -> list[Incident]:
        """Every incident an alert instance reported (whoever opened it), resolved ones included."""
        query = f"RowKey eq {_odata_quote(KEY_PREFIX + alert_key_digest(alert_key))}"
        ids = sorted({e["PartitionKey"] for e in self.table.query_entities(query, select=["PartitionKey"])})
        return [i for i in (self.get(incident_id) for incident_id in ids) if i is not None]

    def transition(self, incident_id: str, event: Event, *, actor: str, reason: str, now: str,
                   fields: dict[str, Any] | None = None, resolution: str | None = None,
                   guard: Callable[[Incident], bool] | None = None) -> Transitioned | None:
        """Apply one lifecycle event: status change, lifecycle stamps, `fields` (e.g. remediation=...) and the
        event row, in one ETag-conditional transaction. None when the incident does not exist or `guard`
        (checked on the current state, e.g. "the plan is still waiting") says no; TransitionError when the
        event is not possible in the current status."""
        for attempt in range(MAX_ATTEMPTS):
            try:
                current = self.table.get_entity(incident_id, INCIDENT_ROW)
            except ResourceNotFoundError:
                return None
            incident = self._from_entity(current)
            if guard is not None and not guard(incident):
                return None
            status = next_status(incident.status, event)
            seq = incident.event_seq + 1
            update: dict[str, Any] = {"PartitionKey": incident_id, "RowKey": INCIDENT_ROW, "status": status.value,
                                      "event_seq": seq}
            update.update(_lifecycle_stamps(event, status, actor, reason, now, resolution))
            for name, value in (fields or {}).items():
                update.update(self._field_property(name, value, incident_id))
            row = event_row(incident_id, seq, event, status, actor, reason, now)
            try:
                self.table.submit_transaction([
                    ("update", update, {"mode": UpdateMode.MERGE, "etag": current.metadata["etag"],
                                        "match_condition": MatchConditions.IfNotModified}),
                    ("create", row),
                ])
            except TableTransactionError as exc:
                if getattr(exc, "error_code", None) not in ("UpdateConditionNotSatisfied", "EntityAlreadyExists"):
                    raise
                time.sleep(random.uniform(0, min(0.05 * (attempt + 1), 0.5)))
                continue  # changed meanwhile: read again and re-check
            current.update(update)
            after = self._from_entity(current)
            if self.read_model:
                self.read_model.transitioned(incident.status, after, event, seq, now)
            return Transitioned(after, event, seq, status.value)
        raise RuntimeError(f"incident {incident_id}: too much contention applying {event.value}")

    def resolve(self, incident_id: str, alert_id: str, now: str) -> Transitioned | None:
        """Resolve an unresolved incident because its alert sent Resolved; None when already resolved."""
        try:
            return self.transition(incident_id, Event.RESOLVED, actor=alert_id, now=now,
                                   reason="Azure Monitor sent Resolved for the alert that reported this run",
                                   resolution="by_resolve_alert")
        except TransitionError:
            return None

    def events(self, incident_id: str, after_seq: int = 0) -> list[dict[str, Any]]:
        """The incident's lifecycle events after `after_seq`, in order."""
        low = _odata_quote(EVENT_PREFIX + f"{after_seq:06d}")
        query = (f"PartitionKey eq {_odata_quote(incident_id)} and RowKey gt {low}"
                 f" and RowKey lt {_odata_quote(EVENT_PREFIX + '~')}")
        rows = [dict(e) for e in self.table.query_entities(query)]
        return sorted(rows, key=lambda e: int(e["seq"]))

    def mark_published(self, incident_id: str, seq: int) -> None:
        row = {"PartitionKey": incident_id, "RowKey": EVENT_PREFIX + f"{seq:06d}", "published": True}
        self.table.update_entity(row, mode=UpdateMode.MERGE)

    def _field_property(self, name: str, value: Any, incident_id: str = "") -> dict[str, Any]:
        if name in _JSON_FIELDS:
            return self._json_property(incident_id, name, value)
        if name in _SCALAR_FIELDS:
            if isinstance(value, str) and name != "error_message":
                value = value[:SCALAR_CAP]
            elif isinstance(value, str):
                value = value[:MESSAGE_CAP]
            return {name: value}
        raise ValueError(f"unknown incident field {name!r}")

    def _json_property(self, incident_id: str, name: str, value: Any) -> dict[str, Any]:
        """`<name>_json` inline when it fits a Table property (32K UTF-16 units); else the JSON goes to the
        payloads container and the row holds `<name>_ref` (and an empty `<name>_json`, replacing an older one)."""
        text = json.dumps(value)  # ASCII (non-ASCII is escaped), so characters = UTF-16 units
        if len(text) <= JSON_INLINE_LIMIT:
            return {f"{name}_json": text, f"{name}_ref": ""}
        if not incident_id:
            raise ValueError(f"{name} is {len(text)} characters: too large for a table property")
        blob = f"incidents/{incident_id}/{name}.json"
        self.payloads.upload_blob(blob, text.encode("utf-8"), overwrite=True)
        return {f"{name}_json": "", f"{name}_ref": f"{self.payloads.container_name}/{blob}"}

    def exists(self, incident_ids: Iterable[str]) -> set[str]:
        found = set()
        for incident_id in incident_ids:
            try:
                self.table.get_entity(incident_id, INCIDENT_ROW, select=["PartitionKey"])
                found.add(incident_id)
            except ResourceNotFoundError:
                pass
        return found

    def list(self, filters: dict[str, str], since: str | None, limit: int,
             continuation: str | None) -> tuple[list[Incident], str | None]:
        clauses = [f"RowKey eq '{INCIDENT_ROW}'"]
        for name in FILTERABLE:
            if filters.get(name):
                clauses.append(f"{name} eq {_odata_quote(filters[name])}")
        if since:
            clauses.append(f"last_seen ge {_odata_quote(since)}")
        pages = self.table.query_entities(" and ".join(clauses), results_per_page=limit).by_page(
            continuation_token=decode_continuation(continuation))
        page: Any = next(pages, [])
        items = [self._from_entity(e) for e in page]
        return items, encode_continuation(getattr(pages, "continuation_token", None))
