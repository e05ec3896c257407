"""Slack incoming webhook with Block Kit, inside Slack's limits (50 blocks, header 150 characters, section
text 3,000, 10 fields of 2,000, button text 75; about 12,000 characters in all blocks)."""

from __future__ import annotations

import json
from typing import Any

from notify.channels.base import Channel, Delivery, DeliveryError, HttpPoster, check_response
from notify.message import Message

MAX_BLOCKS = 50
HEADER_CAP = 150
SECTION_CAP = 3000
FIELD_CAP = 2000
MAX_FIELDS = 10
BUTTON_CAP = 75
MAX_BUTTONS = 5
TOTAL_CAP = 12_000


def _cut(text: str, cap: int) -> str:
    return text if len(text) <= cap else text[: cap - 1] + "…"


def _escape(text: str) -> str:
    # Slack mrkdwn control characters; the webhook would otherwise turn <...> into links.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, SECTION_CAP)}}


def blocks(message: Message) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(message.title, HEADER_CAP)}},
        _section(_escape(message.summary)),
    ]
    facts = message.facts
    for start in range(0, len(facts), MAX_FIELDS):
        out.append({"type": "section", "fields": [
            {"type": "mrkdwn", "text": _cut(f"*{_escape(label)}*\n{_escape(value)}", FIELD_CAP)}
            for label, value in facts[start:start + MAX_FIELDS]]})
    for label, text in (("Root cause", message.rca), ("Plan", message.plan)):
        if text:
            out.append(_section(f"*{label}*\n{_escape(text)}"))
    if message.folded:
        out.append(_section("*Also failed in this burst*\n" + _escape(", ".join(message.folded))))
    if message.links:
        out.append({"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": _cut(link.title, BUTTON_CAP)}, "url": link.url,
             **({"style": "primary"} if link.title.startswith("Approve") else {})}
            for link in message.links[:MAX_BUTTONS]]})
    used = len(json.dumps(out))
    room = max(200, min(SECTION_CAP - 20, TOTAL_CAP - used - 100))
    error = _escape(message.error_text).replace("```", "'''")
    out.append(_section(f"*Error*\n```{_cut(error, room)}```"))
    return out[:MAX_BLOCKS]


def payload(message: Message) -> dict[str, Any]:
    return {"text": _cut(f"{message.title}: {message.summary}", 3000), "blocks": blocks(message)}


class SlackChannel(Channel):
    name = "slack"

    def __init__(self, url: str, timeout: float) -> None:
        if not url:
            raise ValueError("SLACK_WEBHOOK_URL is not set")
        self.url = url
        self.http = HttpPoster(timeout)

    def send(self, message: Message) -> Delivery:
        resp = self.http.request("POST", self.url, "Slack webhook", json=payload(message))
        check_response(resp, "Slack webhook", ok=(200,))
        if resp.text.strip() != "ok":
            raise DeliveryError(f"Slack answered: {resp.text[:200]}", retryable=False, http_status=resp.status_code)
        return Delivery("sent", "ok", http_status=200)
