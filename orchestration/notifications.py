"""Notifications, driven by lifecycle events: fan-out of each event onto one delivery message per routed
channel (NOTIFY_QUEUE), delivery with at-most-once claims, bounded retries honouring Retry-After (as a
visibility delay on a new message, never a sleep), and the attempt log.

    EVENTS_QUEUE --fan_out--> NOTIFY_QUEUE (one message per channel) --deliver--> channel
"""

from __future__ import annotations

import json
import logging
import math
import threading
import weakref
from dataclasses import asdict, dataclass, replace
from typing import Any

from notify.channels import build_channels, enabled_names
from notify.channels.base import Channel, DeliveryError
from notify.ledger import NotificationLedger
from notify.message import RESOLVING, Message, render
from notify.routing import load_or_shipped, route
from orchestration.runtime import Services
from shared.config import SETTINGS
from shared.lifecycle import Event, is_unresolved
from shared.models import Incident
from shared.timeutil import parse_iso, utc_now
from shared.transitions import EventMessage

log = logging.getLogger(__name__)
LEASE_SECONDS = 120  # a sender that died mid-send is taken over by a later delivery after this
OPENED_SEQ = 1  # IncidentStore.record writes "opened" as event 1
QUIETED = "quieted"
OPENED_WAIT_FOR_STAGES_S = 60  # an "opened" waits this long at most for classification and analysis
REASON_EVENTS = frozenset(Event) - {Event.OPENED}


@dataclass(frozen=True)
class DeliveryJob:
    """One channel's share of one event (a NOTIFY_QUEUE message)."""

    incident_id: str
    seq: int
    event: str
    channel: str
    attempt: int = 1
    burst: str | None = None  # group of a folded burst (its leader sends)
    bucket: int = 0
    waited: bool = False  # a resolving event already waited once for its "opened" to go out

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str | bytes) -> DeliveryJob:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("delivery message is not a JSON object")
        return cls(incident_id=str(data["incident_id"]), seq=int(data["seq"]), event=str(data["event"]),
                   channel=str(data["channel"]), attempt=int(data.get("attempt", 1)),
                   burst=data.get("burst"), bucket=int(data.get("bucket", 0)), waited=bool(data.get("waited")))


class Notifier:
    """Per-process: routing rules, channels, ledger (built once per Services)."""

    def __init__(self, svc: Services) -> None:
        s = svc.settings
        self.svc = svc
        self.rules = load_or_shipped(s.get("NOTIFY_ROUTING_FILE") or None)
        self.channels, self.problems = build_channels(s)
        self.enabled = enabled_names(s)
        self.ledger = NotificationLedger(svc.storage.table(s.notifications_table))
        self.queue = svc.storage.queue(s.notify_queue)
        self.quiet = s.int_setting("NOTIFY_QUIET_SECONDS")
        self.max_attempts = s.int_setting("NOTIFY_MAX_ATTEMPTS")
        self.max_delay = s.int_setting("NOTIFY_MAX_RETRY_AFTER_SECONDS")
        self.retry_base = s.int_setting("NOTIFY_RETRY_BASE_SECONDS")
        self.incident_url = s.get("NOTIFY_INCIDENT_URL")
        # This app's own secrets (routing key, tokens, webhook URLs) have shapes no redaction rule knows; a
        # service that echoes the request in its error answer must not put them into the log.
        values = {s.get(setting.name) for setting in SETTINGS if setting.secret}
        self.secrets = sorted((v for v in values if len(v) >= 6), key=len, reverse=True)

    def scrub(self, detail: str) -> str:
        for secret in self.secrets:
            detail = detail.replace(secret, "[REDACTED]")
        return detail

    # --- fan-out -----------------------------------------------------------------------------
    def fan_out(self, message: EventMessage) -> list[str]:
        """Enqueue one delivery per routed, enabled channel; returns the channels. Idempotent downstream:
        a republished event enqueues again and the claims send nothing twice."""
        try:
            event = Event(message.event)
        except ValueError:
            log.warning("ignoring unknown event %r of incident %s", message.event, message.incident_id)
            return []
        incident = self.svc.incidents.get(message.incident_id)
        if incident is None:
            return []
        if self._waits_for_stages(incident, event, 1):
            # Routing looks at severity and category: let classification finish first (bounded by age).
            self.svc.storage.queue(self.svc.settings.events_queue).send_message(message.to_json(),
                                                                                visibility_timeout=5)
            return []
        decision = route(self.rules, incident, event.value)
        # Jira hears an event only when it creates the issue now, or an issue exists or is being created.
        create_on = decision.create_ticket_on
        jira = "jira" in decision.channels and (
            event.value in create_on or self._ticket_expected(incident, message.seq, create_on))
        channels = [c for c in decision.channels if c in self.enabled and (c != "jira" or jira)]
        if not channels:
            return []
        burst, bucket, delay = None, 0, 0
        if event is Event.OPENED and self.quiet > 0:
            burst = f"{incident.platform}|{incident.resource}".lower()
            bucket = math.floor(parse_iso(message.time).timestamp() / self.quiet)
            leader = self.ledger.join_burst(burst, bucket, incident.id)
            if leader != incident.id:
                for channel in channels:
                    self.ledger.record(incident.id, seq=message.seq, event=event.value, channel=channel, attempt=0,
                                       outcome="folded", detail=f"announced in the message of incident {leader}")
                return []
            delay = self.quiet
        for channel in channels:
            self.queue.send_message(DeliveryJob(incident.id, message.seq, event.value, channel, 1, burst, bucket)
                                    .to_json(), visibility_timeout=delay or None)
        return channels

    # --- delivery ----------------------------------------------------------------------------
    def deliver(self, job: DeliveryJob) -> str:
        """Send one delivery unless it was sent (or is being sent) already; returns the outcome."""
        incident = self.svc.incidents.get(job.incident_id)
        if incident is None:
            return "no_incident"
        event = Event(job.event)
        if self._waits_for_stages(incident, event, job.attempt):
            self.queue.send_message(job.to_json(), visibility_timeout=5)
            return "deferred"
        if event in RESOLVING and job.attempt == 1:
            opened = self.ledger.claim_state(job.incident_id, OPENED_SEQ, job.channel)
            if opened is None and not job.waited and self.quiet > 0:
                # The "opened" may still sit out its quiet period: let it go first (once).
                self.queue.send_message(replace(job, waited=True).to_json(), visibility_timeout=self.quiet + 5)
                return "deferred"
            if opened == QUIETED:
                return self._claim_and_finish(job, "skipped", "its opening was never announced (quiet period)")
        if job.channel == "jira" and not job.waited and self._ticket_pending(incident, job.seq):
            # The issue is still being created by an earlier event: comment on it once it exists.
            self.queue.send_message(replace(job, waited=True).to_json(), visibility_timeout=15)
            return "deferred"
        if event is Event.OPENED and not is_unresolved(incident.status):
            # Resolved within the quiet period: nothing to announce (Alertmanager's group_wait behaves so).
            return self._claim_and_finish(job, QUIETED, "resolved within the quiet period; not announced")
        if not self.ledger.claim(job.incident_id, job.seq, job.channel, job.attempt, LEASE_SECONDS):
            return "duplicate"
        channel = self.channels.get(job.channel)
        if channel is None:
            return self._finish(job, "failed", self.problems.get(job.channel, "channel not enabled"))
        try:
            message = self.message(incident, event, job)
        except Exception as exc:  # a rendering bug must not lose the other channels or retry forever
            log.exception("rendering %s for %s failed", job.event, job.incident_id)
            return self._finish(job, "failed", f"rendering failed: {type(exc).__name__}")
        return self._send(channel, message, job)

    @staticmethod
    def _ticket_ref(incident: Incident) -> str | None:
        return next((str(n["ref"]) for n in incident.notifications or [] if n.get("channel") == "jira"
                     and n.get("ref")), None)

    def _create_seqs(self, incident: Incident, before: int, create_on: frozenset[str]) -> list[int]:
        """Earlier events of the incident that create a Jira issue."""
        return [int(row["seq"]) for row in self.svc.incidents.events(incident.id)
                if int(row["seq"]) < before and str(row["event"]) in create_on]

    def _ticket_expected(self, incident: Incident, seq: int, create_on: frozenset[str]) -> bool:
        return self._ticket_ref(incident) is not None or bool(self._create_seqs(incident, seq, create_on))

    def _ticket_pending(self, incident: Incident, seq: int) -> bool:
        """An earlier event's delivery is still creating the issue (not claimed yet, sending or retrying)."""
        if self._ticket_ref(incident) is not None:
            return False
        create_on = route(self.rules, incident, Event.ESCALATED.value).create_ticket_on
        claims = self.ledger.channel_claims(incident.id, "jira")
        return any(claims.get(s) in (None, "sending", "retry") for s in self._create_seqs(incident, seq, create_on))

    def _claim_and_finish(self, job: DeliveryJob, outcome: str, detail: str) -> str:
        if not self.ledger.claim(job.incident_id, job.seq, job.channel, job.attempt, LEASE_SECONDS):
            return "duplicate"
        return self._finish(job, outcome, detail)

    def _waits_for_stages(self, incident: Incident, event: Event, attempt: int) -> bool:
        if event is not Event.OPENED or incident.verdict is not None or attempt > 1:
            return False
        return (utc_now() - parse_iso(incident.first_seen)).total_seconds() < OPENED_WAIT_FOR_STAGES_S

    def message(self, incident: Incident, event: Event, job: DeliveryJob) -> Message:
        decision = route(self.rules, incident, event.value)
        folded = []
        if job.burst:
            folded = [m for m in self.ledger.burst_members(job.burst, job.bucket) if m != incident.id]
        refs = {str(n["channel"]): str(n["ref"]) for n in incident.notifications or [] if n.get("ref")}
        extra = ""
        if event in REASON_EVENTS:
            rows = self.svc.incidents.events(incident.id, after_seq=job.seq - 1)
            extra = str(rows[0].get("reason") or "") if rows and int(rows[0]["seq"]) == job.seq else ""
        return render(incident, event, job.seq, incident_url=self.incident_url, priority=decision.priority,
                      folded=folded, recipients=decision.recipients, refs=refs,
                      create_ticket=event.value in decision.create_ticket_on, extra=extra[:300])

    def _send(self, channel: Channel, message: Message, job: DeliveryJob) -> str:
        try:
            result = channel.send(message)
        except DeliveryError as exc:
            if exc.retryable and job.attempt < self.max_attempts:
                backoff = self.retry_base * 2.0 ** (job.attempt - 1)
                delay = min(float(self.max_delay), exc.retry_after if exc.retry_after is not None else backoff)
                return self._retry(job, str(exc), delay, exc.http_status)
            return self._finish(job, "failed", str(exc), exc.http_status)
        except Exception as exc:
            log.exception("channel %s failed on %s", job.channel, job.incident_id)
            return self._finish(job, "failed", f"{type(exc).__name__}: {exc}")
        if result.ref and job.channel == "jira":
            self._remember_ref(message.incident_id, job.channel, result.ref)
        return self._finish(job, result.status, result.detail, result.http_status)

    def _retry(self, job: DeliveryJob, detail: str, delay: float, http_status: int | None) -> str:
        detail = self.scrub(detail)
        self.ledger.finish(job.incident_id, job.seq, job.channel, "retry", job.attempt)
        self.ledger.record(job.incident_id, seq=job.seq, event=job.event, channel=job.channel, attempt=job.attempt,
                           outcome="retry", detail=detail, http_status=http_status, retry_in=round(delay, 1))
        again = DeliveryJob(job.incident_id, job.seq, job.event, job.channel, job.attempt + 1, job.burst, job.bucket)
        # The queue's visibility timeout is whole seconds; round up so Retry-After is never cut short.
        self.queue.send_message(again.to_json(), visibility_timeout=max(1, math.ceil(delay)))
        return "retry"

    def _finish(self, job: DeliveryJob, outcome: str, detail: str, http_status: int | None = None) -> str:
        detail = self.scrub(detail)
        self.ledger.finish(job.incident_id, job.seq, job.channel, outcome, job.attempt)
        self.ledger.record(job.incident_id, seq=job.seq, event=job.event, channel=job.channel, attempt=job.attempt,
                           outcome=outcome, detail=detail, http_status=http_status)
        if outcome == "failed":
            log.error("notification %s #%s on %s failed: %s", job.incident_id, job.seq, job.channel, detail)
        return outcome

    def _remember_ref(self, incident_id: str, channel: str, ref: str) -> None:
        incident = self.svc.incidents.get(incident_id)
        notes = [n for n in (incident.notifications if incident else None) or [] if n.get("channel") != channel]
        self.svc.incidents.update_fields(incident_id, notifications=[*notes, {"channel": channel, "ref": ref}])
        self.ledger.remember_issue(ref, incident_id)


_lock = threading.Lock()
# One Notifier per Services (in practice one per process). Keyed by id with a weak reference to check it is
# still the same object: Services is an unhashable dataclass, and an id can be reused after collection.
_notifiers: dict[int, tuple[weakref.ref[Services], Notifier]] = {}


def notifier(svc: Services) -> Notifier:
    with _lock:
        known = _notifiers.get(id(svc))
        if known is None or known[0]() is not svc:
            for key in [k for k, (ref, _) in _notifiers.items() if ref() is None]:
                del _notifiers[key]
            known = (weakref.ref(svc), Notifier(svc))
            _notifiers[id(svc)] = known
        return known[1]


def handle_event(svc: Services, body: str | bytes) -> list[str]:
    """EVENTS_QUEUE trigger body. A malformed message is logged and dropped (retrying cannot fix it)."""
    try:
        message = EventMessage.from_json(body)
    except (ValueError, KeyError, TypeError) as exc:
        log.error("dropping a malformed event message: %s", exc)
        return []
    svc.ensure_ready()
    return notifier(svc).fan_out(message)


def handle_delivery(svc: Services, body: str | bytes) -> str:
    try:
        job = DeliveryJob.from_json(body)
        Event(job.event)
    except (ValueError, KeyError, TypeError) as exc:
        log.error("dropping a malformed delivery message: %s", exc)
        return "malformed"
    svc.ensure_ready()
    return notifier(svc).deliver(job)


def notification_log(svc: Services, incident_id: str) -> list[dict[str, Any]]:
    return notifier(svc).ledger.log_for(incident_id)
