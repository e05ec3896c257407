"""Email with an HTML and a plain-text part: Azure Communication Services Email (managed identity or a
connection string) as the Azure default, SMTP with STARTTLS and login as the fallback."""

from __future__ import annotations

import html
import smtplib
import ssl
from email.message import EmailMessage
from typing import Any

from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import AzureError, HttpResponseError

from notify.channels.base import RETRYABLE_STATUS, Channel, Delivery, DeliveryError, retry_after_seconds
from notify.message import Message


def html_body(message: Message) -> str:
    e = html.escape
    rows = "".join(f"<tr><th align='left'>{e(label)}</th><td>{e(value)}</td></tr>" for label, value in message.facts)
    parts = [f"<h2>{e(message.title)}</h2>", f"<p>{e(message.summary)}</p>", f"<table>{rows}</table>"]
    for label, text in (("Root cause", message.rca), ("Plan", message.plan)):
        if text:
            parts.append(f"<h3>{label}</h3><p>{e(text)}</p>")
    if message.folded:
        parts.append(f"<p>Also failed in this burst: {e(', '.join(message.folded))}</p>")
    parts.append(f"<h3>Error</h3><pre>{e(message.error_text)}</pre>")
    parts.append("<p>" + " | ".join(f"<a href='{e(link.url)}'>{e(link.title)}</a>" for link in message.links) + "</p>")
    return "<html><body>" + "".join(parts) + "</body></html>"


def recipients_of(message: Message, default: tuple[str, ...]) -> list[str]:
    return list(message.recipients.get("email") or default)


class SmtpChannel(Channel):
    name = "email"

    def __init__(self, host: str, port: int, sender: str, default_to: tuple[str, ...], username: str = "",
                 password: str = "", starttls: bool = True, timeout: float = 10) -> None:
        if not (host and sender):
            raise ValueError("SMTP_HOST and EMAIL_SENDER must be set for SMTP email")
        self.host, self.port, self.sender, self.default_to = host, port, sender, default_to
        self.username, self.password, self.starttls, self.timeout = username, password, starttls, timeout

    def build(self, message: Message, to: list[str]) -> EmailMessage:
        mail = EmailMessage()
        mail["Subject"] = message.title
        mail["From"] = self.sender
        mail["To"] = ", ".join(to)
        mail["X-Incident-Id"] = message.incident_id
        mail.set_content(message.plain_text())
        mail.add_alternative(html_body(message), subtype="html")
        return mail

    def send(self, message: Message) -> Delivery:
        to = recipients_of(message, self.default_to)
        if not to:
            return Delivery("skipped", "no email recipients routed")
        mail = self.build(message, to)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self.password)
                refused = smtp.send_message(mail)
        except smtplib.SMTPResponseException as exc:
            # 4xx replies are temporary (greylisting, rate limits), 5xx permanent.
            raise DeliveryError(f"SMTP refused: {exc.smtp_code}", retryable=400 <= exc.smtp_code < 500) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP failed: {type(exc).__name__}", retryable=True) from exc
        return Delivery("sent", f"to {len(to) - len(refused)} recipient(s)")


class AcsEmailChannel(Channel):
    name = "email"

    def __init__(self, client: Any, sender: str, default_to: tuple[str, ...]) -> None:
        self.client, self.sender, self.default_to = client, sender, default_to

    @classmethod
    def from_settings(cls, endpoint: str, connection_string: str, sender: str,
                      default_to: tuple[str, ...], timeout: float) -> AcsEmailChannel:
        from azure.communication.email import EmailClient

        if not sender:
            raise ValueError("EMAIL_SENDER must be set for ACS email")
        kwargs: dict[str, Any] = {"connection_timeout": timeout, "read_timeout": timeout, "retry_total": 0}
        if connection_string:
            # Parsed here rather than by from_connection_string, which forces https on the endpoint (local fakes
            # speak http); a real connection string names an https endpoint anyway.
            pairs = (item.partition("=") for item in connection_string.split(";"))
            parts = {k.strip().lower(): v.strip() for k, _, v in pairs}
            if not (parts.get("endpoint") and parts.get("accesskey")):
                raise ValueError("ACS_EMAIL_CONNECTION_STRING needs endpoint=...;accesskey=...")
            client = EmailClient(parts["endpoint"], AzureKeyCredential(parts["accesskey"]), **kwargs)
        else:
            from azure.identity import DefaultAzureCredential

            client = EmailClient(endpoint, DefaultAzureCredential(), **kwargs)
        return cls(client, sender, default_to)

    def send(self, message: Message) -> Delivery:
        to = recipients_of(message, self.default_to)
        if not to:
            return Delivery("skipped", "no email recipients routed")
        body = {
            "senderAddress": self.sender,
            "recipients": {"to": [{"address": address} for address in to]},
            "content": {"subject": message.title, "plainText": message.plain_text(), "html": html_body(message)},
            "headers": {"X-Incident-Id": message.incident_id},
            "userEngagementTrackingDisabled": True,
        }
        # A stable operation id makes a resent request the same send on the service side.
        operation_id = f"{message.incident_id}-{message.seq}"
        try:
            poller = self.client.begin_send(body, operation_id=operation_id, polling=False)
            result = poller.result()
        except HttpResponseError as exc:
            status = exc.status_code or 0
            headers = getattr(exc.response, "headers", None) or {}
            raise DeliveryError(f"ACS Email answered HTTP {status}", retryable=status in RETRYABLE_STATUS,
                                retry_after=retry_after_seconds(headers.get("Retry-After")),
                                http_status=status) from exc
        except AzureError as exc:
            raise DeliveryError(f"ACS Email unreachable: {type(exc).__name__}", retryable=True) from exc
        state = str(result.get("status", "accepted")) if isinstance(result, dict) else "accepted"
        return Delivery("sent", f"ACS operation {operation_id}: {state}", ref=operation_id)
