"""An enrichment call that fails (401, 429, timeout) never loses the failure: the failure is made from
what the alert had and the problem is in Extraction.enrichment_errors; 429 is retried after its
Retry-After (bounded). Faults are injected by the simulators; the clients are the real SDKs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest

from extractors.azure_monitor import AzureMonitorExtractor
from extractors.databricks import DatabricksExtractor
from orchestration import processing
from orchestration.runtime import Services
from shared.models import Envelope, Extraction
from shared.timeutil import utc_now, utc_now_iso
from tests.support.fixtures_platforms import FACTORY_ID, contoso_factory, corpus, sim_settings
from tools.simulators.adf import AdfSimulator, pipeline_failed_runs_alert
from tools.simulators.databricks import SIM_TOKEN, DatabricksSimulator

AZMON = AzureMonitorExtractor()
DBX = DatabricksExtractor()


@pytest.fixture
def sim() -> Iterator[AdfSimulator]:
    with AdfSimulator() as server:
        factory = contoso_factory(server)
        for i in range(3):
            factory.add_failed_run("IngestOrders", f"error {i}", start=utc_now() - timedelta(minutes=10 + i),
                                   run_id=f"run-{i}")
        yield server


def alert() -> dict[str, object]:
    now = utc_now()
    return pipeline_failed_runs_alert(FACTORY_ID, "IngestOrders", now - timedelta(minutes=30), now)


def enrich_alert(sim: AdfSimulator, **settings: str) -> Extraction:
    return AZMON.enrich(AZMON.parse(alert()), sim_settings(ARM_ENDPOINT=sim.url, **settings))


def test_401_keeps_the_alerts_failure_and_records_the_error(sim: AdfSimulator) -> None:
    sim.inject("queryPipelineRuns", status=401)
    result = enrich_alert(sim)
    [failure] = result.failures
    assert failure.pipeline == "IngestOrders" and failure.run_id is None  # what the alert carried
    assert failure.origin["alert_id"]
    [error] = result.enrichment_errors
    assert "HTTP 401" in error and "not authenticated" in error
    assert sim.counts["queryPipelineRuns"] == 1  # an auth error is not retried


def test_429_is_retried_after_its_retry_after(sim: AdfSimulator) -> None:
    sim.inject("queryPipelineRuns", status=429, retry_after=1)
    result = enrich_alert(sim)
    assert result.enrichment_errors == []
    assert sorted(str(f.run_id) for f in result.failures) == ["run-0", "run-1", "run-2"]
    first, second = sim.times_of("queryPipelineRuns")
    assert second - first >= 0.95  # waited for Retry-After: 1


def test_429_with_a_retry_after_beyond_the_cap_is_not_waited_for(sim: AdfSimulator) -> None:
    sim.inject("queryPipelineRuns", status=429, retry_after=600, times=5)
    started = time.monotonic()
    result = enrich_alert(sim, ENRICHMENT_MAX_RETRY_AFTER_SECONDS="5")
    assert time.monotonic() - started < 5
    assert len(result.failures) == 1 and "HTTP 429" in result.enrichment_errors[0]
    assert sim.counts["queryPipelineRuns"] == 1


def test_a_timeout_is_retried_a_bounded_number_of_times_then_recorded(sim: AdfSimulator) -> None:
    sim.inject("queryPipelineRuns", delay=3, times=10)
    result = enrich_alert(sim, ENRICHMENT_TIMEOUT_SECONDS="0.5", ENRICHMENT_MAX_RETRIES="2")
    assert len(result.failures) == 1 and "no answer in time" in result.enrichment_errors[0]
    assert sim.counts["queryPipelineRuns"] == 3  # 1 try + 2 retries


def test_one_run_failing_to_enrich_keeps_all_runs(sim: AdfSimulator) -> None:
    sim.inject("queryActivityRuns", status=401)
    result = enrich_alert(sim)
    assert sorted(str(f.run_id) for f in result.failures) == ["run-0", "run-1", "run-2"]
    unenriched = [f for f in result.failures if f.activity is None]
    assert len(unenriched) == 1 and unenriched[0].message and "Operation on target" in unenriched[0].message
    assert len(result.enrichment_errors) == 1 and "activity runs of run" in result.enrichment_errors[0]


@pytest.fixture
def app_values(app_values: dict[str, str], sim: AdfSimulator) -> dict[str, str]:
    return {**app_values, "ENRICHMENT_ENABLED": "true", "ARM_ENDPOINT": sim.url, "ENRICHMENT_TIMEOUT_SECONDS": "2"}


def test_processor_makes_the_incident_and_audits_enrichment_failed(services: Services, sim: AdfSimulator) -> None:
    sim.inject("queryPipelineRuns", status=401)
    outcome = processing.process_envelope(services, Envelope("a-401", "azure-monitor", utc_now_iso(), alert()))
    [incident_id] = outcome.incident_ids
    incident = services.incidents.get(incident_id)
    assert incident is not None and incident.pipeline == "IngestOrders"
    actions = [e.action.value for e in services.audit.trail(incident_id)]
    assert "incident_created" in actions and "enrichment_failed" in actions


@pytest.fixture
def dbx() -> Iterator[DatabricksSimulator]:
    with DatabricksSimulator() as server:
        server.add_failed_job_run("nightly_orders", "transform", "ZeroDivisionError: division by zero", run_id=5000)
        yield server


def dbx_failure() -> dict[str, object]:
    body = corpus("databricks__webhook-jobs-on-failure-job__1.json")
    body["run"]["run_id"] = "5000"
    return body


@pytest.mark.parametrize("fault", ["401", "429-repeated", "timeout"])
def test_databricks_api_problems_keep_the_webhooks_failure(dbx: DatabricksSimulator, fault: str) -> None:
    if fault == "401":
        dbx.inject("runs/get", status=401)
    elif fault == "429-repeated":
        dbx.inject("runs/get", status=429, retry_after=1, times=50)
    else:
        dbx.inject("runs/get", delay=3, times=50)
    settings = sim_settings(DATABRICKS_HOST=dbx.url, DATABRICKS_TOKEN=SIM_TOKEN, ENRICHMENT_TIMEOUT_SECONDS="0.5",
                            ENRICHMENT_MAX_RETRIES="1")
    result = DBX.enrich(DBX.parse(dbx_failure()), settings)
    [failure] = result.failures
    assert (failure.run_id, failure.pipeline, failure.message) == ("5000", "job_name", None)
    [error] = result.enrichment_errors
    assert error.startswith("runs/get 5000:")


def test_databricks_429_is_retried_after_its_retry_after(dbx: DatabricksSimulator) -> None:
    dbx.inject("runs/get", status=429, retry_after=1)
    settings = sim_settings(DATABRICKS_HOST=dbx.url, DATABRICKS_TOKEN=SIM_TOKEN)
    result = DBX.enrich(DBX.parse(dbx_failure()), settings)
    assert result.enrichment_errors == [] and result.failures[0].message == "ZeroDivisionError: division by zero"
    first, second = dbx.times_of("runs/get")
    assert second - first >= 0.95
