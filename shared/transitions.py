"""Applying lifecycle events (shared.lifecycle): the one way an incident's status changes.

`Lifecycle.apply` writes the change and its event row in one transaction (IncidentStore.transition), appends
the audit entry, and publishes the event on EVENTS_QUEUE for whoever reacts to state changes (notifications).
An event is published at least once: a crash between the write and the publish leaves the event row with
`published = false`, and `republish_pending` sends it again. Consumers deduplicate on (incident id, seq).
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from typing import Any

from azure.storage.queue import QueueClient

from shared.incidents import IncidentStore, Transitioned
from shared.lifecycle import Event, TransitionError
from shared.models import AuditAction
from shared.records import AuditLog
from shared.timeutil import utc_now_iso

log = logging.getLogger(__name__)
_watch = threading.local()


def watch_transitions() -> set[str]:
    """Collect, in this thread, the ids of incidents any Lifecycle changes from now on (until the next call).
    The processor runs the stages on an incident held in memory; it re-reads one a stage transitioned."""
    changed: set[str] = set()
    _watch.changed = changed
    return changed

AUDIT_OF: dict[Event, AuditAction] = {
    Event.OPENED: AuditAction.INCIDENT_CREATED,
    Event.REMEDIATION_PLANNED: AuditAction.REMEDIATION_PLANNED,
    Event.APPROVAL_REQUESTED: AuditAction.APPROVAL_REQUESTED,
    Event.APPROVED: AuditAction.REMEDIATION_APPROVED,
    Event.REJECTED: AuditAction.REMEDIATION_REJECTED,
    Event.REMEDIATION_STARTED: AuditAction.REMEDIATION_STARTED,
    Event.REMEDIATION_ATTEMPT_FAILED: AuditAction.REMEDIATION_FAILED,
    Event.REMEDIATION_SUCCEEDED: AuditAction.REMEDIATION_VERIFIED,
    Event.SUPERSEDED: AuditAction.INCIDENT_SUPERSEDED,
    Event.ESCALATED: AuditAction.INCIDENT_ESCALATED,
    Event.ACKNOWLEDGED: AuditAction.INCIDENT_ACKNOWLEDGED,
    Event.RESOLVED: AuditAction.INCIDENT_RESOLVED,
    Event.REOPENED: AuditAction.INCIDENT_REOPENED,
    Event.SLA_BREACHED: AuditAction.SLA_BREACHED,
}


@dataclass(frozen=True)
class EventMessage:
    """What goes on EVENTS_QUEUE (JSON, base64 as the queue trigger expects)."""

    incident_id: str
    seq: int
    event: str
    status: str
    time: str

    def to_json(self) -> str:
        return json.dumps({"incident_id": self.incident_id, "seq": self.seq, "event": self.event,
                           "status": self.status, "time": self.time})

    @classmethod
    def from_json(cls, text: str | bytes) -> EventMessage:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("event message is not a JSON object")
        return cls(incident_id=str(data["incident_id"]), seq=int(data["seq"]), event=str(data["event"]),
                   status=str(data.get("status", "")), time=str(data.get("time", "")))


class Lifecycle:
    def __init__(self, incidents: IncidentStore, audit: AuditLog, events_queue: QueueClient | None) -> None:
        self.incidents = incidents
        self.audit = audit
        self.events_queue = events_queue

    def apply(self, incident_id: str, event: Event, *, actor: str, reason: str,
              details: dict[str, Any] | None = None, **kwargs: Any) -> Transitioned | None:
        """Apply `event` (see IncidentStore.transition for kwargs: fields, resolution, guard).
        Raises shared.lifecycle.TransitionError when the event is not possible in the current status."""
        now = utc_now_iso()
        done = self.incidents.transition(incident_id, event, actor=actor, reason=reason, now=now, **kwargs)
        if done is None:
            return None
        changed: set[str] | None = getattr(_watch, "changed", None)
        if changed is not None:
            changed.add(incident_id)
        self.audit.append(incident_id, AUDIT_OF[event], actor, reason,
                          {"event": event.value, "seq": done.seq, "status": done.status, **(details or {})}, time=now)
        self.publish(EventMessage(incident_id, done.seq, event.value, done.status, now))
        return done

    def try_apply(self, incident_id: str, event: Event, **kwargs: Any) -> Transitioned | None:
        """`apply`, but None instead of TransitionError (for automatic actors that race with humans)."""
        try:
            return self.apply(incident_id, event, **kwargs)
        except TransitionError:
            return None

    def publish(self, message: EventMessage) -> None:
        if self.send(message):
            try:
                self.incidents.mark_published(message.incident_id, message.seq)
            except Exception:  # the event row stays unpublished; republish_pending sends it again (consumers dedupe)
                log.exception("marking %s of incident %s published failed", message.event, message.incident_id)

    def send(self, message: EventMessage) -> bool:
        """Put the event on the queue without marking its row published: for a caller that marks it in a write
        it makes anyway (the processor, with the stage results). False when it could not be sent."""
        if self.events_queue is None:
            return False
        try:
            self.events_queue.send_message(message.to_json())
        except Exception:  # the event row stays unpublished; republish_pending sends it later
            log.exception("publishing %s of incident %s failed", message.event, message.incident_id)
            return False
        return True

    def republish_pending(self, incident_id: str) -> int:
        """Publish the incident's events that were written but not published (after a crash)."""
        sent = 0
        for row in self.incidents.events(incident_id):
            if not row.get("published"):
                self.publish(EventMessage(incident_id, int(row["seq"]), str(row["event"]), str(row["status"]),
                                          str(row["time"])))
                sent += 1
        return sent
