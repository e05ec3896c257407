"""Issue 9: each finding of the hostile review, reproduced against Azurite and the simulators."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import azure.functions as func
import pytest

from orchestration import api, ingest, processing
from orchestration.runtime import Services
from shared.config import Settings
from shared.models import AlertStatus, AuditAction, Envelope, Failure
from shared.stages import IncidentStage, StageResult
from shared.timeutil import utc_now, utc_now_iso
from tests.support.fixtures_platforms import FACTORY_ID, contoso_factory
from tools.simulators.adf import AdfSimulator, pipeline_failed_runs_alert

SUB = "1f3c6a0e-4b1d-4c55-9d2e-6a7b8c9d0e1f"


def with_values(app_values: dict[str, str], **values: str) -> Services:
    svc = Services.from_settings(Settings.from_mapping({**app_values, **values}))
    svc.ensure_ready()
    return svc


def take_and_process(svc: Services) -> list[processing.Outcome]:
    queue = svc.storage.queue(svc.settings.alerts_queue)
    outcomes = []
    for message in queue.receive_messages(max_messages=32):
        queue.delete_message(message)
        outcomes.append(processing.process_envelope(svc, processing.decode_envelope(message.content)))
    return outcomes


def log_alert(rows: list[list[str]]) -> dict[str, Any]:
    """A log search (v1) alert whose result rows each name a factory and a failed run."""
    columns = [{"name": n, "type": "string"} for n in ("_ResourceId", "PipelineName", "RunId", "ErrorMessage")]
    return {"schemaId": "azureMonitorCommonAlertSchema", "data": {
        "essentials": {"alertId": f"/subscriptions/{SUB}/providers/Microsoft.AlertsManagement/alerts/{time.time_ns()}",
                       "alertRule": "adf-failed-runs", "severity": "Sev2", "signalType": "Log",
                       "monitorCondition": "Fired", "monitoringService": "Log Analytics",
                       "alertTargetIDs": [f"/subscriptions/{SUB}/resourcegroups/rg/providers/"
                                          "microsoft.operationalinsights/workspaces/law"],
                       "firedDateTime": utc_now_iso()},
        "alertContext": {"SearchResults": {"tables": [{"name": "PrimaryResult", "columns": columns, "rows": rows}]}}}}


def factory(i: int) -> str:
    return f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.DataFactory/factories/adf-{i}"


# --- finding 3: the alert chooses what the app's identity queries --------------------------------------------

@pytest.fixture
def sim() -> Iterator[AdfSimulator]:
    with AdfSimulator() as server:
        contoso_factory(server).add_failed_run("IngestOrders", "boom", code="2200", activity="Copy", run_id="r-1")
        outsider = server.add_factory("outsider", subscription="99999999-0000-0000-0000-000000000000")
        outsider.add_failed_run("IngestOrders", "boom", code="2200", activity="Copy", run_id="r-2")
        yield server


def test_an_alert_naming_a_factory_outside_the_allow_list_causes_no_call(app_values: dict[str, str],
                                                                        sim: AdfSimulator) -> None:
    svc = with_values(app_values, ENRICHMENT_ENABLED="true", ARM_ENDPOINT=sim.url, ALLOWED_RESOURCES=FACTORY_ID)
    outsider = "/subscriptions/99999999-0000-0000-0000-000000000000/resourceGroups/sim-rg/providers/" \
               "Microsoft.DataFactory/factories/outsider"
    now = utc_now()
    alert = pipeline_failed_runs_alert(outsider, "IngestOrders", now - timedelta(minutes=30), now)
    outcome = processing.process_envelope(svc, Envelope("scope-1", "azure-monitor", utc_now_iso(), alert))
    assert sum(sim.counts.values()) == 0  # nothing was called with the app's identity
    [incident_id] = outcome.incident_ids
    trail = svc.audit.trail(incident_id)
    failed = [e.reason for e in trail if e.action is AuditAction.ENRICHMENT_FAILED]
    assert failed and "outside ALLOWED_RESOURCES" in failed[0]
    # Finding 10: the verdict says in words that the error could not be fetched, and why.
    incident = svc.incidents.get(incident_id)
    assert incident is not None and incident.verdict is not None
    assert "could not be fetched" in incident.verdict["explanation"]
    assert "ALLOWED_RESOURCES" in incident.verdict["explanation"]
    # The allowed factory is still enriched.
    inside = pipeline_failed_runs_alert(FACTORY_ID, "IngestOrders", now - timedelta(minutes=30), now)
    processing.process_envelope(svc, Envelope("scope-2", "azure-monitor", utc_now_iso(), inside))
    assert sim.counts["queryPipelineRuns"] >= 1


# --- finding 4: unbounded work per alert -----------------------------------------------------------------------

def test_an_alert_with_300_runs_makes_at_most_n_incidents_and_says_what_was_dropped(
        app_values: dict[str, str]) -> None:
    svc = with_values(app_values, MAX_FAILURES_PER_ALERT="5")
    rows = [[factory(i), f"pl_{i}", f"run-{i}", f"failure {i}"] for i in range(300)]
    started = time.monotonic()
    outcome = processing.process_envelope(svc, Envelope("many-1", "azure-monitor", utc_now_iso(), log_alert(rows)))
    assert time.monotonic() - started < 60
    assert outcome.status is AlertStatus.PROCESSED and len(outcome.incident_ids) == 6
    record = svc.alerts.get("many-1")
    assert record is not None and record.dropped_failures == 295
    notice = svc.incidents.get(outcome.incident_ids[-1])
    assert notice is not None and notice.error_code == "AlertTruncated"
    assert "295 more failure(s)" in (notice.error_message or "") and "pl_5 run run-5" in (notice.error_message or "")
    # Processed again (a redelivery): nothing is counted twice.
    again = processing.process_envelope(svc, Envelope("many-1", "azure-monitor", utc_now_iso(), log_alert(rows)))
    assert again.incident_ids == outcome.incident_ids
    assert svc.incidents.get(outcome.incident_ids[0]).occurrences == 1  # type: ignore[union-attr]


def test_the_processing_deadline_stops_new_failures_and_records_the_rest(app_values: dict[str, str]) -> None:
    svc = with_values(app_values, PROCESSING_DEADLINE_SECONDS="0")
    rows = [[factory(i), f"pl_{i}", f"run-{i}", f"failure {i}"] for i in range(4)]
    outcome = processing.process_envelope(svc, Envelope("late-1", "azure-monitor", utc_now_iso(), log_alert(rows)))
    assert len(outcome.incident_ids) == 2  # the first failure, then the notice naming the other three
    record = svc.alerts.get("late-1")
    assert record is not None and record.dropped_failures == 3


# --- finding 5: slow 503s ----------------------------------------------------------------------------------------

@pytest.fixture
def hung_storage() -> Iterator[int]:
    """A port that accepts connections and never answers (storage paused or hung)."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(2)
    for conn in held:
        conn.close()
    server.close()


def hung_values(app_values: dict[str, str], port: int) -> dict[str, str]:
    from shared.storage import azurite_connection_string

    return {**app_values, "AzureWebJobsStorage": azurite_connection_string(blob=port, queue=port, table=port)}


def test_with_storage_hung_ingest_and_health_answer_503_within_seconds(app_values: dict[str, str],
                                                                      hung_storage: int,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import orchestration.runtime as runtime

    base = Services.from_settings(Settings.from_mapping(hung_values(app_values, hung_storage)))
    monkeypatch.setattr(runtime, "_services", base)  # test wiring: the handlers' process-wide services
    monkeypatch.setattr(runtime, "_request_services", None)
    body = json.dumps({"dag_id": "d", "task_id": "t", "run_id": "r", "state": "failed"}).encode()
    for handler in (lambda: api.receive_alert("airflow", func.HttpRequest("POST", "/api/airflow-monitor",
                                                                          body=body)),
                    lambda: api.health(func.HttpRequest("GET", "/api/health", body=b""))):
        started = time.monotonic()
        response = handler()
        elapsed = time.monotonic() - started
        assert response.status_code == 503 and response.headers.get("Retry-After")
        assert elapsed < 8, f"503 took {elapsed:.1f}s (was 45 s: 15 s read timeout x 3 tries)"
        text = response.get_body().decode()
        assert "127.0.0.1" not in text and str(hung_storage) not in text  # health reveals no endpoint


# --- finding 6: a 503 that was not a failure -------------------------------------------------------------------

def test_a_retried_delivery_is_recognised_and_a_new_firing_still_counts(services: Services) -> None:
    rows = [[factory(1), "pl_1", "run-1", "failure 1"]]
    alert = log_alert(rows)
    first = ingest.accept(services, "azure-monitor", json.dumps(alert).encode())
    retry = ingest.accept(services, "azure-monitor", json.dumps(alert).encode())  # after an ambiguous 503
    assert first.status == retry.status == 202 and first.body["id"] == retry.body["id"]
    alert["data"]["essentials"]["firedDateTime"] = "2030-01-01T00:00:00Z"  # the rule fired again
    again = ingest.accept(services, "azure-monitor", json.dumps(alert).encode())
    assert again.body["id"] != first.body["id"]
    outcomes = take_and_process(services)
    assert len(outcomes) == 3
    incident = services.incidents.get(outcomes[0].incident_ids[0])
    assert incident is not None and incident.occurrences == 2  # the retry was not a second occurrence


# --- finding 7: a property over Table Storage's limit ----------------------------------------------------------

def test_an_analysis_over_the_property_limit_is_stored_and_notify_still_runs(services: Services) -> None:
    dag = "\U0001F600" * 2000
    body = {"dag_id": dag, "task_id": "t" + "\U0001F4A5" * 1500, "run_id": "r-emoji", "state": "failed",
            "exception": "\U0001F525" * 20_000}
    result = ingest.accept(services, "airflow", json.dumps(body).encode())
    assert result.status == 202
    [outcome] = take_and_process(services)
    assert outcome.status is AlertStatus.PROCESSED
    incident = services.incidents.get(outcome.incident_ids[0])
    assert incident is not None and incident.analysis is not None and incident.verdict is not None
    assert incident.ownership  # the stage after the large analysis ran and its result was stored too
    actions = [e.action for e in services.audit.trail(incident.id)]
    assert AuditAction.ANALYSIS_FAILED not in actions


class _UnstorableStage(IncidentStage):
    name = "unstorable"
    owns = None
    failure_action = AuditAction.ANALYSIS_FAILED

    def run(self, incident: Any, failure: Failure) -> StageResult:
        return StageResult(fields={"no_such_column": "x"})


def test_a_stage_whose_result_cannot_be_stored_is_audited_and_the_alert_is_processed(services: Services) -> None:
    services.stages = [_UnstorableStage(), *services.stages]
    body = {"dag_id": "d", "task_id": "t", "run_id": "r-store", "state": "failed", "exception": "boom"}
    ingest.accept(services, "airflow", json.dumps(body).encode())
    [outcome] = take_and_process(services)
    assert outcome.status is AlertStatus.PROCESSED
    trail = services.audit.trail(outcome.incident_ids[0])
    assert any(e.action is AuditAction.ANALYSIS_FAILED and "could not be stored" in e.reason for e in trail)
    incident = services.incidents.get(outcome.incident_ids[0])
    assert incident is not None and incident.verdict and incident.ownership  # the other stages' results are stored


# --- finding 8 and 10: the API's edge and wrong routes ---------------------------------------------------------

@pytest.fixture
def handlers(services: Services, monkeypatch: pytest.MonkeyPatch) -> Services:
    import orchestration.runtime as runtime

    monkeypatch.setattr(runtime, "_services", services)  # test wiring: the handlers' process-wide services
    return services


def get(handler: Any, params: dict[str, str] | None = None, route: dict[str, str] | None = None) -> tuple[int, Any]:
    response = handler(func.HttpRequest("GET", "/api/x", body=b"", params=params or {}, route_params=route or {}))
    return response.status_code, json.loads(response.get_body() or b"null")


def test_bad_parameters_are_400_and_impossible_keys_404(handlers: Services) -> None:
    status, body = get(api.list_incidents, {"since": "0001-01-01T00:00:00+01:00"})
    assert status == 400 and body["error"] == "invalid_since"
    status, body = get(api.list_incidents, {"status": "bogus"})
    assert status == 400 and body["error"] == "invalid_status"
    assert all(s in body["detail"] for s in ("open", "remediating", "resolved", "escalated"))
    assert get(api.list_incidents, {"platform": "spark"})[0] == 400
    assert get(api.list_incidents, {"status": "open"})[0] == 200
    for bad in ("a/b", "a#b", "a?b", "a\\b", "x" * 600, "a\x01b"):
        assert get(api.get_incident, route={"id": bad})[0] == 404, bad
        assert get(api.get_alert, route={"id": bad})[0] == 404, bad


@pytest.mark.parametrize(("route", "sample", "right"), [
    ("azure-monitor", "databricks-job-failed.json", "/api/databricks-monitor"),
    ("airflow", "azure-monitor-adf-pipeline-failed.json", "/api/azure-monitor"),
    ("databricks", "airflow-task-failed.json", "/api/airflow-monitor"),
])
def test_a_body_on_the_wrong_route_is_told_the_right_one(services: Services, route: str, sample: str,
                                                         right: str) -> None:
    from tests.conftest import CORPUS

    body = json.loads((CORPUS.parent.parent / "samples" / sample).read_text())
    ingest.accept(services, route, json.dumps(body).encode())
    [outcome] = take_and_process(services)
    assert outcome.status is AlertStatus.IGNORED and right in (outcome.reason or "")
    assert "enable the common alert schema" not in (outcome.reason or "")


def test_a_smart_detector_latency_alert_is_not_a_failure_incident(services: Services) -> None:
    alert = {"schemaId": "azureMonitorCommonAlertSchema", "data": {
        "essentials": {"alertId": "/subscriptions/x/providers/Microsoft.AlertsManagement/alerts/sd1",
                       "alertRule": "Response Latency Degradation - func-app", "signalType": "Log",
                       "monitorCondition": "Fired", "monitoringService": "SmartDetector",
                       "alertTargetIDs": [f"/subscriptions/{SUB}/resourcegroups/rg/providers/microsoft.insights/"
                                          "components/appi"], "firedDateTime": utc_now_iso()},
        "alertContext": {"DetectionSummary": "The server response time increased", "FormattedTimeRange": "x"}}}
    ingest.accept(services, "azure-monitor", json.dumps(alert).encode())
    [outcome] = take_and_process(services)
    assert outcome.status is AlertStatus.IGNORED and "smart detection" in (outcome.reason or "")
