"""The incident lifecycle's rules (pure)."""

from __future__ import annotations

import pytest

from shared.lifecycle import RULES, Event, IncidentStatus, TransitionError, is_unresolved, next_status


def test_remediation_moves_open_to_remediating_to_resolved() -> None:
    assert next_status("open", Event.REMEDIATION_STARTED) is IncidentStatus.REMEDIATING
    assert next_status("remediating", Event.REMEDIATION_SUCCEEDED) is IncidentStatus.RESOLVED


def test_events_that_do_not_change_status_keep_it() -> None:
    for status in ("open", "remediating"):
        assert next_status(status, Event.APPROVAL_REQUESTED) is IncidentStatus(status)
        assert next_status(status, Event.ACKNOWLEDGED) is IncidentStatus(status)


@pytest.mark.parametrize("event", [Event.APPROVED, Event.REMEDIATION_STARTED, Event.ESCALATED, Event.ACKNOWLEDGED,
                                   Event.RESOLVED, Event.SLA_BREACHED])
def test_nothing_happens_to_a_resolved_incident_but_a_reopen(event: Event) -> None:
    with pytest.raises(TransitionError):
        next_status("resolved", event)
    assert next_status("resolved", Event.REOPENED) is IncidentStatus.OPEN


def test_escalated_can_still_be_resolved_but_not_escalated_twice() -> None:
    assert next_status("escalated", Event.RESOLVED) is IncidentStatus.RESOLVED
    with pytest.raises(TransitionError):
        next_status("escalated", Event.ESCALATED)


def test_every_event_has_a_rule_and_unknown_status_is_refused() -> None:
    assert set(RULES) == set(Event)
    with pytest.raises(TransitionError):
        next_status("bogus", Event.RESOLVED)
    assert is_unresolved("escalated") and not is_unresolved("resolved")
