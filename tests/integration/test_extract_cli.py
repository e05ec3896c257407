"""`python -m tools.extract` over every payload of the corpus, exit codes, and --enrich.

Fragments (`azmon__alertcontext-*`) are put into a full envelope with the essentials block of the
test-action sample of the same alert kind; where the fragment's source section names the
monitoringService (SOURCES.md), that value is set. API responses (adf__restapi-*, Databricks
runs/get, ...) are not webhook bodies: they go through the CLI to show they are ignored with a clear
reason, and they are the simulators' fixtures in test_enrichment_adf / test_enrichment_databricks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from shared.config import REPO_ROOT
from tests.support.fixtures_platforms import FACTORY_ID, PAYLOADS, contoso_factory, corpus, envelope, essentials
from tools import extract
from tools.simulators.adf import AdfSimulator, pipeline_failed_runs_alert
from tools.simulators.databricks import SIM_TOKEN, DatabricksSimulator

# fragment -> (essentials sample, essentials changes)
FRAGMENTS: dict[str, tuple[str, dict[str, Any]]] = {
    "azmon__alertcontext-metric-static__1.json": ("azmon__testaction-metric-static__1.json", {}),
    "azmon__alertcontext-metric-dynamic__1.json": ("azmon__testaction-metric-dynamic__1.json", {}),
    "azmon__alertcontext-log-v1-loganalytics-searchresults__1.json": ("azmon__testaction-log-v1-numresults__1.json",
                                                                      {}),
    "azmon__alertcontext-log-v1-appinsights-searchresults__1.json": ("azmon__testaction-log-v1-numresults__1.json",
                                                                     {"monitoringService": "Application Insights"}),
    "azmon__alertcontext-logalertsv2__1.json": ("azmon__testaction-logalertsv2__1.json", {}),
    "azmon__alertcontext-simple-log-alert__1.json": ("azmon__testaction-logalertsv2__1.json",
                                                     {"monitoringService": "Simple Log Alert"}),
    "azmon__alertcontext-activitylog-administrative__1.json": (
        "azmon__testaction-activitylog-administrative__1.json", {}),
    "azmon__alertcontext-servicehealth__1.json": ("azmon__testaction-activitylog-administrative__1.json",
                                                  {"monitoringService": "ServiceHealth"}),
    "azmon__alertcontext-resourcehealth__1.json": ("azmon__testaction-resourcehealth__1.json", {}),
}
NOT_PIPELINE = "not a data-pipeline resource"
NO_PIPELINE_IN_LOGS = "whose results name no pipeline"
API_RESPONSE = "REST API response"
NO_DAG = "dag_id is missing"
# file -> ("ignored", words the reason must contain) | ("failures", platform, count, what the first one says)
EXPECTED: dict[str, tuple[Any, ...]] = {
    "azmon__alertcontext-metric-static__1.json": ("ignored", NOT_PIPELINE, "storageaccounts"),
    "azmon__alertcontext-metric-dynamic__1.json": ("ignored", NOT_PIPELINE, "storageaccounts"),
    "azmon__alertcontext-log-v1-loganalytics-searchresults__1.json": ("ignored", NO_PIPELINE_IN_LOGS),
    "azmon__alertcontext-log-v1-appinsights-searchresults__1.json": ("failures", "functions", 1, "requests"),
    "azmon__alertcontext-logalertsv2__1.json": ("ignored", NO_PIPELINE_IN_LOGS),
    "azmon__alertcontext-simple-log-alert__1.json": ("failures", "functions", 1, "Object reference not set"),
    "azmon__alertcontext-activitylog-administrative__1.json": ("ignored", "Activity Log", "not a pipeline failure"),
    "azmon__alertcontext-servicehealth__1.json": ("ignored", "Service Health", "not a pipeline failure"),
    "azmon__alertcontext-resourcehealth__1.json": ("ignored", "Resource Health", "not a pipeline failure"),
    "azmon__common-metric-static-resolved__1.json": ("ignored", NOT_PIPELINE, "virtualmachines"),
    "azmon__common-metric-static-resolved__2.json": ("ignored", NOT_PIPELINE, "virtualmachines"),
    "azmon__noncommon-metric-static__1.json": ("ignored", "enable the common alert schema on the Action Group"),
    "azmon__testaction-activitylog-administrative__1.json": ("ignored", "Activity Log"),
    "azmon__testaction-log-v1-numresults__1.json": ("ignored", NO_PIPELINE_IN_LOGS),
    "azmon__testaction-logalertsv2__1.json": ("ignored", NO_PIPELINE_IN_LOGS),
    "azmon__testaction-metric-dynamic__1.json": ("ignored", NOT_PIPELINE, "storageaccounts"),
    "azmon__testaction-metric-static__1.json": ("ignored", NOT_PIPELINE, "storageaccounts"),
    "azmon__testaction-resourcehealth__1.json": ("ignored", "Resource Health"),
    "adf__activity-error-object-copy-failed__1.json": ("ignored", API_RESPONSE),
    "adf__restapi-pipelineRun-get__1.json": ("ignored", API_RESPONSE),
    "adf__restapi-queryActivityRuns-response__1.json": ("ignored", API_RESPONSE),
    "adf__restapi-queryPipelineRuns-response__1.json": ("ignored", API_RESPONSE),
    "databricks__webhook-jobs-on-failure-job__1.json": ("failures", "databricks", 1, None),
    "databricks__webhook-jobs-on-start-job__1.json": ("ignored", "start notification"),
    "databricks__webhook-jobs-on-success-task__1.json": ("ignored", "success notification"),
    "databricks__jobs-runs-get-failed-tasks__1.json": ("ignored", API_RESPONSE),
    "databricks__jobs-runs-get-output__1.json": ("ignored", API_RESPONSE),
    "databricks__clusters-events-terminating__1.json": ("ignored", API_RESPONSE),
    "airflow__callback-context-keys__1.json": ("ignored", NO_DAG),
    "airflow__restapi-v1-clearTaskInstances-schema__1.json": ("ignored", NO_DAG),
    "airflow__restapi-v2-clearTaskInstances-schema__1.json": ("ignored", NO_DAG),
}
SOURCE_BY_PREFIX = {"azmon": "azure-monitor", "adf": "azure-monitor", "databricks": "databricks",
                    "airflow": "airflow"}


def test_every_corpus_payload_has_an_expectation() -> None:
    assert sorted(p.name for p in PAYLOADS.glob("*.json")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_payload_through_the_cli(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = corpus(name)
    if name in FRAGMENTS:
        sample, changes = FRAGMENTS[name]
        body = envelope(body["alertContext"], essentials(sample, **changes))
    path = tmp_path / name
    path.write_text(json.dumps(body))
    code = extract.main(["--source", SOURCE_BY_PREFIX[name.split("__")[0]], str(path)])
    result = json.loads(capsys.readouterr().out)
    assert code == 0
    assert set(result) >= {"failures", "ignored"}
    expected = EXPECTED[name]
    if expected[0] == "ignored":
        assert result["failures"] == [] and result["ignored"]
        for words in expected[1:]:
            assert words in result["ignored"], result["ignored"]
    else:
        _, platform, count, says = expected
        assert result["ignored"] is None and len(result["failures"]) == count
        failure = result["failures"][0]
        assert failure["platform"] == platform
        assert {"platform", "pipeline", "run_id", "activity", "error_code", "message", "resource", "links",
                "origin", "start", "end", "failure_type"} <= set(failure)
        if says:
            assert says in str(failure["message"])


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tools.extract", *args], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=120, env={**os.environ, **(env or {})})


def test_unreadable_input_exits_2_with_a_message(tmp_path: Path) -> None:
    missing = cli("--source", "azure-monitor", str(tmp_path / "nope.json"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr and missing.stdout == ""
    junk = tmp_path / "junk.json"
    junk.write_text("{not json")
    bad = cli("--source", "databricks", str(junk))
    assert bad.returncode == 2 and "is not JSON" in bad.stderr
    assert cli("--source", "nosuch", str(junk)).returncode == 2


def test_an_ignored_body_exits_0() -> None:
    done = cli("--source", "azure-monitor", str(PAYLOADS / "azmon__noncommon-metric-static__1.json"))
    assert done.returncode == 0
    assert "enable the common alert schema on the Action Group" in json.loads(done.stdout)["ignored"]


@pytest.fixture
def sim() -> Iterator[AdfSimulator]:
    with AdfSimulator() as server:
        factory = contoso_factory(server)
        for i in range(3):
            factory.add_failed_run("IngestOrders", f"The required Blob is missing ({i}).", code="BadRequest",
                                   activity="GetMetadata", run_id=f"run-{i}")
        yield server


def test_enrich_asks_the_factory_and_without_it_nothing_is_called(sim: AdfSimulator, tmp_path: Path) -> None:
    from shared.timeutil import utc_now

    now = utc_now()
    path = tmp_path / "alert.json"
    path.write_text(json.dumps(pipeline_failed_runs_alert(FACTORY_ID, "IngestOrders", now - timedelta(hours=1), now)))
    env = {"ARM_ENDPOINT": sim.url, "ENRICHMENT_TIMEOUT_SECONDS": "5", "ALLOWED_RESOURCES": FACTORY_ID}
    plain = cli("--source", "azure-monitor", str(path), env=env)
    assert plain.returncode == 0 and len(json.loads(plain.stdout)["failures"]) == 1
    assert sum(sim.counts.values()) == 0  # no network call without --enrich
    enriched = cli("--source", "azure-monitor", str(path), "--enrich", env=env)
    result = json.loads(enriched.stdout)
    assert enriched.returncode == 0 and result["enrichment_errors"] == []
    assert sorted(f["run_id"] for f in result["failures"]) == ["run-0", "run-1", "run-2"]
    assert {f["activity"] for f in result["failures"]} == {"GetMetadata"}
    assert {f["error_code"] for f in result["failures"]} == {"BadRequest"}


def test_enrich_a_databricks_webhook(tmp_path: Path) -> None:
    dbx = DatabricksSimulator()
    dbx.start()
    try:
        dbx.add_failed_job_run("nightly", "transform", "AnalysisException: [TABLE_OR_VIEW_NOT_FOUND]", run_id=8800,
                               trace="Traceback ...")
        body = corpus("databricks__webhook-jobs-on-failure-job__1.json")
        body["run"]["run_id"] = "8800"
        path = tmp_path / "hook.json"
        path.write_text(json.dumps(body))
        done = cli("--source", "databricks", str(path), "--enrich",
                   env={"DATABRICKS_HOST": dbx.url, "DATABRICKS_TOKEN": SIM_TOKEN})
        [failure] = json.loads(done.stdout)["failures"]
        assert failure["activity"] == "transform" and "TABLE_OR_VIEW_NOT_FOUND" in failure["message"]
        assert failure["origin"]["error_trace"] == "Traceback ..."
    finally:
        dbx.stop()
