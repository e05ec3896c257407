"""The embedded default channel: the app's log, with the verdict and the plan."""

from __future__ import annotations

import logging

from notify.channels.base import Channel, Delivery
from notify.message import Message

log = logging.getLogger("notify.console")


def line(message: Message) -> str:
    facts = dict(message.facts)
    text = (f"[incident {message.incident_id} #{message.seq}] {message.title} | {message.summary} | "
            f"category={facts.get('Category')} severity={message.severity} team={facts.get('Team')}")
    if message.rca:
        text += f" | cause: {message.rca[:300]}"
    if message.plan:
        text += f" | plan: {message.plan[:300]}"
    if message.folded:
        text += f" | also: {', '.join(message.folded)}"
    return text + f" | error: {message.error_text[:300]}"


class ConsoleChannel(Channel):
    name = "console"

    def send(self, message: Message) -> Delivery:
        log.warning("%s", line(message))  # already redacted by the renderer
        return Delivery("sent", "written to the app log")
