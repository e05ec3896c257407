"""Microsoft Teams through a Workflows webhook ("When a Teams webhook request is received"): an Adaptive Card
1.4 (Workflows reject newer cards) in the `message` envelope, under 28 KB by trimming the error text only."""

from __future__ import annotations

import json
from typing import Any

from notify.channels.base import Channel, Delivery, DeliveryError, HttpPoster, check_response
from notify.message import Message

CARD_VERSION = "1.4"
MAX_BYTES = 27 * 1024  # Teams' limit is 28 KB; keep a margin for the flow's own wrapping
_COLOR = {"P1": "Attention", "P2": "Attention", "P3": "Warning", "P4": "Default"}


def _text(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def card(message: Message, error_text: str | None = None) -> dict[str, Any]:
    """The Adaptive Card (pure); `error_text` replaces the message's error text (for trimming)."""
    color = "Good" if message.resolving else _COLOR.get(message.priority, "Default")
    body: list[dict[str, Any]] = [
        _text(message.title, size="Large", weight="Bolder", color=color),
        _text(message.summary, isSubtle=True),
        {"type": "FactSet", "facts": [{"title": label, "value": value} for label, value in message.facts]},
    ]
    for label, text in (("Root cause", message.rca), ("Plan", message.plan)):
        if text:
            body += [_text(label, weight="Bolder", spacing="Medium"), _text(text)]
    if message.folded:
        body.append(_text("Also failed in this burst: " + ", ".join(message.folded)))
    error = message.error_text if error_text is None else error_text
    body += [_text("Error", weight="Bolder", spacing="Medium"), _text(error, fontType="Monospace", size="Small")]
    content: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
        "version": CARD_VERSION, "body": body, "msteams": {"width": "Full"},
    }
    actions = [{"type": "Action.OpenUrl", "title": link.title, "url": link.url} for link in message.links]
    if actions:
        content["actions"] = actions
    return content


def envelope(content: dict[str, Any]) -> dict[str, Any]:
    return {"type": "message", "attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": content}]}


def _size(payload: dict[str, Any]) -> int:
    return len(json.dumps(payload, ensure_ascii=False).encode("utf-8"))


def payload(message: Message, max_bytes: int = MAX_BYTES) -> dict[str, Any]:
    """The webhook body, trimmed under `max_bytes` by cutting the error text (never the facts or links)."""
    built = envelope(card(message))
    if _size(built) <= max_bytes:
        return built
    error = message.error_text
    empty = _size(envelope(card(message, error_text="")))
    budget = max(0, max_bytes - empty - 64)
    # JSON escaping and UTF-8 make characters cost up to 6 bytes: shrink until it fits (few rounds).
    keep = min(len(error), budget)
    while True:
        cut = error[:keep] + " … [error text trimmed, full text on the incident]"
        built = envelope(card(message, error_text=cut))
        if _size(built) <= max_bytes or keep == 0:
            return built
        keep = max(0, int(keep * 0.8) - 16)


class TeamsWorkflowsChannel(Channel):
    name = "teams"

    def __init__(self, url: str, timeout: float) -> None:
        if not url:
            raise ValueError("TEAMS_WEBHOOK_URL is not set")
        self.url = url
        self.http = HttpPoster(timeout)

    def send(self, message: Message) -> Delivery:
        resp = self.http.request("POST", self.url, "Teams workflow", json=payload(message))
        check_response(resp, "Teams workflow")
        # A legacy connector URL answers 200 with "1"; a workflow 202. Anything else in a 200 is an error text.
        if resp.status_code == 200 and resp.text.strip() not in ("", "1"):
            raise DeliveryError(f"Teams answered 200 with an error: {resp.text[:200]}", retryable=False,
                                http_status=200)
        return Delivery("sent", f"HTTP {resp.status_code}", http_status=resp.status_code)
