"""Which incident a failure belongs to. Pure.

An incident is one failed run: (platform, resource, run id). The source (alert, webhook, sweep)
is deliberately not part of it, so a run found by the sweep and later alerted on is one incident.
Where a failure carries no run id, the identity is a fingerprint of what the alert does carry:
its instance id, rule id, targets and dimensions -- never the rule name alone, which would fold
every failure of a rule into one incident forever.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from shared.models import Failure

ID_LENGTH = 32


def _digest(parts: list[Any]) -> str:
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:ID_LENGTH]


def _norm(value: str | None) -> str:
    return (value or "").strip().lower()


def incident_identity(failure: Failure) -> tuple[str, str]:
    """(incident id, basis) where basis is "run" or "fingerprint"."""
    if failure.run_id:
        return _digest(["run", _norm(failure.platform), _norm(failure.resource), failure.run_id.strip()]), "run"
    parts = failure.fingerprint_parts
    if not any(parts.get(k) for k in ("alert_id", "rule_id", "targets", "dimensions")):
        # Nothing instance-specific: fall back to everything the failure says, so two different
        # failures never share an incident.
        parts = {"failure": failure.to_dict()}
    normalized = {k: _normalize_part(v) for k, v in sorted(parts.items())}
    return _digest(["fingerprint", _norm(failure.platform), _norm(failure.resource), normalized]), "fingerprint"


def _normalize_part(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip().lower()
    if isinstance(value, dict):
        return {str(k).lower(): _normalize_part(v) for k, v in sorted(value.items())}
    if isinstance(value, list | tuple):
        return sorted((_normalize_part(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True, default=str))
    return value


def alert_key_digest(alert_key: str) -> str:
    """Short stable key of an alert instance, for finding what a Resolved notification closes."""
    return _digest(["alert", alert_key.strip().lower()])
