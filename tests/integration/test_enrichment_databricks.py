"""Databricks enrichment against the simulated workspace, through the official databricks-sdk.
The corpus API samples (runs/get with failed tasks, runs/get-output, clusters/events) are the
simulator's fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from extractors.databricks import DatabricksExtractor
from shared.config import Settings
from tests.support.fixtures_platforms import corpus, sim_settings
from tools.simulators.databricks import SIM_TOKEN, DatabricksSimulator

X = DatabricksExtractor()
TRACE = ("Traceback (most recent call last):\n  File \"/Workspace/etl/transform.py\", line 42, in <module>\n"
         "    ratio = total / count\nZeroDivisionError: division by zero")


@pytest.fixture
def dbx() -> Iterator[DatabricksSimulator]:
    with DatabricksSimulator() as server:
        yield server


def settings(dbx: DatabricksSimulator) -> Settings:
    return sim_settings(DATABRICKS_HOST=dbx.url, DATABRICKS_TOKEN=SIM_TOKEN)


def webhook(run_id: int, task: str | None = None) -> dict[str, object]:
    body = corpus("databricks__webhook-jobs-on-failure-job__1.json")
    body["run"] = {"run_id": str(run_id)}
    if task:
        body["run"] = {"run_id": str(run_id + 1), "parent_run_id": str(run_id)}
        body["task"] = {"task_key": task}
    return body


def test_job_failure_gets_the_failed_tasks_message_and_trace(dbx: DatabricksSimulator) -> None:
    run = dbx.add_failed_job_run("nightly_orders", "transform", "ZeroDivisionError: division by zero", trace=TRACE,
                                 other_tasks=("ingest", "validate"), run_id=9100)
    result = X.enrich(X.parse(webhook(9100)), settings(dbx))
    assert result.enrichment_errors == []
    [failure] = result.failures
    assert failure.activity == "transform"
    assert failure.message == "ZeroDivisionError: division by zero"
    assert failure.origin["error_trace"] == TRACE
    assert (failure.error_code, failure.failure_type) == ("RUN_EXECUTION_ERROR", "CLIENT_ERROR")
    assert failure.links["run"] == run["run_page_url"] and failure.start and failure.end
    assert dbx.counts["runs/get"] == 1 and dbx.counts["runs/get-output"] == 1  # only the failed task's output


def test_vendor_samples_failed_tasks_library_failure_and_outputs(dbx: DatabricksSimulator) -> None:
    run = corpus("databricks__jobs-runs-get-failed-tasks__1.json")
    output = corpus("databricks__jobs-runs-get-output__1.json")
    dbx.add_run(run, {2112892: output, 2112902: output})
    dbx.libraries["0923-164208-meows279"] = [
        {"library": {"jar": "dbfs:/mnt/databricks/Sessionize.jar"}, "status": "FAILED",
         "messages": ["'Manage' permissions are required to install libraries on a cluster"]}]
    result = X.enrich(X.parse(webhook(455644833)), settings(dbx))
    [failure] = result.failures
    assert failure.activity == "Sessionize"  # the first task to fail; Match was SKIPPED (a victim)
    assert failure.message == "ZeroDivisionError: integer division or modulo by zero"
    assert "Library installation failed" in failure.origin["state_message"]
    assert failure.error_code == "LIBRARY_INSTALLATION_FAILED"  # termination_details SUCCESS is the placeholder
    assert failure.origin["failed_libraries"][0]["messages"]
    assert [t["task"] for t in failure.origin["failed_tasks"]] == ["Sessionize", "Orders_Ingest"]


def test_a_task_webhook_reports_its_own_task(dbx: DatabricksSimulator) -> None:
    run = corpus("databricks__jobs-runs-get-failed-tasks__1.json")
    dbx.add_run(run, {2112892: {"error": "Orders_Ingest's own error", "error_trace": "t"}, 2112902: {"error": "x"}})
    [failure] = X.enrich(X.parse(webhook(455644833, task="Orders_Ingest")), settings(dbx)).failures
    assert (failure.activity, failure.message) == ("Orders_Ingest", "Orders_Ingest's own error")


def test_cluster_termination_reason_is_fetched_when_the_cluster_is_to_blame(dbx: DatabricksSimulator) -> None:
    events = corpus("databricks__clusters-events-terminating__1.json")["events"]
    dbx.cluster_events["1202-211320-brick1"] = events
    dbx.add_failed_job_run("hourly", "score", "", state_message="Cluster '1202-211320-brick1' was terminated.",
                           cluster_id="1202-211320-brick1", run_id=9300, start_ms=events[0]["timestamp"] - 300_000,
                           code="CLUSTER_ERROR", kind="CLOUD_FAILURE", other_tasks=())
    result = X.enrich(X.parse(webhook(9300)), settings(dbx))
    [failure] = result.failures
    assert failure.origin["cluster_termination"] == {"code": "INACTIVITY",
                                                     "parameters": {"inactivity_duration_min": "120"}}
    assert failure.message == "Cluster '1202-211320-brick1' was terminated."
    assert (failure.error_code, failure.failure_type) == ("CLUSTER_ERROR", "CLOUD_FAILURE")


def test_a_placeholder_run_id_is_reported_not_fetched(dbx: DatabricksSimulator) -> None:
    result = X.enrich(X.parse(corpus("databricks__webhook-jobs-on-failure-job__1.json")), settings(dbx))
    assert len(result.failures) == 1 and "not a Databricks run id" in result.enrichment_errors[0]
    assert dbx.counts["runs/get"] == 0


def test_a_retry_after_beyond_the_cap_is_not_waited_for(dbx: DatabricksSimulator) -> None:
    import time

    run = dbx.add_failed_job_run("job", "transform", "boom")
    dbx.inject("runs/get", status=429, retry_after=12)
    settings = sim_settings(DATABRICKS_HOST=dbx.url, DATABRICKS_TOKEN=SIM_TOKEN, ENRICHMENT_TIMEOUT_SECONDS="1",
                            ENRICHMENT_MAX_RETRY_AFTER_SECONDS="2", ENRICHMENT_MAX_RETRIES="1")
    started = time.monotonic()
    result = X.enrich(X.parse(webhook(run["run_id"])), settings)
    assert time.monotonic() - started < 5
    [error] = result.enrichment_errors
    assert "TooManyRequests" in error and result.failures[0].message is None


def test_a_runs_get_page_token_that_never_ends_is_not_followed_forever(dbx: DatabricksSimulator) -> None:
    import threading

    from shared.platforms.databricks import DatabricksWorkspace

    run = dbx.add_failed_job_run("job", "transform", "boom")
    run["next_page_token"] = "MA=="  # offset 0 again: every page of the run answers the same token and the same tasks
    outcome: dict[str, object] = {}
    workspace = DatabricksWorkspace(sim_settings(DATABRICKS_HOST=dbx.url, DATABRICKS_TOKEN=SIM_TOKEN))
    thread = threading.Thread(target=lambda: outcome.update(run=workspace.get_run(run["run_id"])), daemon=True)
    thread.start()
    thread.join(15)
    assert not thread.is_alive(), "get_run kept following the page token"
    got = outcome["run"]
    assert isinstance(got, dict) and len(got["tasks"]) == len(run["tasks"])
    assert dbx.counts["runs/get"] == 2
