"""Notification edges: the inbound Jira webhook, the SLA timer and the SLA read API."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import azure.functions as func

from notify import sla
from notify.jira_inbound import parse, signature_ok
from notify.routing import route
from orchestration.api import _error, _services_or_503, json_response, read_storage
from orchestration.notifications import notifier
from orchestration.runtime import Services, services
from shared.lifecycle import Event, IncidentStatus, Resolution
from shared.models import Incident
from shared.timeutil import to_iso, utc_now

log = logging.getLogger(__name__)
SLA_READ_CAP = 5000


def jira_webhook(req: func.HttpRequest) -> func.HttpResponse:
    """Anonymous route, authenticated by the HMAC of the raw body; a Done issue resolves its incident."""
    svc = _services_or_503()
    if isinstance(svc, func.HttpResponse):
        return svc
    body = req.get_body()
    if not signature_ok(svc.settings.get("JIRA_WEBHOOK_SECRET"), body, req.headers.get("X-Hub-Signature")):
        return _error(401, "invalid_signature", "X-Hub-Signature is missing or does not match the body")
    try:
        change = parse(body, (svc.settings.get("JIRA_DONE"),))
    except ValueError:
        return _error(400, "invalid_json", "the body is not JSON")
    if change is None or not change.key:
        return json_response(200, {"ignored": "not an issue status change"})
    if not change.done:
        return json_response(200, {"ignored": f"{change.key} is {change.status!r}, not done"})

    digest = hashlib.sha256(body).hexdigest()

    def act(s: Services) -> func.HttpResponse:
        ledger = notifier(s).ledger
        # Only an issue this app created (its key is in the ledger) moves an incident: a label can be put on
        # any issue by anyone who edits issues, so it never decides which incident a webhook resolves.
        incident_id = ledger.incident_of_issue(change.key)
        if not incident_id:
            return json_response(200, {"ignored": f"{change.key} belongs to no incident"})
        # A signed body is valid forever: each one acts once (a replay after a reopen must not resolve again).
        # Remembered after acting, so a delivery that failed on storage is still acted on when Jira retries.
        if ledger.webhook_seen(digest):
            return json_response(200, {"ignored": "this webhook delivery was handled already"})
        done = s.lifecycle.try_apply(incident_id, Event.RESOLVED, actor="jira",
                                     reason=f"Jira issue {change.key} moved to {change.status}",
                                     resolution=Resolution.BY_HAND.value, details={"jira_issue": change.key})
        ledger.remember_webhook(digest)
        incident = s.incidents.get(incident_id)
        return json_response(200, {"incident_id": incident_id, "changed": done is not None,
                                   "status": incident.status if incident else None})

    return read_storage(act)


def _unresolved(svc: Services, cap: int) -> Iterator[Incident]:
    seen = 0
    for status in (IncidentStatus.OPEN, IncidentStatus.REMEDIATING, IncidentStatus.ESCALATED):
        token = None
        while True:
            items, token = svc.incidents.list({"status": status.value}, None, 200, token)
            for incident in items:
                if seen >= cap:
                    return
                seen += 1
                yield incident
            if not token:
                break


def check_sla(svc: Services) -> list[tuple[str, str]]:
    """Apply SLA_BREACHED once per missed target of each unresolved incident; republish unpublished events.
    Returns the (incident id, target) breaches announced now."""
    svc.ensure_ready()
    n = notifier(svc)
    s = svc.settings
    ack, resolve = sla.parse_targets(s.get("SLA_ACK_MINUTES")), sla.parse_targets(s.get("SLA_RESOLVE_MINUTES"))
    now = utc_now()
    announced = []
    for incident in _unresolved(svc, s.int_setting("SLA_MAX_INCIDENTS")):
        try:
            svc.lifecycle.republish_pending(incident.id)
        except Exception:  # one incident's storage hiccup must not stop the check
            log.exception("republishing events of %s failed", incident.id)
        priority = route(n.rules, incident, Event.SLA_BREACHED.value).priority
        for kind in sla.missed(incident, priority, now, ack, resolve):
            if not n.ledger.mark_once(incident.id, f"sla|{kind}"):
                continue
            target = (ack if kind == sla.ACK else resolve)[priority]
            svc.lifecycle.try_apply(incident.id, Event.SLA_BREACHED, actor="sla",
                                    reason=f"{priority} time-to-{kind} target of {target:g} min missed",
                                    details={"target": kind, "priority": priority, "minutes": target})
            announced.append((incident.id, kind))
    return announced


def run_sla_check() -> None:
    breaches = check_sla(services())
    if breaches:
        log.warning("SLA breaches announced: %s", breaches)


def sla_report(req: func.HttpRequest) -> func.HttpResponse:
    """MTTA / MTTR per pipeline, per team and overall, over incidents last seen in the last `days` (30)."""
    try:
        days = int(req.params.get("days") or 30)
    except ValueError:
        return _error(400, "invalid_days", "days must be an integer")
    if not 1 <= days <= 366:
        return _error(400, "invalid_days", "days must be between 1 and 366")

    def query(svc: Services) -> func.HttpResponse:
        since = to_iso(utc_now() - timedelta(days=days))
        items: list[Incident] = []
        token = None
        while len(items) < SLA_READ_CAP:
            page, token = svc.incidents.list({}, since, 1000, token)
            items += page
            if not token:
                break
        targets = {"acknowledge": sla.parse_targets(svc.settings.get("SLA_ACK_MINUTES")),
                   "resolve": sla.parse_targets(svc.settings.get("SLA_RESOLVE_MINUTES"))}
        body: dict[str, Any] = {"since": since, **sla.metrics(items[:SLA_READ_CAP]), "targets_minutes": targets}
        return json_response(200, body)

    return read_storage(query)
