"""Microsoft Teams through a Workflows webhook ("When a Teams webhook request is received"): an Adaptive Card
1.4 (Workflows reject newer cards) in the `message` envelope, under 28 KB by trimming the error text only."""

from __future__ import annotations

import json
from dataclasses import replace
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


def encode(payload: dict[str, Any]) -> bytes:
    """The bytes that go on the wire (measured and sent alike: `json=` would escape non-ASCII as 6 bytes)."""
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def _size(payload: dict[str, Any]) -> int:
    return len(encode(payload))


def _shrink(text: str, fits: Any, what: str = "text") -> str:
    """The longest prefix of `text` (marked as trimmed) for which `fits(prefix)` holds; "" if none does."""
    if fits(text):
        return text
    keep = len(text)
    while keep > 0:
        keep = max(0, int(keep * 0.8) - 16)
        cut = text[:keep] + f" … [{what} trimmed, full text on the incident]"
        if fits(cut):
            return cut
    return ""


def payload(message: Message, max_bytes: int = MAX_BYTES) -> dict[str, Any]:
    """The webhook body, trimmed under `max_bytes` by cutting the error text first; only when even an empty
    error does not fit (outside texts that escape badly) the root cause and plan, then the fact values."""
    built = envelope(card(message))
    if _size(built) <= max_bytes:
        return built

    def fits(m: Message, error: str = "") -> bool:
        return _size(envelope(card(m, error_text=error))) <= max_bytes

    if not fits(message):
        message = replace(message, rca=_shrink(message.rca, lambda t: fits(replace(message, rca=t, plan=""))))
        message = replace(message, plan=_shrink(message.plan, lambda t: fits(replace(message, plan=t))))
    for cap in (150, 60, 20):
        if fits(message):
            break
        message = replace(message, facts=[(label, value[:cap]) for label, value in message.facts])
    error = _shrink(message.error_text, lambda t: fits(message, t), "error text")
    return envelope(card(message, error_text=error or "[error text trimmed, full text on the incident]"))


class TeamsWorkflowsChannel(Channel):
    name = "teams"

    def __init__(self, url: str, timeout: float) -> None:
        if not url:
            raise ValueError("TEAMS_WEBHOOK_URL is not set")
        self.url = url
        self.http = HttpPoster(timeout)

    def send(self, message: Message) -> Delivery:
        resp = self.http.request("POST", self.url, "Teams workflow", data=encode(payload(message)),
                                 headers={"Content-Type": "application/json; charset=utf-8"})
        check_response(resp, "Teams workflow")
        # A legacy connector URL answers 200 with "1"; a workflow 202. Anything else in a 200 is an error text.
        if resp.status_code == 200 and resp.text.strip() not in ("", "1"):
            raise DeliveryError(f"Teams answered 200 with an error: {resp.text[:200]}", retryable=False,
                                http_status=200)
        return Delivery("sent", f"HTTP {resp.status_code}", http_status=resp.status_code)
