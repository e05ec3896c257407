"""One module per channel behind `notify.channels.base.Channel`; `build_channels` makes the enabled ones."""

from __future__ import annotations

import logging
from collections.abc import Callable

from notify.channels.base import Channel
from notify.channels.console import ConsoleChannel
from notify.channels.email import AcsEmailChannel, SmtpChannel
from notify.channels.jira import JiraChannel
from notify.channels.pagerduty import PagerDutyChannel
from notify.channels.slack import SlackChannel
from notify.channels.teams import TeamsWorkflowsChannel
from notify.channels.teams_legacy import TeamsLegacyChannel
from shared.config import Settings

log = logging.getLogger(__name__)


def _email(s: Settings, timeout: float) -> Channel:
    to = s.csv_setting("EMAIL_TO")
    if s.get("ACS_EMAIL_ENDPOINT") or s.get("ACS_EMAIL_CONNECTION_STRING"):
        return AcsEmailChannel.from_settings(s.get("ACS_EMAIL_ENDPOINT"), s.get("ACS_EMAIL_CONNECTION_STRING"),
                                             s.get("EMAIL_SENDER"), to, timeout)
    return SmtpChannel(s.get("SMTP_HOST"), s.int_setting("SMTP_PORT"), s.get("EMAIL_SENDER"), to,
                       s.get("SMTP_USERNAME"), s.get("SMTP_PASSWORD"), s.bool_setting("SMTP_STARTTLS"), timeout)


FACTORIES: dict[str, Callable[[Settings, float], Channel]] = {
    "console": lambda s, t: ConsoleChannel(),
    "teams": lambda s, t: TeamsWorkflowsChannel(s.get("TEAMS_WEBHOOK_URL"), t),
    "teams_legacy": lambda s, t: TeamsLegacyChannel(s.get("TEAMS_LEGACY_WEBHOOK_URL"), t),
    "slack": lambda s, t: SlackChannel(s.get("SLACK_WEBHOOK_URL"), t),
    "email": _email,
    "pagerduty": lambda s, t: PagerDutyChannel(s.get("PAGERDUTY_EVENTS_URL"), s.get("PAGERDUTY_ROUTING_KEY"), t),
    "jira": lambda s, t: JiraChannel(s.get("JIRA_BASE_URL"), s.get("JIRA_EMAIL"), s.get("JIRA_API_TOKEN"),
                                     s.get("JIRA_PROJECT"), s.get("JIRA_ISSUE_TYPE"), s.get("JIRA_DONE"), t),
}


def enabled_names(settings: Settings) -> tuple[str, ...]:
    return tuple(name for name in settings.csv_setting("NOTIFY_CHANNELS") if name in FACTORIES)


def build_channels(settings: Settings) -> tuple[dict[str, Channel], dict[str, str]]:
    """The enabled channels, and why the misconfigured ones are missing (one bad channel stops no other)."""
    channels: dict[str, Channel] = {}
    problems: dict[str, str] = {}
    timeout = float(settings.get("NOTIFY_TIMEOUT_SECONDS"))
    for name in settings.csv_setting("NOTIFY_CHANNELS"):
        factory = FACTORIES.get(name)
        if factory is None:
            problems[name] = f"unknown channel {name!r}"
            continue
        try:
            channels[name] = factory(settings, timeout)
        except (ValueError, ImportError) as exc:
            problems[name] = str(exc)
            log.error("notification channel %s is not usable: %s", name, exc)
    return channels, problems
