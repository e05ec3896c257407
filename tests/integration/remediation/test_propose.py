"""propose / approve / reject on Azurite: the plan waits for approval, approving enqueues its action once."""

from __future__ import annotations

import json

import pytest

from orchestration.runtime import Services
from shared.config import Settings
from shared.lifecycle import PlanState
from shared.models import AuditAction, Failure
from shared.timeutil import utc_now_iso

FACTORY = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.DataFactory/factories/f1"


@pytest.fixture
def settings(app_values: dict[str, str]) -> Settings:
    return Settings.from_mapping({**app_values, "REMEDIATION_MODE": "approve"})


def record(services: Services, message: str = "Operation timed out") -> str:
    failure = Failure(source="azure-monitor", platform="adf", resource=FACTORY, pipeline="Orders", run_id="run-1",
                      activity="Copy", error_code="2200", message=message)
    incident_id = services.incidents.record(failure, "alert-1", utc_now_iso()).incident.id
    services.incidents.update_fields(incident_id, verdict={"category": "timeout", "retryable": True,
                                                           "retry_delay_s": 60, "signature": {"hash": "abc"}})
    return incident_id


def queued(services: Services) -> list[dict[str, object]]:
    queue = services.storage.queue(services.settings.remediation_queue)
    return [json.loads(m.content) for m in queue.peek_messages(max_messages=32)]


def test_propose_leaves_the_plan_waiting_and_approve_enqueues_the_action(services: Services) -> None:
    assert services.remediation is not None
    incident_id = record(services)
    proposal = services.remediation.propose(incident_id, actor="agent", reason="the copy timed out")
    assert proposal.transitioned is not None
    incident = services.incidents.get(incident_id)
    assert incident is not None and incident.remediation is not None
    assert incident.remediation["state"] == PlanState.WAITING_APPROVAL
    assert incident.remediation["plan"]["action"] == "adf.rerun_from_failure"
    # A second proposal while one waits changes nothing.
    assert services.remediation.propose(incident_id, actor="agent").transitioned is None
    done = services.remediation.approve(incident_id, "alice", "go")
    assert done is not None and done.incident.remediation is not None
    assert done.incident.remediation["state"] == PlanState.PLANNED
    steps = [m["step"] for m in queued(services)]
    assert steps.count("act") == 1
    # Approving twice does nothing more.
    assert services.remediation.approve(incident_id, "bob", "again") is None
    trail = [e.action for e in services.audit.trail(incident_id)]
    assert AuditAction.APPROVAL_REQUESTED in trail and AuditAction.REMEDIATION_APPROVED in trail


def test_reject_records_who_and_why(services: Services) -> None:
    assert services.remediation is not None
    incident_id = record(services)
    services.remediation.propose(incident_id)
    done = services.remediation.reject(incident_id, "carol", "not during the close")
    assert done is not None and done.incident.remediation is not None
    assert done.incident.remediation["state"] == PlanState.REJECTED
    assert done.incident.remediation["rejected_by"] == "carol"
