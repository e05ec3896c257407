"""The channel interface: a channel turns a Message into one outbound call and says how it went.

A channel never sleeps on a 429 or a 5xx: it raises `DeliveryError(retryable=True, retry_after=...)` and the
delivery queue brings the message back after that delay (visibility timeout), so a slow channel holds nothing.
"""

from __future__ import annotations

import email.utils
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import requests

from notify.message import Message
from shared.redaction import redact_text

RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Delivery:
    status: str  # sent | skipped
    detail: str = ""
    ref: str | None = None  # an external reference to keep (e.g. the Jira issue key)
    http_status: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class DeliveryError(Exception):
    def __init__(self, detail: str, *, retryable: bool, retry_after: float | None = None,
                 http_status: int | None = None) -> None:
        super().__init__(redact_text(detail)[:500])
        self.retryable = retryable
        self.retry_after = retry_after
        self.http_status = http_status


class Channel(ABC):
    name: ClassVar[str]
    # Events this channel reports; a route narrows it further.
    events: ClassVar[frozenset[str] | None] = None

    @abstractmethod
    def send(self, message: Message) -> Delivery:
        """Deliver `message`; raise DeliveryError when it did not go out."""


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def check_response(resp: requests.Response, what: str, ok: tuple[int, ...] = (200, 201, 202, 204)) -> None:
    """Raise DeliveryError for anything but `ok`; retryable with Retry-After on 429 / 5xx."""
    if resp.status_code in ok:
        return
    retryable = resp.status_code in RETRYABLE_STATUS or resp.status_code >= 500
    raise DeliveryError(f"{what} answered HTTP {resp.status_code}: {resp.text[:200]}", retryable=retryable,
                        retry_after=retry_after_seconds(resp.headers.get("Retry-After")),
                        http_status=resp.status_code)


class HttpPoster:
    """One requests session per channel (connection reuse), a timeout on every call, no redirects."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.session = requests.Session()

    def request(self, method: str, url: str, what: str, **kwargs: Any) -> requests.Response:
        try:
            return self.session.request(method, url, timeout=self.timeout, allow_redirects=False, **kwargs)
        except requests.RequestException as exc:
            raise DeliveryError(f"{what} unreachable: {type(exc).__name__}", retryable=True) from exc
