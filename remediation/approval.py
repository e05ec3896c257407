"""Signed approval links: an Approve button in a chat message that needs no function key.

The token names the incident and the plan it approves and when it expires, signed with HMAC-SHA256
(REMEDIATION_APPROVAL_SECRET). It is single-use because approving moves the plan out of `waiting_approval`
(a guarded lifecycle transition) and the plan id must match the waiting plan. Pure functions.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

MAX_TOKEN = 2048


class TokenError(ValueError):
    """The token is malformed, forged / changed, or expired."""


@dataclass(frozen=True)
class ApprovalClaim:
    incident_id: str
    plan_id: str
    expires: int  # unix seconds


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(secret: str, claim: ApprovalClaim) -> str:
    if not secret:
        raise ValueError("REMEDIATION_APPROVAL_SECRET is not set")
    body = _b64(json.dumps({"i": claim.incident_id, "p": claim.plan_id, "e": claim.expires},
                           separators=(",", ":")).encode())
    mac = hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


def verify(secret: str, token: str, now: datetime) -> ApprovalClaim:
    if not secret:
        raise TokenError("approval links are disabled (no REMEDIATION_APPROVAL_SECRET)")
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN or token.count(".") != 1:
        raise TokenError("the approval token is malformed")
    body, mac = token.split(".")
    expected = hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()
    try:
        given = _unb64(mac)
        data = json.loads(_unb64(body))
    except (ValueError, UnicodeDecodeError) as exc:
        raise TokenError("the approval token is malformed") from exc
    if not hmac.compare_digest(expected, given):
        raise TokenError("the approval token's signature does not match (changed or forged)")
    if not isinstance(data, dict) or not isinstance(data.get("e"), int):
        raise TokenError("the approval token is malformed")
    claim = ApprovalClaim(str(data.get("i", "")), str(data.get("p", "")), int(data["e"]))
    if now.timestamp() >= claim.expires:
        raise TokenError("the approval link has expired")
    return claim


def approval_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/api/remediation/approval?token={quote(token, safe='')}"
