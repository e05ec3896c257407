"""Inbound Jira webhooks (pure): the `X-Hub-Signature: sha256=<hex>` HMAC of the raw body, and what an
`jira:issue_updated` event says about the issue's status."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

LABEL_PREFIX = "incident-"


def signature_ok(secret: str, body: bytes, header: str | None) -> bool:
    """Constant-time check of `sha256=<hex>`; False when the secret, the header or its shape is missing."""
    if not secret or not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest().encode()
    # Bytes, not str: compare_digest raises TypeError on non-ASCII str (a 500 for an odd header).
    given = header[len("sha256="):].strip().lower().encode("utf-8", "replace")
    return hmac.compare_digest(expected, given)


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class IssueChange:
    key: str
    status: str
    done: bool
    incident_id: str | None  # from the issue's `incident-<id>` label


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def parse(body: bytes, done_names: tuple[str, ...] = ("done",)) -> IssueChange | None:
    """The issue's new status, or None when the event is not about an issue's status. ValueError if not JSON
    (or nested too deeply to read); fields of an unexpected type count as absent."""
    try:
        data: Any = json.loads(body)
    except RecursionError as exc:
        raise ValueError("JSON nested too deeply") from exc
    if not isinstance(data, dict) or not isinstance(data.get("issue"), dict):
        return None
    issue = data["issue"]
    fields = _dict(issue.get("fields"))
    status_field = _dict(fields.get("status"))
    status = str(status_field.get("name") or "")
    category = str(_dict(status_field.get("statusCategory")).get("key") or "")
    for item in _list(_dict(data.get("changelog")).get("items")):
        if isinstance(item, dict) and item.get("field") == "status":
            status = str(item.get("toString") or status)
    if not status and not category:
        return None
    if not isinstance(issue.get("key"), str):
        return None
    labels = [label for label in _list(fields.get("labels")) if isinstance(label, str)]
    incident = next((label[len(LABEL_PREFIX):] for label in labels if label.startswith(LABEL_PREFIX)), None)
    done = category == "done" or status.lower() in {n.lower() for n in done_names}
    return IssueChange(key=issue["key"], status=status, done=done, incident_id=incident)
