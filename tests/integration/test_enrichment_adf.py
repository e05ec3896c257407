"""Data Factory / Synapse enrichment against the simulated ARM / Synapse server, through the real
azure-mgmt-datafactory client (ADF) and the azure-core REST pipeline (Synapse)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from extractors.azure_monitor import AzureMonitorExtractor
from orchestration import processing
from orchestration.runtime import Services
from shared.config import Settings
from shared.models import Envelope, Extraction
from shared.timeutil import to_iso, utc_now, utc_now_iso
from tests.support.fixtures_platforms import (
    FACTORY_ID,
    SUB,
    contoso_factory,
    corpus,
    envelope,
    essentials,
    metric_context,
    sim_settings,
)
from tools.simulators.adf import AdfSimulator, SimActivity, SimFactory, activity_error, pipeline_failed_runs_alert

ERRORS = [json.loads(line) for line in (Path(__file__).resolve().parents[1] / "corpus" /
                                        "errors-train.jsonl").read_text().splitlines() if line.strip()]
ADF_ERRORS = [e for e in ERRORS if e["platform"] == "adf" and e["error_code"]][:3]
X = AzureMonitorExtractor()


@pytest.fixture
def sim() -> Iterator[AdfSimulator]:
    with AdfSimulator() as server:
        yield server


def seeded(sim: AdfSimulator) -> SimFactory:
    """IngestOrders failed 3 times in the last 20 minutes; noise around it."""
    factory = contoso_factory(sim)
    now = utc_now()
    for i, error in enumerate(ADF_ERRORS):
        factory.add_failed_run("IngestOrders", error["message"], code=error["error_code"],
                               failure_type=error["failure_type"] or "UserError", activity=f"Copy step {i}",
                               start=now - timedelta(minutes=18 - 5 * i), run_id=f"run-{i}")
    factory.add_run("IngestOrders", start=now - timedelta(minutes=15))
    factory.add_failed_run("OtherPipeline", "not this one", start=now - timedelta(minutes=10))
    factory.add_failed_run("IngestOrders", "too old", start=now - timedelta(hours=5))
    return factory


def alert(pipeline: str = "IngestOrders", minutes: int = 30, **kw: object) -> dict[str, object]:
    now = utc_now()
    return pipeline_failed_runs_alert(FACTORY_ID, pipeline, now - timedelta(minutes=minutes), now, **kw)  # type: ignore[arg-type]


def enrich(body: dict[str, object], settings: Settings) -> Extraction:
    return X.enrich(X.parse(body), settings)


def test_pipeline_failed_runs_alert_becomes_one_failure_per_failed_run_with_the_activity_error(
        sim: AdfSimulator) -> None:
    seeded(sim)
    body = alert(failed=3)
    result = enrich(body, sim_settings(ARM_ENDPOINT=sim.url))
    assert result.enrichment_errors == []
    by_run = {f.run_id: f for f in result.failures}
    assert sorted(by_run) == ["run-0", "run-1", "run-2"]
    for i, error in enumerate(ADF_ERRORS):
        failure = by_run[f"run-{i}"]
        assert failure.activity == f"Copy step {i}"
        assert (failure.error_code, failure.message) == (error["error_code"], error["message"])
        assert failure.pipeline == "IngestOrders" and failure.source == "azure-monitor"
        assert failure.origin["alert_id"] == body["data"]["essentials"]["alertId"]  # type: ignore[index]
        assert failure.links["run"].startswith("https://adf.azure.com/en/monitoring/pipelineruns/run-")
    # one query for the runs, one per failed run for its activities
    assert sim.counts["queryPipelineRuns"] == 1 and sim.counts["queryActivityRuns"] == 3
    assert result.failures[0].origin["enrichment"]["calls"] == {"queryPipelineRuns": 1, "queryActivityRuns": 3}


def test_the_second_page_of_runs_is_followed(sim: AdfSimulator) -> None:
    sim.page_size = 2
    seeded(sim)
    result = enrich(alert(), sim_settings(ARM_ENDPOINT=sim.url))
    assert sorted(str(f.run_id) for f in result.failures) == ["run-0", "run-1", "run-2"]
    assert sim.counts["queryPipelineRuns"] == 2


def test_an_execute_pipeline_failure_reports_the_child_runs_error(sim: AdfSimulator) -> None:
    factory = seeded(sim)
    root_cause = ADF_ERRORS[1]
    parent, child = factory.add_execute_pipeline_failure("NightlyLoad", "LoadWarehouse", root_cause["message"],
                                                         code=root_cause["error_code"], child_activity="Copy_sks")
    result = enrich(alert("NightlyLoad"), sim_settings(ARM_ENDPOINT=sim.url))
    [failure] = result.failures
    assert failure.run_id == parent.run_id  # the incident is the parent run ...
    assert failure.activity == "Copy_sks"  # ... and the root cause is the child's failed activity
    assert failure.message == root_cause["message"] and failure.error_code == root_cause["error_code"]
    [step] = failure.origin["execute_pipeline"]
    assert (step["activity"], step["child_pipeline"], step["child_run_id"]) == ("Run child", "LoadWarehouse",
                                                                               child.run_id)
    assert child.run_id in failure.links["child_run_1"]


def test_an_alert_not_split_by_pipeline_reports_parents_not_their_children(sim: AdfSimulator) -> None:
    factory = seeded(sim)
    parent, _child = factory.add_execute_pipeline_failure("NightlyLoad", "LoadWarehouse", "child error")
    now = utc_now()
    body = envelope(metric_context("PipelineFailedRuns", {"FailureType": "UserError"},
                                   start=to_iso(now - timedelta(minutes=30)), end=to_iso(now)),
                    essentials(alertTargetIDs=[FACTORY_ID.lower()]))
    failures = enrich(body, sim_settings(ARM_ENDPOINT=sim.url)).failures
    runs = {f.run_id: f for f in failures}
    assert set(runs) == {"run-0", "run-1", "run-2", parent.run_id} | {
        r.run_id for r in factory.runs.values() if r.pipeline == "OtherPipeline"}
    assert runs[parent.run_id].message == "child error"


def test_activity_failed_runs_alert_is_enriched_like_pipeline_failed_runs(sim: AdfSimulator) -> None:
    seeded(sim)
    now = utc_now()
    body = envelope(metric_context("ActivityFailedRuns", {"PipelineName": "IngestOrders", "Name": "Copy step 1"},
                                   start=to_iso(now - timedelta(minutes=30)), end=to_iso(now)),
                    essentials(alertTargetIDs=[FACTORY_ID.lower()]))
    result = enrich(body, sim_settings(ARM_ENDPOINT=sim.url))
    assert len(result.failures) == 3 and {f.run_id for f in result.failures} == {"run-0", "run-1", "run-2"}


def test_activity_failed_runs_alert_picks_the_activity_it_names(sim: AdfSimulator) -> None:
    factory = seeded(sim)
    acts = [SimActivity("Validate", "Validation", "Failed", activity_error("first to fail", "2001", target="Validate")),
            SimActivity("Load", "Copy", "Failed", activity_error("the one alerted on", "2200", target="Load"))]
    factory.add_run("TwoFailures", "Failed", activities=acts, run_id="run-two")
    now = utc_now()
    body = envelope(metric_context("ActivityFailedRuns", {"PipelineName": "TwoFailures", "Name": "Load"},
                                   start=to_iso(now - timedelta(minutes=30)), end=to_iso(now)),
                    essentials(alertTargetIDs=[FACTORY_ID.lower()]))
    [failure] = enrich(body, sim_settings(ARM_ENDPOINT=sim.url)).failures
    assert (failure.activity, failure.message) == ("Load", "the one alerted on")
    assert failure.origin["other_failed_activities"][0]["activity"] == "Validate"
    plain = enrich(alert("TwoFailures"), sim_settings(ARM_ENDPOINT=sim.url)).failures[0]
    assert plain.activity == "Validate"  # without a named activity: the first to fail


def test_a_log_alert_split_by_run_id_fetches_that_runs_error(sim: AdfSimulator) -> None:
    seeded(sim)
    body = corpus("azmon__testaction-logalertsv2__1.json")
    body["data"]["alertContext"]["condition"]["allOf"][0]["dimensions"] = [
        {"name": "_ResourceId", "value": FACTORY_ID.upper()}, {"name": "RunId", "value": "run-2"}]
    [failure] = enrich(body, sim_settings(ARM_ENDPOINT=sim.url)).failures
    assert (failure.pipeline, failure.activity, failure.message) == ("IngestOrders", "Copy step 2",
                                                                     ADF_ERRORS[2]["message"])
    assert dict(sim.counts) == {"getPipelineRun": 1, "queryActivityRuns": 1}


def test_no_failed_run_in_the_window_keeps_the_alert_and_says_why(sim: AdfSimulator) -> None:
    seeded(sim)
    result = enrich(alert("NeverFails"), sim_settings(ARM_ENDPOINT=sim.url))
    [failure] = result.failures
    assert failure.run_id is None and failure.pipeline == "NeverFails"
    assert "no failed run of NeverFails" in result.enrichment_errors[0]


def test_a_real_error_object_with_details_is_kept_whole(sim: AdfSimulator) -> None:
    factory = seeded(sim)
    error = corpus("adf__activity-error-object-copy-failed__1.json")
    error["details"] = [{"code": "inner", "message": "the inner error"}]
    factory.add_failed_run("CustomersToBlob", "", error=error, activity=error["target"], run_id="run-real")
    [failure] = enrich(alert("CustomersToBlob"), sim_settings(ARM_ENDPOINT=sim.url)).failures
    assert (failure.error_code, failure.failure_type, failure.activity) == ("2200", "UserError",
                                                                            "SmartFoodsCustomersToBlob")
    assert failure.message == error["message"] and failure.origin["error_details"] == error["details"]


def test_synapse_alert_through_the_synapse_rest_api(sim: AdfSimulator) -> None:
    workspace = sim.add_workspace("contoso-syn", subscription=SUB, resource_group="pipelines-rg")
    workspace.add_failed_run("LoadDW", "Query failed because of a topology change or compute container failure",
                             code="2011", activity="Run SQL", run_id="syn-1")
    now = utc_now()
    body = envelope(metric_context("IntegrationPipelineRunsEnded", {"Result": "Failed", "Pipeline": "LoadDW"},
                                   namespace="Microsoft.Synapse/workspaces",
                                   start=to_iso(now - timedelta(minutes=30)), end=to_iso(now)),
                    essentials(alertTargetIDs=[workspace.resource_id.lower()]))
    settings = sim_settings(SYNAPSE_ENDPOINT=sim.synapse_endpoint_template())
    [failure] = enrich(body, settings).failures
    assert (failure.platform, failure.run_id, failure.activity) == ("synapse", "syn-1", "Run SQL")
    assert "topology change" in str(failure.message)
    assert failure.links["run"].startswith("https://web.azuresynapse.net/en/monitoring/pipelineruns/syn-1")


def test_the_simulator_answers_in_the_shapes_of_the_rest_spec_examples(sim: AdfSimulator) -> None:
    """The corpus adf__restapi-* files (REST spec examples) are the contract the simulator keeps."""
    factory = seeded(sim)
    run = factory.runs["run-0"]
    spec_runs = corpus("adf__restapi-queryPipelineRuns-response__1.json")["responses"]["200"]["body"]["value"]
    spec_acts = corpus("adf__restapi-queryActivityRuns-response__1.json")["responses"]["200"]["body"]["value"]
    spec_get = corpus("adf__restapi-pipelineRun-get__1.json")["responses"]["200"]["body"]
    assert set(spec_runs[0]) <= set(run.as_json())
    assert set(spec_get) <= set(run.as_json())
    assert set(spec_acts[0]) <= set(run.activity_json(0, run.activities[0]))
    assert set(spec_acts[0]["error"]) <= set(run.activity_json(1, run.activities[1])["error"])


@pytest.fixture
def app_values(app_values: dict[str, str], sim: AdfSimulator) -> dict[str, str]:
    return {**app_values, "ENRICHMENT_ENABLED": "true", "ARM_ENDPOINT": sim.url, "ENRICHMENT_TIMEOUT_SECONDS": "5"}


def test_processed_alert_makes_one_incident_per_run_and_resolved_closes_them(services: Services,
                                                                              sim: AdfSimulator) -> None:
    seeded(sim)
    body = alert()
    fired = processing.process_envelope(services, Envelope("alert-fired", "azure-monitor", utc_now_iso(), body))
    assert len(fired.incident_ids) == 3
    incidents = [services.incidents.get(i) for i in fired.incident_ids]
    assert sorted(str(i.run_id) for i in incidents if i) == ["run-0", "run-1", "run-2"]
    assert {i.error_message for i in incidents if i} == {e["message"] for e in ADF_ERRORS}
    resolved = {**body, "data": {**body["data"], "essentials": {  # type: ignore[dict-item]
        **body["data"]["essentials"], "monitorCondition": "Resolved"}}}  # type: ignore[index]
    outcome = processing.process_envelope(services, Envelope("alert-resolved", "azure-monitor", utc_now_iso(),
                                                             resolved))
    assert sorted(outcome.incident_ids) == sorted(fired.incident_ids)
    assert {services.incidents.get(i).status for i in fired.incident_ids} == {"resolved"}  # type: ignore[union-attr]


@pytest.mark.parametrize("metric", ["TriggerFailedRuns", "IntegrationTriggerRunsEnded"])
def test_a_trigger_alert_keeps_the_trigger_failure_and_looks_up_no_runs(sim: AdfSimulator, metric: str) -> None:
    factory = contoso_factory(sim)
    now = utc_now()
    factory.add_failed_run("UnrelatedPipelineA", "boom A", start=now - timedelta(minutes=10))
    factory.add_failed_run("UnrelatedPipelineB", "boom B", start=now - timedelta(minutes=8))
    body = pipeline_failed_runs_alert(FACTORY_ID, "NightlyTrigger", now - timedelta(minutes=15), now, metric=metric)
    result = enrich(body, sim_settings(ARM_ENDPOINT=sim.url))
    [failure] = result.failures
    assert (failure.run_id, failure.pipeline) == (None, None)
    assert failure.origin["trigger"] == "NightlyTrigger" and failure.message == "trigger NightlyTrigger failed"
    assert sim.counts["queryPipelineRuns"] == 0 and result.enrichment_errors == []


class LoopingSimulator(AdfSimulator):
    """A misbehaving server: every runs page is the first one, with the same or always a new token."""

    def __init__(self, same_token: bool) -> None:
        super().__init__(page_size=2)
        self.same_token = same_token

    def _runs_page(self, q: dict[str, str], body: dict[str, object], kind: str,
                   name: str) -> tuple[int, dict[str, str], object]:
        status, headers, page = super()._runs_page(q, {**body, "continuationToken": None}, kind, name)
        if isinstance(page, dict):
            page["continuationToken"] = "again" if self.same_token else f"t{self.counts['queryPipelineRuns']}"
        return status, headers, page


@pytest.mark.parametrize("same_token", [True, False], ids=["repeated-token", "no-new-runs"])
def test_paging_stops_when_the_server_repeats_itself(same_token: bool) -> None:
    sim = LoopingSimulator(same_token)
    sim.start()
    try:
        seeded(sim)
        result = enrich(alert(), sim_settings(ARM_ENDPOINT=sim.url))
        assert sim.counts["queryPipelineRuns"] == 2  # the first page, then the one that repeats it
        runs = [f.run_id for f in result.failures]
        assert len(runs) == len(set(runs)) == 2  # each run once
    finally:
        sim.stop()


def test_failures_of_one_alert_are_capped_and_the_overflow_recorded(sim: AdfSimulator) -> None:
    factory = contoso_factory(sim)
    now = utc_now()
    for i in range(130):
        factory.add_failed_run("IngestOrders", f"error {i}", start=now - timedelta(minutes=20, seconds=-i),
                               run_id=f"r-{i:03d}")
    result = enrich(alert(), sim_settings(ARM_ENDPOINT=sim.url, ENRICHMENT_MAX_RUNS="2"))
    assert len(result.failures) == 100
    assert any("more than 100 failed runs" in e for e in result.enrichment_errors)


def test_a_failed_child_of_a_parent_that_caught_it_is_reported(sim: AdfSimulator) -> None:
    factory = contoso_factory(sim)
    parent, child = factory.add_execute_pipeline_failure("NightlyLoad", "LoadWarehouse", "Login failed for user")
    parent.status = "Succeeded"  # try/catch in the parent: the parent run succeeded, only the child failed
    now = utc_now()
    body = envelope(metric_context("PipelineFailedRuns", {"FailureType": "UserError"},
                                   start=to_iso(now - timedelta(minutes=30)), end=to_iso(now)),
                    essentials(alertTargetIDs=[FACTORY_ID.lower()]))
    [failure] = enrich(body, sim_settings(ARM_ENDPOINT=sim.url)).failures
    assert (failure.run_id, failure.pipeline, failure.message) == (child.run_id, "LoadWarehouse",
                                                                   "Login failed for user")
    assert failure.origin["parent_run_id"] == parent.run_id
