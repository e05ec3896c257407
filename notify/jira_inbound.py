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
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header[len("sha256="):].strip().lower())


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class IssueChange:
    key: str
    status: str
    done: bool
    incident_id: str | None  # from the issue's `incident-<id>` label


def parse(body: bytes, done_names: tuple[str, ...] = ("done",)) -> IssueChange | None:
    """The issue's new status, or None when the event is not about an issue's status. ValueError if not JSON."""
    data: Any = json.loads(body)
    if not isinstance(data, dict) or not isinstance(data.get("issue"), dict):
        return None
    issue = data["issue"]
    fields: dict[str, Any] = issue["fields"] if isinstance(issue.get("fields"), dict) else {}
    status_field: dict[str, Any] = fields["status"] if isinstance(fields.get("status"), dict) else {}
    status = str(status_field.get("name") or "")
    category = str((status_field.get("statusCategory") or {}).get("key") or "")
    items = ((data.get("changelog") or {}).get("items") or []) if isinstance(data.get("changelog"), dict) else []
    for item in items:
        if isinstance(item, dict) and item.get("field") == "status":
            status = str(item.get("toString") or status)
    if not status and not category:
        return None
    labels = [str(label) for label in (fields.get("labels") or []) if isinstance(label, str)]
    incident = next((label[len(LABEL_PREFIX):] for label in labels if label.startswith(LABEL_PREFIX)), None)
    done = category == "done" or status.lower() in {n.lower() for n in done_names}
    return IssueChange(key=str(issue.get("key") or ""), status=status, done=done, incident_id=incident)
