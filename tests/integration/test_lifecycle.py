"""Lifecycle events on Azurite: one transaction per change, audited, published once per event, sequence numbers."""

from __future__ import annotations

import json
import threading

import pytest

from orchestration.runtime import Services
from shared.lifecycle import Event, IncidentStatus, TransitionError
from shared.models import AuditAction, Failure
from shared.timeutil import utc_now_iso


def _open(services: Services, run_id: str = "run-1") -> str:
    failure = Failure(source="airflow", platform="airflow", resource="https://airflow.example", pipeline="dag",
                      run_id=run_id, message="boom")
    return services.incidents.record(failure, f"alert-{run_id}", utc_now_iso()).incident.id


def _published(services: Services) -> list[dict[str, object]]:
    queue = services.storage.queue(services.settings.events_queue)
    messages = []
    for message in queue.receive_messages(messages_per_page=32, max_messages=32):
        messages.append(json.loads(message.content))  # the client decodes base64
    return messages


def test_creation_writes_the_opened_event_and_changes_publish_in_order(services: Services) -> None:
    incident_id = _open(services)
    assert [e["event"] for e in services.incidents.events(incident_id)] == ["opened"]
    lc = services.lifecycle
    lc.apply(incident_id, Event.ACKNOWLEDGED, actor="alice", reason="looking")
    lc.apply(incident_id, Event.REMEDIATION_STARTED, actor="remediation", reason="rerun 1",
             fields={"remediation": {"state": "remediating"}})
    done = lc.apply(incident_id, Event.REMEDIATION_SUCCEEDED, actor="remediation", reason="rerun succeeded")
    assert done is not None and done.seq == 4
    incident = services.incidents.get(incident_id)
    assert incident is not None
    assert incident.status == IncidentStatus.RESOLVED and incident.resolution == "auto_remediated"
    assert incident.acknowledged_by == "alice" and incident.remediation == {"state": "remediating"}
    events = services.incidents.events(incident_id)
    assert [(e["seq"], e["event"], e["published"]) for e in events] == [
        (1, "opened", False), (2, "acknowledged", True), (3, "remediation_started", True),
        (4, "remediation_succeeded", True)]
    assert [m["seq"] for m in _published(services)] == [2, 3, 4]
    actions = [a.action for a in services.audit.trail(incident_id)]
    assert AuditAction.INCIDENT_ACKNOWLEDGED in actions and AuditAction.REMEDIATION_VERIFIED in actions
    with pytest.raises(TransitionError):
        lc.apply(incident_id, Event.ESCALATED, actor="remediation", reason="too late")
    assert services.lifecycle.republish_pending(incident_id) == 1  # only "opened" was never published here


def test_concurrent_resolvers_resolve_once(services: Services) -> None:
    incident_id = _open(services, "run-2")
    results: list[object] = []

    def resolve(who: str) -> None:
        results.append(services.lifecycle.try_apply(incident_id, Event.RESOLVED, actor=who, reason="fixed"))

    threads = [threading.Thread(target=resolve, args=(f"user{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r is not None for r in results) == 1
    assert [e["event"] for e in services.incidents.events(incident_id)] == ["opened", "resolved"]


def test_guard_and_update_fields_cannot_bypass_the_lifecycle(services: Services) -> None:
    incident_id = _open(services, "run-3")
    assert services.lifecycle.apply(incident_id, Event.APPROVED, actor="bob", reason="ok",
                                    guard=lambda i: (i.remediation or {}).get("state") == "waiting_approval") is None
    with pytest.raises(ValueError):
        services.incidents.update_fields(incident_id, status="resolved")
