"""The run tools on Databricks and Airflow (2 and 3) simulators, called through the toolbox as the model would."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest

from agent.tooling import ToolContext
from agent.toolset import build_toolbox
from shared.timeutil import to_iso, utc_now
from tests.support.fixtures_platforms import SUB, SYNAPSE_ID, sim_settings
from tools.simulators.adf import AdfSimulator
from tools.simulators.airflow import SIM_AIRFLOW_TOKEN, AirflowSimulator
from tools.simulators.databricks import SIM_TOKEN, DatabricksSimulator

pytestmark = pytest.mark.integration


@pytest.fixture(params=[2, 3])
def airflow(request: pytest.FixtureRequest) -> Iterator[AirflowSimulator]:
    with AirflowSimulator(major=request.param) as server:
        now = utc_now()
        server.add_dag_run("orders_daily", "scheduled__1", "failed", start_date=to_iso(now - timedelta(hours=3)),
                           end_date=to_iso(now - timedelta(hours=2)))
        server.add_dag_run("old_dag", "scheduled__0", "failed", start_date=to_iso(now - timedelta(hours=50)),
                           end_date=to_iso(now - timedelta(hours=49)))
        server.add_dag_run("fine_dag", "scheduled__2", "success", start_date=to_iso(now - timedelta(hours=1)),
                           end_date=to_iso(now))
        server.add_task_instance("orders_daily", "scheduled__1", "load_orders", try_number=3, max_tries=2)
        server.add_task_instance("orders_daily", "scheduled__1", "extract", state="success")
        yield server


def test_airflow_dag_runs_in_a_window_and_their_task_instances(airflow: AirflowSimulator) -> None:
    box = build_toolbox(ToolContext(sim_settings(AIRFLOW_URL=airflow.url, AIRFLOW_TOKEN=SIM_AIRFLOW_TOKEN)))
    listed = box.call("list_pipeline_runs", {"platform": "airflow", "hours": 24})
    assert listed.ok, listed.text
    runs = json.loads(listed.text)["runs"]
    assert [(r["pipeline"], r["run_id"], r["status"]) for r in runs] == [("orders_daily", "scheduled__1", "failed")]
    tasks = box.call("get_run_activities", {"platform": "airflow", "pipeline": "orders_daily",
                                            "run_id": "scheduled__1"})
    states = {t["task"]: t["status"] for t in json.loads(tasks.text)["tasks"]}
    assert states == {"load_orders": "failed", "extract": "success"}
    airflow.inject("dagRuns", status=403, times=5)
    refused = box.call("list_pipeline_runs", {"platform": "airflow"})
    assert refused.problem == "forbidden" and "403" in refused.text


def test_databricks_failed_job_runs_and_the_failed_task_error() -> None:
    with DatabricksSimulator() as dbx:
        run = dbx.add_failed_job_run("nightly_orders", "transform", "ZeroDivisionError: division by zero")
        box = build_toolbox(ToolContext(sim_settings(DATABRICKS_HOST=dbx.url, DATABRICKS_TOKEN=SIM_TOKEN)))
        listed = box.call("list_pipeline_runs", {"platform": "databricks", "hours": 24})
        assert listed.ok, listed.text
        assert [r["run_id"] for r in json.loads(listed.text)["runs"]] == [run["run_id"]]
        detail = box.call("get_run_activities", {"platform": "databricks", "run_id": str(run["run_id"])})
        tasks = {t["task"]: t for t in json.loads(detail.text)["tasks"]}
        assert tasks["transform"]["status"] == "FAILED"
        assert tasks["transform"]["error"] == "ZeroDivisionError: division by zero"
        assert tasks["ingest"]["status"] == "SUCCESS" and "error" not in tasks["ingest"]


def test_synapse_runs_and_activities_and_no_cancelled_state_on_airflow() -> None:
    with AdfSimulator() as sim:
        workspace = sim.add_workspace("contoso-syn", subscription=SUB, resource_group="pipelines-rg")
        run = workspace.add_failed_run("LoadLake", "Spark job failed: java.lang.OutOfMemoryError")
        settings = sim_settings(SYNAPSE_ENDPOINT=sim.synapse_endpoint_template(), SWEEP_SYNAPSE_WORKSPACES=SYNAPSE_ID)
        box = build_toolbox(ToolContext(settings))
        listed = json.loads(box.call("list_pipeline_runs", {"platform": "synapse", "hours": 2}).text)
        assert [r["pipeline"] for r in listed["runs"]] == ["LoadLake"]
        detail = json.loads(box.call("get_run_activities", {"platform": "synapse", "run_id": run.run_id}).text)
        failed = [a for a in detail["activities"] if a["status"] == "Failed"]
        assert failed[0]["error"]["message"] == "Spark job failed: java.lang.OutOfMemoryError"
        assert box.call("list_pipeline_runs", {"platform": "airflow", "status": "Cancelled"}).problem == \
            "invalid_arguments"


def test_airflow_dag_ids_cannot_climb_the_api_path(airflow: AirflowSimulator) -> None:
    box = build_toolbox(ToolContext(sim_settings(AIRFLOW_URL=airflow.url, AIRFLOW_TOKEN=SIM_AIRFLOW_TOKEN)))
    airflow.reset_counts()
    for dag, run in ((".."), "scheduled__1"), ("orders daily", "scheduled__1"), ("orders_daily", ".."):
        outcome = box.call("get_run_activities", {"platform": "airflow", "pipeline": dag, "run_id": run})
        assert outcome.problem == "invalid_arguments", outcome.text
    assert box.call("list_pipeline_runs", {"platform": "airflow", "pipeline": ".."}).problem == "invalid_arguments"
    assert sum(airflow.counts.values()) == 0


def test_a_databricks_run_with_many_failed_tasks_fetches_a_bounded_number_of_outputs() -> None:
    with DatabricksSimulator() as dbx:
        tasks = [{"task_key": f"t{i}", "run_id": 900 + i, "state": {"life_cycle_state": "TERMINATED",
                                                                    "result_state": "FAILED"}} for i in range(40)]
        dbx.add_run({"run_id": 77, "run_name": "wide_job", "tasks": tasks,
                     "state": {"life_cycle_state": "TERMINATED", "result_state": "FAILED"}},
                    {900 + i: {"error": f"boom {i}"} for i in range(40)})
        box = build_toolbox(ToolContext(sim_settings(DATABRICKS_HOST=dbx.url, DATABRICKS_TOKEN=SIM_TOKEN)))
        detail = box.call("get_run_activities", {"platform": "databricks", "run_id": "77"})
        assert detail.ok, detail.text
        assert len(json.loads(detail.text)["tasks"]) == 40
        assert dbx.counts["runs/get-output"] == 10
