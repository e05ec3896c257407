"""PagerDuty Events API v2: trigger on opening / escalation, acknowledge, resolve; the incident id is the
dedup_key, so every event of one incident lands on one PagerDuty incident."""

from __future__ import annotations

from typing import Any

from notify.channels.base import Channel, Delivery, HttpPoster, check_response
from notify.message import Message
from shared.lifecycle import Event

SEVERITY = {"P1": "critical", "P2": "error", "P3": "warning", "P4": "info"}
ACTION = {Event.ACKNOWLEDGED: "acknowledge", Event.RESOLVED: "resolve", Event.SUPERSEDED: "resolve",
          Event.REMEDIATION_SUCCEEDED: "resolve"}
TRIGGERS = frozenset({Event.OPENED, Event.ESCALATED, Event.REOPENED, Event.SLA_BREACHED,
                      Event.APPROVAL_REQUESTED, Event.REMEDIATION_ATTEMPT_FAILED})


def event_body(message: Message, routing_key: str) -> dict[str, Any] | None:
    """The Events v2 body for this message, or None when the event means nothing to PagerDuty."""
    action = ACTION.get(message.event) or ("trigger" if message.event in TRIGGERS else None)
    if action is None:
        return None
    body: dict[str, Any] = {"routing_key": routing_key, "event_action": action, "dedup_key": message.incident_id}
    if action == "trigger":
        facts = dict(message.facts)
        body["payload"] = {
            "summary": message.title[:1024], "source": facts.get("Resource", "pipeline-incidents")[:255],
            "severity": SEVERITY.get(message.priority, "error"), "component": facts.get("Pipeline", "")[:255],
            "group": facts.get("Team", "")[:255], "class": facts.get("Category", "")[:255],
            "custom_details": {"facts": facts, "root_cause": message.rca, "plan": message.plan,
                               "error": message.error_text[:4000]},
        }
        body["links"] = [{"href": link.url, "text": link.title} for link in message.links]
    return body


class PagerDutyChannel(Channel):
    name = "pagerduty"

    def __init__(self, url: str, routing_key: str, timeout: float) -> None:
        if not routing_key:
            raise ValueError("PAGERDUTY_ROUTING_KEY is not set")
        self.url = url
        self.routing_key = routing_key
        self.http = HttpPoster(timeout)

    def send(self, message: Message) -> Delivery:
        body = event_body(message, self.routing_key)
        if body is None:
            return Delivery("skipped", f"{message.event.value} is not sent to PagerDuty")
        resp = self.http.request("POST", self.url, "PagerDuty", json=body)
        check_response(resp, "PagerDuty", ok=(200, 201, 202))
        return Delivery("sent", f"{body['event_action']} dedup_key={message.incident_id}",
                        http_status=resp.status_code, extra={"dedup_key": message.incident_id})
