"""The incident lifecycle, agreed once: statuses, the events that move an incident between them, and the
states of a remediation plan. Pure data and one pure function; the store applies it (shared.incidents)
and shared.transitions records and publishes each event.

    open ──(remediation started)──▶ remediating ──(succeeded)──▶ resolved (auto_remediated)
      │                                   │
      │                                   └──(failed, no attempts left / breaker / expiry)──▶ escalated
      ├──(a later run succeeded)──────────────────────────────────▶ resolved (superseded)
      ├──(someone resolves / Jira issue done)──────────────────────▶ resolved (by_hand)
      └──(Azure Monitor sends Resolved)───────────────────────────▶ resolved (by_resolve_alert)
    escalated ──(resolved by hand, by alert, or a later run)──▶ resolved

Acknowledging is not a status: it stamps `acknowledged_at/by` (time to acknowledge) on any unresolved incident.
Plans (planned, waiting for approval, remediating, resolved, escalated) live in `incident.remediation["state"]`.
Every event gets a sequence number per incident; notifications are keyed by (incident, seq, channel).
"""

from __future__ import annotations

import enum


class IncidentStatus(enum.StrEnum):
    OPEN = "open"
    REMEDIATING = "remediating"
    RESOLVED = "resolved"
    ESCALATED = "escalated"


class Resolution(enum.StrEnum):
    """How a resolved incident was resolved (`incident.resolution`)."""

    AUTO_REMEDIATED = "auto_remediated"
    SUPERSEDED = "superseded"
    BY_HAND = "by_hand"
    BY_RESOLVE_ALERT = "by_resolve_alert"


class PlanState(enum.StrEnum):
    """`incident.remediation["state"]`: where the remediation plan stands."""

    NOTHING = "nothing"  # no action could help (reason says why)
    DRY_RUN = "dry_run"  # mode dry-run: the plan says what would have been done
    PLANNED = "planned"  # an action will run (maybe after a delay)
    WAITING_APPROVAL = "waiting_approval"
    REJECTED = "rejected"
    REMEDIATING = "remediating"  # an action was submitted; verifying its run
    RESOLVED = "resolved"
    ESCALATED = "escalated"


class Event(enum.StrEnum):
    """What happened to an incident. Each is recorded with a sequence number and published."""

    OPENED = "opened"
    REMEDIATION_PLANNED = "remediation_planned"
    APPROVAL_REQUESTED = "approval_requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    REMEDIATION_STARTED = "remediation_started"
    REMEDIATION_ATTEMPT_FAILED = "remediation_attempt_failed"
    REMEDIATION_SUCCEEDED = "remediation_succeeded"
    SUPERSEDED = "superseded"
    ESCALATED = "escalated"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    SLA_BREACHED = "sla_breached"


_UNRESOLVED = frozenset({IncidentStatus.OPEN, IncidentStatus.REMEDIATING, IncidentStatus.ESCALATED})
_ACTIVE = frozenset({IncidentStatus.OPEN, IncidentStatus.REMEDIATING})

# event -> (statuses it may happen in, status afterwards or None to keep the current one)
RULES: dict[Event, tuple[frozenset[IncidentStatus], IncidentStatus | None]] = {
    Event.OPENED: (frozenset({IncidentStatus.OPEN}), None),
    Event.REMEDIATION_PLANNED: (_ACTIVE, None),
    Event.APPROVAL_REQUESTED: (_ACTIVE, None),
    Event.APPROVED: (_UNRESOLVED, None),
    Event.REJECTED: (_UNRESOLVED, None),
    Event.REMEDIATION_STARTED: (_UNRESOLVED, IncidentStatus.REMEDIATING),
    Event.REMEDIATION_ATTEMPT_FAILED: (_UNRESOLVED, None),
    Event.REMEDIATION_SUCCEEDED: (_UNRESOLVED, IncidentStatus.RESOLVED),
    Event.SUPERSEDED: (_UNRESOLVED, IncidentStatus.RESOLVED),
    Event.ESCALATED: (_ACTIVE, IncidentStatus.ESCALATED),
    Event.ACKNOWLEDGED: (_UNRESOLVED, None),
    Event.RESOLVED: (_UNRESOLVED, IncidentStatus.RESOLVED),
    Event.REOPENED: (frozenset({IncidentStatus.RESOLVED}), IncidentStatus.OPEN),
    Event.SLA_BREACHED: (_UNRESOLVED, None),
}

# The resolution an event implies when it resolves an incident (RESOLVED takes it from the caller).
RESOLUTION_OF: dict[Event, Resolution] = {
    Event.REMEDIATION_SUCCEEDED: Resolution.AUTO_REMEDIATED,
    Event.SUPERSEDED: Resolution.SUPERSEDED,
}


class TransitionError(ValueError):
    """The event cannot happen in the incident's current status (e.g. approving a resolved incident)."""


def next_status(current: str, event: Event) -> IncidentStatus:
    """The status after `event`; raises TransitionError when the event is not allowed now."""
    try:
        status = IncidentStatus(current)
    except ValueError as exc:
        raise TransitionError(f"unknown incident status {current!r}") from exc
    allowed, target = RULES[event]
    if status not in allowed:
        raise TransitionError(f"{event.value} is not possible on an incident that is {status.value}")
    return target or status


def is_unresolved(status: str) -> bool:
    return status in {s.value for s in _UNRESOLVED}
