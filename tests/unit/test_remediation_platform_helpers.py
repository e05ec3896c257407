"""Pure helpers of the Databricks and Airflow remediation executors: run states, repair history, DAG run ids,
exception lines of a task log."""

from __future__ import annotations

import time
from typing import Any

import pytest

from remediation.executors import databricks_runs as runs
from remediation.executors.airflow import NotActionable, _later, cleared_by_hand, dag_and_run, last_exception
from remediation.executors.base import Outcome
from shared.models import Incident


def status(state: str, code: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"status": {"state": state}}
    if code:
        item["status"]["termination_details"] = {"code": code, "type": "SUCCESS" if code == "SUCCESS" else "X"}
    return item


@pytest.mark.parametrize(("item", "expected"), [
    (status("RUNNING"), Outcome.RUNNING),
    (status("QUEUED"), Outcome.RUNNING),
    (status("TERMINATED", "SUCCESS"), Outcome.SUCCEEDED),
    (status("TERMINATED", "RUN_EXECUTION_ERROR"), Outcome.FAILED),
    (status("TERMINATED", "USER_CANCELED"), Outcome.FAILED),
    ({"state": {"life_cycle_state": "PENDING"}}, Outcome.RUNNING),
    ({"state": {"life_cycle_state": "TERMINATED", "result_state": "SUCCESS"}}, Outcome.SUCCEEDED),
    ({"state": {"life_cycle_state": "TERMINATED", "result_state": "TIMEDOUT"}}, Outcome.FAILED),
    ({"state": {"life_cycle_state": "INTERNAL_ERROR"}}, Outcome.FAILED),
    ({"state": {"life_cycle_state": "TERMINATED", "result_state": "SUCCESS"}, "status": {"state": "TERMINATED"}},
     Outcome.SUCCEEDED),  # 2.2 status without details: the result state decides
])
def test_phase_of_runs_and_repairs(item: dict[str, Any], expected: Outcome) -> None:
    assert runs.phase(item) is expected


def history(*repairs: tuple[int, str, int]) -> dict[str, Any]:
    items: list[dict[str, Any]] = [{"type": "ORIGINAL", **status("TERMINATED", "RUN_EXECUTION_ERROR")}]
    items += [{"type": "REPAIR", "id": rid, "start_time": start, **status(state, None if state != "TERMINATED"
                                                                           else "RUN_EXECUTION_ERROR")}
              for rid, state, start in repairs]
    return {"run_id": 1, "repair_history": items}


def test_latest_repair_id_is_none_for_a_first_repair_then_the_last_repairs_id() -> None:
    assert runs.latest_repair_id(history()) is None
    assert runs.latest_repair_id(history((5, "TERMINATED", 10), (9, "RUNNING", 20))) == 9


def test_a_repair_by_hand_is_the_latest_repair_not_ours_and_not_failed() -> None:
    assert runs.repair_by_hand(history(), set()) is None
    assert runs.repair_by_hand(history((5, "RUNNING", 10)), set())["id"] == 5  # type: ignore[index]
    assert runs.repair_by_hand(history((5, "RUNNING", 10)), {5}) is None  # ours
    assert runs.repair_by_hand(history((5, "TERMINATED", 10)), set()) is None  # failed: repair on top of it


def test_known_repair_ids_come_from_our_attempts_not_adopted_ones() -> None:
    rem = {"attempts": [{"run_ref": {"repair_id": 5}}, {"run_ref": {"repair_id": "7"}},
                        {"run_ref": {"repair_id": 8}, "adopted": True}, {"run_ref": {"kind": "cluster"}}, "junk"]}
    assert runs.known_repair_ids(rem) == {5, 7}
    assert runs.known_repair_ids(None) == set()


def test_repair_since_skips_older_and_our_own_repairs() -> None:
    run = history((5, "TERMINATED", 100), (6, "RUNNING", 200))
    assert runs.repair_since(run, set(), 150)["id"] == 6  # type: ignore[index]
    assert runs.repair_since(run, {6}, 150) is None
    assert runs.repair_since(run, set(), 300) is None


def test_newer_success_needs_a_later_start_and_success() -> None:
    mine = {"run_id": 1, "start_time": 100}
    older_ok = {"run_id": 2, "start_time": 50, **status("TERMINATED", "SUCCESS")}
    later_failed = {"run_id": 3, "start_time": 150, **status("TERMINATED", "RUN_EXECUTION_ERROR")}
    later_ok = {"run_id": 4, "start_time": 200, **status("TERMINATED", "SUCCESS")}
    assert runs.newer_success([older_ok, later_failed], mine) is None
    assert runs.newer_success([later_failed, later_ok], mine) == later_ok


def test_failed_tasks_of_a_repair_only() -> None:
    run = {"tasks": [{"task_key": "a", "run_id": 11, "end_time": 2, **status("TERMINATED", "X1")},
                     {"task_key": "b", "run_id": 12, "end_time": 1, **status("TERMINATED", "X2")},
                     {"task_key": "c", "run_id": 13, **status("TERMINATED", "SUCCESS")}]}
    assert [t["task_key"] for t in runs.failed_tasks(run)] == ["b", "a"]
    run["tasks"][1].update(status={"state": "TERMINATED", "termination_details": {"code": "UPSTREAM_FAILED"}})
    assert [t["task_key"] for t in runs.failed_tasks(run)] == ["a", "b"]  # the task that failed on its own first
    assert [t["task_key"] for t in runs.failed_tasks(run, [11, 13])] == ["a"]


def incident(**changes: Any) -> Incident:
    base: dict[str, Any] = {"id": "i", "source": "airflow", "platform": "airflow", "resource": "airflow",
                            "pipeline": "etl", "run_id": "etl/manual__1", "status": "open", "occurrences": 1,
                            "first_seen": "", "last_seen": "", "activity": "load",
                            "failure": {"origin": {"dag_run_id": "manual__1", "try_number": 1}}}
    return Incident(**{**base, **changes})


def test_dag_and_run_prefers_the_raw_run_id_and_falls_back_to_the_incident_run_id() -> None:
    assert dag_and_run(incident()) == ("etl", "manual__1")
    assert dag_and_run(incident(failure={}, run_id="etl/scheduled__2025/x")) == ("etl", "scheduled__2025/x")
    with pytest.raises(NotActionable):
        dag_and_run(incident(failure={}, run_id="other/x"))
    with pytest.raises(NotActionable):
        dag_and_run(incident(pipeline=None))


def test_cleared_by_hand_from_try_number_or_state() -> None:
    assert not cleared_by_hand(incident(), [{"task_id": "load", "state": "failed", "try_number": 1}])
    assert cleared_by_hand(incident(), [{"task_id": "load", "state": "failed", "try_number": 2}])
    assert cleared_by_hand(incident(), [{"task_id": "load", "state": None, "try_number": 1}])
    assert not cleared_by_hand(incident(), [{"task_id": "other", "state": None}])


def test_later_dag_run_means_same_or_later_interval_started_after() -> None:
    mine = {"logical_date": "2025-04-15T00:00:00+00:00", "start_date": "2025-04-15T00:00:05+00:00"}
    assert _later({"logical_date": "2025-04-16T00:00:00+00:00", "start_date": "2025-04-16T00:00:05+00:00"}, mine)
    assert not _later({"execution_date": "2025-04-14T00:00:00+00:00", "start_date": "2025-04-16T00:00:00+00:00"},
                      mine)  # an earlier interval finishing late does not cover this one
    assert not _later({"logical_date": "2025-04-15T00:00:00+00:00", "start_date": "2025-04-15T00:00:01+00:00"}, mine)


def test_last_exception_of_a_log() -> None:
    log = ("[2025] {taskinstance.py:2731} ERROR - Task failed with exception\nTraceback (most recent call last):\n"
           "  File \"x.py\", line 1, in f\nKeyError: 'id'\nDuring handling...\n"
           "airflow.exceptions.AirflowException: upstream returned 502\n[2025] INFO - Marking task as FAILED.")
    assert last_exception(log) == ("AirflowException", "upstream returned 502")
    assert last_exception("no error here\nat all") == (None, None)
    assert last_exception("SystemExit") == ("SystemExit", None)


def test_last_exception_is_linear_on_hostile_lines() -> None:
    hostile = ("a" * 50_000 + "\n") * 40 + "x." * 100_000
    started = time.perf_counter()
    assert last_exception(hostile) == (None, None)
    assert time.perf_counter() - started < 2
