"""Teams Office 365 connector URLs through pymsteams (legacy MessageCard), for tenants that still have one.
Microsoft has retired these connectors; prefer the Workflows channel (`teams`)."""

from __future__ import annotations

import pymsteams
import requests

from notify.channels.base import Channel, Delivery, DeliveryError
from notify.message import Message

TEXT_CAP = 20_000  # keep the MessageCard under the 28 KB limit


class TeamsLegacyChannel(Channel):
    name = "teams_legacy"

    def __init__(self, url: str, timeout: float) -> None:
        if not url:
            raise ValueError("TEAMS_LEGACY_WEBHOOK_URL is not set")
        self.url = url
        self.timeout = timeout

    def build(self, message: Message) -> pymsteams.connectorcard:
        card = pymsteams.connectorcard(self.url)
        card.title(message.title)
        card.summary(message.summary)
        card.color("2EB886" if message.resolving else "D00000")
        section = pymsteams.cardsection()
        for label, value in message.facts:
            section.addFact(label, value)
        card.addSection(section)
        card.text(f"{message.rca}\n\n{message.plan}\n\n```\n{message.error_text[:TEXT_CAP]}\n```".strip())
        for link in message.links:
            card.addLinkButton(link.title, link.url)
        card.payload.update({"@type": "MessageCard", "@context": "https://schema.org/extensions"})
        return card

    def send(self, message: Message) -> Delivery:
        card = self.build(message)
        try:
            resp = requests.post(self.url, json=card.payload, timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as exc:
            raise DeliveryError(f"Teams connector unreachable: {type(exc).__name__}", retryable=True) from exc
        if resp.status_code >= 300:
            raise DeliveryError(f"Teams connector answered HTTP {resp.status_code}",
                                retryable=resp.status_code == 429 or resp.status_code >= 500,
                                http_status=resp.status_code)
        # Connectors do not send 429: throttling comes back as a 200 whose body names it.
        if "429" in resp.text:
            raise DeliveryError("Teams connector throttled the card", retryable=True, retry_after=60,
                                http_status=resp.status_code)
        return Delivery("sent", f"HTTP {resp.status_code}", http_status=resp.status_code)
