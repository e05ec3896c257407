"""parse() of the Databricks webhooks, the Airflow callback body and sweep messages (pure)."""

from __future__ import annotations

from extractors import EXTRACTORS, extractor_for
from extractors.airflow import AirflowExtractor
from extractors.databricks import DatabricksExtractor
from extractors.sweep import SweepExtractor
from shared.identity import incident_identity
from shared.models import Failure
from tests.support.fixtures_platforms import corpus

DBX = DatabricksExtractor()
AIRFLOW = AirflowExtractor()


def test_registry_has_one_extractor_per_source() -> None:
    assert sorted(EXTRACTORS) == ["airflow", "azure-monitor", "databricks", "sweep"]
    assert extractor_for("sweep").source == "sweep"


def test_job_failure_webhook_names_the_job_run() -> None:
    [failure] = DBX.parse(corpus("databricks__webhook-jobs-on-failure-job__1.json")).failures
    assert (failure.platform, failure.resource, failure.pipeline, failure.run_id) == (
        "databricks", "your_workspace_id", "job_name", "run_id")
    assert failure.level == "error" and failure.message is None


def test_task_failure_webhook_is_the_parent_job_run_and_names_the_task() -> None:
    body = corpus("databricks__webhook-jobs-on-success-task__1.json")
    body["event_type"] = "jobs.on_failure"
    [failure] = DBX.parse(body).failures
    assert (failure.run_id, failure.activity) == ("run_id_of_parent_job_run", "task_name")
    assert failure.origin["run_id"] == "run_id_of_task"


def test_start_and_success_are_ignored_duration_warning_is_a_warning() -> None:
    assert "start" in str(DBX.parse(corpus("databricks__webhook-jobs-on-start-job__1.json")).ignored_reason)
    assert "success" in str(DBX.parse(corpus("databricks__webhook-jobs-on-success-task__1.json")).ignored_reason)
    body = corpus("databricks__webhook-jobs-on-failure-job__1.json")
    body["event_type"] = "jobs.on_duration_warning_threshold_exceeded"
    [warning] = DBX.parse(body).failures
    assert warning.level == "warning" and "duration" in str(warning.message)
    body["event_type"] = "jobs.on_streaming_backlog_exceeded"
    assert "unsupported" in str(DBX.parse(body).ignored_reason)


def test_an_api_response_posted_to_the_webhook_is_ignored_with_a_clear_reason() -> None:
    result = DBX.parse(corpus("databricks__jobs-runs-get-failed-tasks__1.json"))
    assert "REST API response" in str(result.ignored_reason)
    assert "not a Databricks job notification" in str(DBX.parse({"hello": 1}).ignored_reason)


AIRFLOW_BODY = {
    "dag_id": "orders_daily", "task_id": "load_orders", "run_id": "scheduled__2025-04-15T00:00:00+00:00",
    "try_number": 3, "max_tries": 2, "map_index": -1, "state": "failed",
    "exception": "Traceback (most recent call last):\n  File \"x.py\", line 1\nValueError: column order_id is missing",
    "exception_type": "ValueError", "log_url": "https://airflow.example.com/log", "logical_date": None,
    "start_date": "2025-04-15T00:05:12+00:00", "end_date": "2025-04-15T00:05:40+00:00",
    "instance": "https://airflow.example.com/",
}


def test_airflow_callback_body_becomes_a_failure_with_the_complete_exception() -> None:
    [failure] = AIRFLOW.parse(AIRFLOW_BODY).failures
    assert (failure.platform, failure.resource, failure.pipeline, failure.activity) == (
        "airflow", "https://airflow.example.com", "orders_daily", "load_orders")
    assert failure.run_id == "orders_daily/scheduled__2025-04-15T00:00:00+00:00"
    assert failure.origin["dag_run_id"] == "scheduled__2025-04-15T00:00:00+00:00"
    assert failure.message == AIRFLOW_BODY["exception"] and failure.error_code == "ValueError"
    assert failure.links == {"log": "https://airflow.example.com/log"}
    assert failure.origin["try_number"] == 3


def test_same_airflow_run_id_in_two_dags_is_two_incidents() -> None:
    [a] = AIRFLOW.parse(AIRFLOW_BODY).failures
    [b] = AIRFLOW.parse({**AIRFLOW_BODY, "dag_id": "customers_daily"}).failures
    assert incident_identity(a)[0] != incident_identity(b)[0]
    [c] = AIRFLOW.parse({**AIRFLOW_BODY, "task_id": "another_task"}).failures
    assert incident_identity(a)[0] == incident_identity(c)[0]  # one failed DAG run, one incident


def test_airflow_retry_and_non_failures_are_ignored() -> None:
    assert "retried" in str(AIRFLOW.parse({**AIRFLOW_BODY, "state": "up_for_retry"}).ignored_reason)
    assert "not a failure" in str(AIRFLOW.parse({**AIRFLOW_BODY, "state": "success"}).ignored_reason)
    assert "dag_id is missing" in str(AIRFLOW.parse(corpus("airflow__callback-context-keys__1.json")).ignored_reason)


def test_sweep_message_round_trips_failures() -> None:
    failure = Failure(source="sweep", platform="adf", resource="/subscriptions/s/resourceGroups/g/providers/"
                      "Microsoft.DataFactory/factories/f", pipeline="P", run_id="r1", message="m")
    result = SweepExtractor().parse({"failures": [failure.to_dict()]})
    assert result.failures == [failure]
    assert SweepExtractor().parse({"failures": "x"}).ignored_reason
