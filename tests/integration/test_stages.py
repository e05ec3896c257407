"""The processor runs stages in order; a failing stage is audited and does not fail the alert."""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

from notify.routing import Rules
from notify.stages import OwnershipStage
from orchestration import ingest, processing
from orchestration.runtime import Services
from shared.lifecycle import Event
from shared.models import AlertStatus, AuditAction, Failure, Incident
from shared.stages import IncidentStage, StageResult

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "databricks-job-failed.json"


class BrokenStage(IncidentStage):
    name = "broken"
    owns: ClassVar[str | None] = "remediation"

    def run(self, incident: Incident, failure: Failure) -> StageResult:
        raise RuntimeError("remediation backend down")


class RecordingStage(IncidentStage):
    name = "recording"
    owns: ClassVar[str | None] = "verdict"

    def __init__(self) -> None:
        self.seen: list[str] = []

    def run(self, incident: Incident, failure: Failure) -> StageResult:
        self.seen.append(incident.id)
        return StageResult(fields={"verdict": {"category": "test", "retryable": False}},
                           audit=[(AuditAction.CLASSIFIED, "classified by the test stage", {})])


def process(services: Services, task: str | None = None) -> processing.Outcome:
    body = json.loads(SAMPLE.read_bytes())
    if task:  # another notification about the same run (a retry of the same body would have the same id)
        body["task"] = {"task_key": task}
    result = ingest.accept(services, "databricks", json.dumps(body).encode())
    queue = services.storage.queue(services.settings.alerts_queue)
    [message] = list(queue.receive_messages(max_messages=1))
    queue.delete_message(message)
    envelope = processing.decode_envelope(message.content)
    assert envelope.id == result.body["id"]
    return processing.process_envelope(services, envelope)


def test_stages_run_once_per_incident_and_failures_are_audited(services: Services) -> None:
    recording = RecordingStage()
    services.stages = [recording, BrokenStage(), OwnershipStage(Rules.load())]
    first = process(services)
    assert first.status is AlertStatus.PROCESSED
    incident_id = first.incident_ids[0]
    incident = services.incidents.get(incident_id)
    assert incident is not None
    assert incident.verdict == {"category": "test", "retryable": False}
    # The shipped routing file gives Databricks jobs to the lakehouse team.
    assert (incident.team, incident.ownership) == ("lakehouse", {
        "team": "lakehouse", "owner": "lakehouse-oncall@contoso.example", "cost_center": "CC-2002"})
    assert incident.remediation is None
    trail = services.audit.trail(incident_id)
    failed = [e for e in trail if e.action is AuditAction.ANALYSIS_FAILED]
    assert failed and "remediation backend down" in failed[0].reason and failed[0].actor == "broken"
    assert [e.action for e in trail].index(AuditAction.INCIDENT_CREATED) < [e.action for e in trail].index(
        AuditAction.CLASSIFIED)
    # A second report of the same run only counts; stages do not run again.
    process(services, task="publish")
    assert recording.seen == [incident_id]
    assert json.loads(json.dumps(services.incidents.get(incident_id).to_api()))["occurrences"] == 2  # type: ignore[union-attr]


class PlanningStage(IncidentStage):
    """Changes the incident's status through the lifecycle, as a remediation stage does."""

    name = "planning"
    owns: ClassVar[str | None] = None

    def __init__(self, services: Services) -> None:
        self.services = services

    def run(self, incident: Incident, failure: Failure) -> StageResult:
        self.services.lifecycle.apply(incident.id, Event.REMEDIATION_PLANNED, actor="planning", reason="test plan",
                                      fields={"remediation": {"state": "planned"}})
        return StageResult()


class SeeingStage(IncidentStage):
    name = "seeing"
    owns: ClassVar[str | None] = "notifications"

    def __init__(self) -> None:
        self.seen: list[tuple[int, object, object]] = []

    def run(self, incident: Incident, failure: Failure) -> StageResult:
        self.seen.append((incident.event_seq, incident.remediation, incident.verdict))
        return StageResult(fields={"notifications": [{"channel": "test"}]})


def test_a_stage_after_a_lifecycle_change_sees_the_changed_incident_and_earlier_fields(services: Services) -> None:
    seeing = SeeingStage()
    services.stages = [RecordingStage(), PlanningStage(services), seeing]
    outcome = process(services)
    # The third stage sees the plan (written by the lifecycle) and the verdict (not stored yet when it runs).
    assert seeing.seen == [(2, {"state": "planned"}, {"category": "test", "retryable": False})]
    incident = services.incidents.get(outcome.incident_ids[0])
    assert incident is not None and incident.event_seq == 2 and incident.remediation == {"state": "planned"}
    assert incident.verdict == {"category": "test", "retryable": False}
    assert incident.notifications == [{"channel": "test"}]
