"""Crash recovery and cross-source correlation of the processor, on a real Azurite."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestration import ingest, processing
from orchestration.runtime import Services
from shared.models import AlertStatus, AuditAction, Envelope, Failure, IncidentStatus
from shared.timeutil import utc_now_iso

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
LOG_ALERT = json.loads((SAMPLES / "azure-monitor-adf-log-alert.json").read_text())
RUN_ID = "8a1c7e52-0d3b-4f6e-9b21-5c4d3e2f1a0b"
FACTORY = ("/subscriptions/1f3c6a0e-4b1d-4c55-9d2e-6a7b8c9d0e1f/resourceGroups/rg-data/providers/"
           "Microsoft.DataFactory/factories/adf-sales-prod")


def envelope(source: str, payload: object, alert_id: str) -> Envelope:
    return Envelope(alert_id, source, utc_now_iso(), payload=payload)


def resolved(body: dict[str, object]) -> dict[str, object]:
    copy = json.loads(json.dumps(body))
    copy["data"]["essentials"]["monitorCondition"] = "Resolved"
    return copy  # type: ignore[no-any-return]


def test_resolved_alert_closes_an_incident_that_the_sweep_opened(services: Services) -> None:
    swept = Failure(source="sweep", platform="adf", resource=FACTORY, pipeline="pl_load_customers", run_id=RUN_ID)
    first = processing.process_envelope(services, envelope("sweep", {"failures": [swept.to_dict()]}, "sweep-1"))
    alerted = processing.process_envelope(services, envelope("azure-monitor", LOG_ALERT, "fired-1"))
    assert first.incident_ids == alerted.incident_ids  # one run, one incident, whoever saw it first
    closed = processing.process_envelope(services, envelope("azure-monitor", resolved(LOG_ALERT), "resolved-1"))
    assert closed.status is AlertStatus.PROCESSED and closed.incident_ids == first.incident_ids
    incident = services.incidents.get(first.incident_ids[0])
    assert incident and incident.status == IncidentStatus.RESOLVED and incident.resolved_by == "resolved-1"


def test_redelivery_after_a_crash_between_counting_and_auditing_writes_the_missing_audit(services: Services) -> None:
    failure = Failure(source="databricks", platform="databricks", resource="ws", pipeline="job", run_id="77")
    # The first delivery counted the alert and then crashed before its audit entry was written.
    services.incidents.record(failure, "alert-crashed", utc_now_iso())
    body = {"event_type": "jobs.on_failure", "workspace_id": "ws", "run": {"run_id": "77"},
            "job": {"job_id": "1", "name": "job"}}
    outcome = processing.process_envelope(services, envelope("databricks", body, "alert-crashed"))
    incident_id = outcome.incident_ids[0]
    trail = services.audit.trail(incident_id)
    assert [e.action for e in trail].count(AuditAction.INCIDENT_CREATED) == 1
    assert services.incidents.get(incident_id).occurrences == 1  # type: ignore[union-attr]
    # A third delivery changes nothing.
    processing.process_envelope(services, envelope("databricks", body, "alert-crashed"))
    assert [e.action for e in services.audit.trail(incident_id)].count(AuditAction.INCIDENT_CREATED) == 1


def test_redelivered_resolved_alert_is_not_turned_into_ignored(services: Services) -> None:
    opened = processing.process_envelope(services, envelope("azure-monitor", LOG_ALERT, "fired-2"))
    incident_id = opened.incident_ids[0]
    # The first delivery of the Resolved changed the status, then crashed before auditing.
    assert services.incidents.resolve(incident_id, "resolved-2", utc_now_iso())
    again = processing.process_envelope(services, envelope("azure-monitor", resolved(LOG_ALERT), "resolved-2"))
    assert again.status is AlertStatus.PROCESSED and again.incident_ids == [incident_id]
    actions = [e.action for e in services.audit.trail(incident_id)]
    assert actions.count(AuditAction.INCIDENT_RESOLVED) == 1
    # A different, later Resolved of the same alert finds nothing open.
    late = processing.process_envelope(services, envelope("azure-monitor", resolved(LOG_ALERT), "resolved-3"))
    assert late.status is AlertStatus.IGNORED


@pytest.mark.parametrize("depth", [65, 600, 5000])
def test_deeply_nested_json_is_a_400_not_a_retryable_503(services: Services, depth: int) -> None:
    body = b'{"a":' + b"[" * depth + b"]" * depth + b"}"
    result = ingest.accept(services, "azure-monitor", body)
    assert (result.status, result.body["error"]) == (400, "too_deeply_nested")


def test_huge_strings_from_a_payload_do_not_break_table_writes(services: Services) -> None:
    odd_state = {"dag_id": "d", "task_id": "t", "run_id": "r", "state": "x" * 40_000}
    ignored = processing.process_envelope(services, envelope("airflow", odd_state, "huge-1"))
    assert ignored.status is AlertStatus.IGNORED
    long_names = {"dag_id": "d" * 70_000, "task_id": "t" * 70_000, "run_id": "r", "exception": "boom"}
    processed = processing.process_envelope(services, envelope("airflow", long_names, "huge-2"))
    assert processed.status is AlertStatus.PROCESSED
    incident = services.incidents.get(processed.incident_ids[0])
    assert incident and incident.pipeline and len(incident.pipeline) <= 1024


def test_provisional_failure_record_is_overwritten_by_a_successful_last_attempt(services: Services) -> None:
    body = {"event_type": "jobs.on_failure", "workspace_id": "ws", "run": {"run_id": "88"}, "job": {"name": "j"}}
    env = envelope("databricks", body, "last-try-1")
    text = json.dumps(env.to_dict())
    processing.record_final_failure(services, text, RuntimeError("started"), 5, provisional=True)
    record = services.alerts.get("last-try-1")
    assert record and record.status == AlertStatus.FAILED
    assert not services.audit.has("last-try-1", AuditAction.ALERT_FAILED, "last-try-1")
    processing.process_envelope(services, env)
    record = services.alerts.get("last-try-1")
    assert record and record.status == AlertStatus.PROCESSED and record.error is None
