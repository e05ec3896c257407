"""Test wiring for the notification tests: capture servers, settings pointing at them, queue draining."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from orchestration import notifications
from orchestration.runtime import Services
from shared.config import Settings
from tools.simulators.capture import CaptureServer, SmtpCapture

ROUTING = """
[defaults]
channels = ["console", "teams", "slack", "email", "pagerduty", "jira"]
events = ["opened", "approval_requested", "remediation_attempt_failed", "remediation_succeeded", "superseded",
          "escalated", "sla_breached", "resolved", "reopened", "acknowledged"]
jira_create_on = ["escalated", "sla_breached"]

[channel_events]
teams = ["opened", "approval_requested", "escalated", "sla_breached", "resolved", "superseded", "remediation_succeeded"]
slack = ["opened", "escalated", "sla_breached", "resolved", "superseded", "remediation_succeeded"]
email = ["opened", "escalated", "sla_breached", "resolved"]

[priority]
high = "P2"
medium = "P3"

[[ownership]]
team = "data-platform"
owner = "oncall@contoso.example"
"""


@dataclass
class Captures:
    teams: CaptureServer
    slack: CaptureServer
    pagerduty: CaptureServer
    jira: CaptureServer
    smtp: SmtpCapture

    def values(self, routing_file: Path) -> dict[str, str]:
        return {
            "NOTIFY_CHANNELS": "console,teams,slack,email,pagerduty,jira", "NOTIFY_ROUTING_FILE": str(routing_file),
            "NOTIFY_QUIET_SECONDS": "0", "NOTIFY_TIMEOUT_SECONDS": "5",
            "TEAMS_WEBHOOK_URL": self.teams.url + "/workflows/hook",
            "SLACK_WEBHOOK_URL": self.slack.url + "/services/x",
            "PAGERDUTY_EVENTS_URL": self.pagerduty.url + "/v2/enqueue", "PAGERDUTY_ROUTING_KEY": "R0UT1NGKEY",
            "JIRA_BASE_URL": self.jira.url, "JIRA_EMAIL": "bot@contoso.example", "JIRA_API_TOKEN": "jira-token-1",
            "JIRA_PROJECT": "OPS", "JIRA_WEBHOOK_SECRET": "whsec-test",
            "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(self.smtp.port), "SMTP_STARTTLS": "false",
            "SMTP_USERNAME": "mailer", "SMTP_PASSWORD": "mail-pass", "EMAIL_SENDER": "incidents@contoso.example",
            "EMAIL_TO": "oncall@contoso.example", "NOTIFY_INCIDENT_URL": "https://func.example/api/incidents/{id}",
        }


@contextmanager
def captures() -> Iterator[Captures]:
    with ExitStack() as stack:
        yield Captures(*(stack.enter_context(CaptureServer(kind)) for kind in ("teams", "slack", "pagerduty", "jira")),
                       smtp=stack.enter_context(SmtpCapture("mailer", "mail-pass")))


def notify_services(app_values: dict[str, str], caps: Captures, tmp_path: Path, **extra: str) -> Services:
    routing = tmp_path / "routing.toml"
    routing.write_text(ROUTING, encoding="utf-8")
    values = {**app_values, **caps.values(routing), "NOTIFY_QUEUE": f"ntf{app_values['EVENTS_QUEUE']}",
              "NOTIFICATIONS_TABLE": f"ntf{app_values['INCIDENTS_TABLE']}", **extra}
    svc = Services.from_settings(Settings.from_mapping(values))
    svc.ensure_ready()
    return svc


def drain(svc: Services, settle: float = 1.5, limit: float = 60) -> dict[str, int]:
    """Run both queue triggers' bodies until no message has shown up for `settle` seconds (bounded)."""
    events = svc.storage.queue(svc.settings.events_queue)
    deliveries = svc.storage.queue(svc.settings.notify_queue)
    outcomes: dict[str, int] = {}
    quiet_since, deadline = time.monotonic(), time.monotonic() + limit
    while time.monotonic() - quiet_since < settle and time.monotonic() < deadline:
        busy = False
        for message in events.receive_messages(max_messages=32, visibility_timeout=30):
            notifications.handle_event(svc, message.content)
            events.delete_message(message)
            busy = True
        for message in deliveries.receive_messages(max_messages=32, visibility_timeout=30):
            outcome = notifications.handle_delivery(svc, message.content)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            deliveries.delete_message(message)
            busy = True
        if busy:
            quiet_since = time.monotonic()
        else:
            time.sleep(0.1)
    return outcomes
