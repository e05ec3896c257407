"""Databricks remediation executor through the real databricks-sdk against the SIMULATED workspace:
repair (first, second with latest_repair_id), cluster start, look / check / reconcile outcomes, and a 500
on the repair POST that must not be resent."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from databricks.sdk.errors import BadRequest

from remediation.executors import databricks as executor_module
from remediation.executors.base import Outcome, Seen, UnknownOutcome
from remediation.executors.databricks import DatabricksExecutor, NotActionable
from shared.models import Incident
from shared.timeutil import utc_now
from tests.conftest import wait_until
from tests.support.fixtures_platforms import sim_settings
from tools.simulators.databricks import SIM_TOKEN, DatabricksSimulator

REPAIR, START = "databricks.repair_run", "databricks.start_cluster"


@pytest.fixture
def dbx() -> Iterator[DatabricksSimulator]:
    with DatabricksSimulator() as server:
        yield server


def executor(dbx: DatabricksSimulator, **values: str) -> DatabricksExecutor:
    made = executor_module.create(sim_settings(DATABRICKS_HOST=dbx.url, DATABRICKS_TOKEN=SIM_TOKEN, **values))
    assert isinstance(made, DatabricksExecutor)
    return made


def incident(run: dict[str, Any], *, workspace: str = "1234567890123456", cluster_id: str | None = None,
             remediation: dict[str, Any] | None = None) -> Incident:
    origin: dict[str, Any] = {"workspace_id": workspace, "job_id": str(run["job_id"])}
    if cluster_id:
        origin["cluster_id"] = cluster_id
    now = utc_now().isoformat()
    return Incident(id="inc-dbx", source="databricks", platform="databricks", resource=workspace,
                    pipeline=run.get("run_name"), run_id=str(run["run_id"]), status="open", occurrences=1,
                    first_seen=now, last_seen=now, failure={"origin": origin}, remediation=remediation)


def failed_run(dbx: DatabricksSimulator, run_id: int = 9100, **kwargs: Any) -> dict[str, Any]:
    run = dbx.add_failed_job_run("nightly_orders", "transform", "ConnectionResetError: peer reset", run_id=run_id,
                                 other_tasks=("ingest",), **kwargs)
    run["tasks"].append({**run["tasks"][0], "task_key": "publish", "run_id": run_id + 50,
                         "depends_on": [{"task_key": "transform"}],
                         "state": {"life_cycle_state": "TERMINATED", "result_state": "UPSTREAM_FAILED"},
                         "status": {"state": "TERMINATED", "termination_details": {"code": "UPSTREAM_FAILED",
                                                                                   "type": "CLIENT_ERROR"}}})
    return run


def ours(*attempts: dict[str, Any]) -> dict[str, Any]:
    return {"attempts": [{"attempt": i + 1, "run_ref": ref} for i, ref in enumerate(attempts)]}


def test_first_repair_reruns_failed_and_dependent_tasks(dbx: DatabricksSimulator) -> None:
    run = failed_run(dbx)
    x = executor(dbx)
    assert x.look(incident(run), REPAIR).seen is Seen.CLEAR
    sub = x.submit(incident(run), REPAIR, 1)
    [repair] = dbx.repairs
    assert repair["run_id"] == 9100 and repair["rerun_all_failed_tasks"] is True
    assert repair["rerun_dependent_tasks"] is True and "latest_repair_id" not in repair
    assert sub.run_ref == {"kind": "repair", "run_id": 9100, "repair_id": repair["repair_id"], "job_id": 11223344}
    assert [c["method"] for c in sub.calls] == ["GET", "POST"] and sub.calls[-1]["status"] == 200
    pending = {t["task_key"] for t in dbx.runs[9100]["tasks"] if t["state"]["life_cycle_state"] == "PENDING"}
    assert pending == {"transform", "publish"}  # the failed task and the one depending on it; not "ingest"
    assert x.check(incident(run), sub.run_ref).outcome is Outcome.RUNNING
    dbx.finish_repair(9100)
    done = x.check(incident(run), sub.run_ref)
    assert done.outcome is Outcome.SUCCEEDED and "SUCCESS" in done.detail


def test_second_repair_sends_latest_repair_id_and_check_reports_the_new_error(dbx: DatabricksSimulator) -> None:
    run = failed_run(dbx)
    x = executor(dbx)
    first = x.submit(incident(run), REPAIR, 1)
    dbx.finish_repair(9100, error="java.sql.SQLTransientConnectionException: pool exhausted", code="DRIVER_ERROR")
    failed = x.check(incident(run), first.run_ref)
    assert failed.outcome is Outcome.FAILED
    assert failed.error_message == "java.sql.SQLTransientConnectionException: pool exhausted"
    assert (failed.error_code, failed.activity) == ("DRIVER_ERROR", "transform")

    # The API refuses a second repair without the latest repair id (the simulator too), through the real SDK.
    with pytest.raises(BadRequest, match="latest repair ID needs to be provided"):
        x.workspace.repair_run(9100)
    assert len(dbx.repairs) == 1

    again = incident(run, remediation=ours(first.run_ref))
    assert x.look(again, REPAIR).seen is Seen.CLEAR  # our own failed repair is not "a repair by hand"
    second = x.submit(again, REPAIR, 2)
    assert [r.get("latest_repair_id") for r in dbx.repairs] == [None, first.run_ref["repair_id"]]
    assert second.run_ref["repair_id"] != first.run_ref["repair_id"]
    dbx.finish_repair(9100)
    assert x.check(again, second.run_ref).outcome is Outcome.SUCCEEDED
    assert x.check(again, first.run_ref).outcome is Outcome.FAILED  # each attempt is judged by its own repair


def test_look_waits_for_a_run_in_progress_and_for_another_run_of_the_job(dbx: DatabricksSimulator) -> None:
    run = failed_run(dbx)
    x = executor(dbx)
    run["state"], run["status"] = {"life_cycle_state": "RUNNING"}, {"state": "RUNNING"}
    seen = x.look(incident(run), REPAIR)
    assert seen.seen is Seen.IN_PROGRESS and "9100 is still in progress" in seen.reason
    run["state"] = {"life_cycle_state": "TERMINATED", "result_state": "FAILED"}
    run["status"] = {"state": "TERMINATED", "termination_details": {"code": "RUN_EXECUTION_ERROR"}}
    later = dbx.add_failed_job_run("nightly_orders", "transform", "x", run_id=9200,
                                   start_ms=int(run["start_time"]) + 3_600_000)
    later["state"], later["status"] = {"life_cycle_state": "QUEUED"}, {"state": "QUEUED"}
    seen = x.look(incident(run), REPAIR)
    assert seen.seen is Seen.IN_PROGRESS and "run 9200 of job 11223344" in seen.reason
    assert dbx.repairs == []


def test_look_superseded_by_a_later_successful_run(dbx: DatabricksSimulator) -> None:
    run = failed_run(dbx)
    dbx.add_failed_job_run("other_job", "t", "x", run_id=9150, job_id=999, start_ms=int(run["start_time"]) + 10)
    later = dbx.add_failed_job_run("nightly_orders", "transform", "x", run_id=9300,
                                   start_ms=int(run["start_time"]) + 3_600_000)
    later["state"] = {"life_cycle_state": "TERMINATED", "result_state": "SUCCESS"}
    later["status"] = {"state": "TERMINATED", "termination_details": {"code": "SUCCESS", "type": "SUCCESS"}}
    seen = executor(dbx).look(incident(run), REPAIR)
    assert seen.seen is Seen.SUPERSEDED and seen.run_ref["run_id"] == 9300 and "9300" in seen.reason


def test_look_adopts_a_repair_made_by_hand(dbx: DatabricksSimulator) -> None:
    run = failed_run(dbx)
    x = executor(dbx)
    by_hand = x.workspace.repair_run(9100)  # someone in the workspace UI
    seen = x.look(incident(run), REPAIR)
    assert seen.seen is Seen.ADOPT and seen.run_ref == {"kind": "repair", "run_id": 9100, "repair_id": by_hand,
                                                         "job_id": 11223344}
    dbx.finish_repair(9100)
    assert x.check(incident(run), seen.run_ref).outcome is Outcome.SUCCEEDED


def test_a_500_on_the_repair_post_is_unknown_not_resent_and_reconcile_finds_it(dbx: DatabricksSimulator) -> None:
    run = failed_run(dbx)
    x = executor(dbx, ENRICHMENT_MAX_RETRIES="3")
    since = utc_now().isoformat()
    assert x.reconcile(incident(run), REPAIR, 1, since) is None  # nothing started yet

    dbx.fail_after_repair.append(500)  # the repair starts, then the answer is a 500 the SDK would retry
    with pytest.raises(UnknownOutcome, match="runs/repair 9100"):
        x.submit(incident(run), REPAIR, 1)
    assert dbx.counts["runs/repair"] == 1 and len(dbx.repairs) == 1  # sent once, never resent
    found = x.reconcile(incident(run), REPAIR, 1, since)
    assert found is not None and found.run_ref["repair_id"] == dbx.repairs[0]["repair_id"]


def test_a_503_with_retry_after_on_repair_is_unknown_and_sent_once(dbx: DatabricksSimulator) -> None:
    run = failed_run(dbx)
    dbx.inject("runs/repair", status=503, retry_after=0)
    with pytest.raises(UnknownOutcome):
        executor(dbx).submit(incident(run), REPAIR, 1)
    assert dbx.counts["runs/repair"] == 1 and dbx.repairs == []
    assert executor(dbx).reconcile(incident(run), REPAIR, 1, utc_now().isoformat()) is None


def test_reconcile_ignores_our_own_earlier_repairs(dbx: DatabricksSimulator) -> None:
    run = failed_run(dbx)
    x = executor(dbx)
    since = utc_now().isoformat()
    first = x.submit(incident(run), REPAIR, 1)
    dbx.finish_repair(9100, error="boom")
    assert x.reconcile(incident(run, remediation=ours(first.run_ref)), REPAIR, 2, since) is None


def test_start_a_terminated_all_purpose_cluster(dbx: DatabricksSimulator) -> None:
    run = failed_run(dbx)
    dbx.add_cluster("0923-164208-sim1", state="TERMINATED")
    x = executor(dbx)
    inc = incident(run, cluster_id="0923-164208-sim1")
    assert x.look(inc, START).seen is Seen.CLEAR
    sub = x.submit(inc, START, 1)
    assert sub.run_ref == {"kind": "cluster", "cluster_id": "0923-164208-sim1"}
    assert dbx.cluster_starts == [{"cluster_id": "0923-164208-sim1"}]
    assert x.check(inc, sub.run_ref).outcome is Outcome.RUNNING
    assert x.reconcile(inc, START, 1, utc_now().isoformat()) is not None  # it did start (PENDING)
    dbx.finish_cluster_start("0923-164208-sim1")
    assert x.check(inc, sub.run_ref).outcome is Outcome.SUCCEEDED
    assert x.look(inc, START).seen is Seen.ADOPT  # running already: nothing to start


def test_a_cluster_that_fails_to_start_reports_why(dbx: DatabricksSimulator) -> None:
    run = failed_run(dbx)
    dbx.add_cluster("c1")
    x = executor(dbx)
    inc = incident(run, cluster_id="c1")
    sub = x.submit(inc, START, 1)
    dbx.finish_cluster_start("c1", state="TERMINATED", message="Cloud provider quota exceeded")
    dbx.clusters["c1"]["termination_reason"] = {"code": "CLOUD_PROVIDER_LAUNCH_FAILURE", "type": "CLOUD_FAILURE"}
    check = x.check(inc, sub.run_ref)
    assert check.outcome is Outcome.FAILED
    assert (check.error_code, check.error_message) == ("CLOUD_PROVIDER_LAUNCH_FAILURE", "Cloud provider quota exceeded")


def test_job_clusters_cannot_be_started(dbx: DatabricksSimulator) -> None:
    run = failed_run(dbx)
    dbx.add_cluster("job-cluster", state="TERMINATED", source="JOB")
    x = executor(dbx)
    inc = incident(run, cluster_id="job-cluster")
    assert "job cluster" in x.look(inc, START).reason
    with pytest.raises(NotActionable, match="job clusters cannot be started"):
        x.submit(inc, START, 1)
    assert dbx.cluster_starts == [] and dbx.counts["clusters/start"] == 0


def test_refuses_a_run_from_another_workspace(dbx: DatabricksSimulator) -> None:
    run = failed_run(dbx)
    with pytest.raises(NotActionable, match="another workspace"):
        executor(dbx).submit(incident(run, workspace="555"), REPAIR, 1)
    assert dbx.counts["runs/repair"] == 0


def test_a_timeout_on_the_repair_post_is_unknown_and_reconcile_finds_the_late_repair(dbx: DatabricksSimulator) -> None:
    run = failed_run(dbx)
    x = executor(dbx, ENRICHMENT_TIMEOUT_SECONDS="0.5")
    since = utc_now().isoformat()
    x.workspace.get_run(9100)  # the client is built and warm before the slow call
    dbx.inject("runs/repair", delay=1.5)  # the server repairs after the client gave up
    with pytest.raises(UnknownOutcome):
        x.submit(incident(run), REPAIR, 1)
    assert dbx.counts["runs/repair"] == 1
    found = wait_until(lambda: x.reconcile(incident(run), REPAIR, 1, since), timeout=10)
    assert found.run_ref["repair_id"] == dbx.repairs[0]["repair_id"] and len(dbx.repairs) == 1


def test_repair_history_longer_than_a_page_still_gives_the_latest_repair(dbx: DatabricksSimulator) -> None:
    dbx.tasks_page_size = 1  # runs/get pages every array by one element: history needs three pages
    run = failed_run(dbx)
    x = executor(dbx)
    first = x.submit(incident(run), REPAIR, 1)
    dbx.finish_repair(9100, error="boom")
    second = x.submit(incident(run, remediation=ours(first.run_ref)), REPAIR, 2)
    dbx.finish_repair(9100, error="boom again")
    x.submit(incident(run, remediation=ours(first.run_ref, second.run_ref)), REPAIR, 3)
    assert [r.get("latest_repair_id") for r in dbx.repairs] == [None, first.run_ref["repair_id"],
                                                                 second.run_ref["repair_id"]]
