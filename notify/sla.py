"""SLA targets and figures (pure): time to acknowledge / resolve targets per priority, which targets an
unresolved incident has missed, and MTTA / MTTR per pipeline, per team and overall.

MTTA averages `acknowledged_at - first_seen` over the incidents that were acknowledged; MTTR averages
`resolved_at - first_seen` over the resolved ones. Both in seconds, rounded to one decimal.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from shared.lifecycle import is_unresolved
from shared.models import Incident
from shared.timeutil import parse_iso

ACK = "acknowledge"
RESOLVE = "resolve"


def parse_targets(text: str) -> dict[str, float]:
    """"P1=15,P2=30" -> {"P1": 15.0, "P2": 30.0} (minutes); ValueError on a malformed entry."""
    targets: dict[str, float] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"SLA target {part!r} is not PRIORITY=MINUTES")
        targets[name.strip().upper()] = float(value)
    return targets


def missed(incident: Incident, priority: str, now: datetime, ack_minutes: dict[str, float],
           resolve_minutes: dict[str, float]) -> list[str]:
    """The targets an unresolved incident has missed by `now` (ACK and / or RESOLVE)."""
    if not is_unresolved(incident.status):
        return []
    age_min = (now - parse_iso(incident.first_seen)).total_seconds() / 60
    kinds = []
    ack = ack_minutes.get(priority)
    if ack is not None and not incident.acknowledged_at and age_min > ack:
        kinds.append(ACK)
    resolve = resolve_minutes.get(priority)
    if resolve is not None and age_min > resolve:
        kinds.append(RESOLVE)
    return kinds


def _seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return (parse_iso(end) - parse_iso(start)).total_seconds()


def _figures(items: list[Incident]) -> dict[str, Any]:
    tta = [s for s in (_seconds(i.first_seen, i.acknowledged_at) for i in items) if s is not None]
    ttr = [s for s in (_seconds(i.first_seen, i.resolved_at) for i in items if i.status == "resolved")
           if s is not None]
    return {"incidents": len(items), "acknowledged": len(tta), "resolved": len(ttr),
            "mtta_seconds": round(sum(tta) / len(tta), 1) if tta else None,
            "mttr_seconds": round(sum(ttr) / len(ttr), 1) if ttr else None}


def metrics(incidents: Iterable[Incident]) -> dict[str, Any]:
    items = list(incidents)
    by_pipeline: dict[str, list[Incident]] = defaultdict(list)
    by_team: dict[str, list[Incident]] = defaultdict(list)
    for incident in items:
        by_pipeline[incident.pipeline or "(none)"].append(incident)
        by_team[incident.team or "(none)"].append(incident)
    return {"overall": _figures(items),
            "by_pipeline": {k: _figures(v) for k, v in sorted(by_pipeline.items())},
            "by_team": {k: _figures(v) for k, v in sorted(by_team.items())}}
