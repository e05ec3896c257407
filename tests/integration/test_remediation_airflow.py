"""Airflow remediation executor through shared.platforms.airflow against the SIMULATED Airflow 2 (/api/v1)
and Airflow 3 (/api/v2): dry run then real clear of one DAG run only, look / check / reconcile outcomes, and a
500 on the real clear that must not be resent."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from extractors.airflow import AirflowExtractor
from remediation.executors import airflow as executor_module
from remediation.executors.airflow import AirflowExecutor, NotActionable
from remediation.executors.base import Outcome, Seen, UnknownOutcome
from shared.models import Incident
from shared.timeutil import utc_now
from tests.support.fixtures_platforms import sim_settings
from tools.simulators.airflow import SIM_AIRFLOW_TOKEN, AirflowSimulator

DAG, RUN, OTHER = "orders_daily", "scheduled__2025-04-15T00:00:00+00:00", "scheduled__2025-04-14T00:00:00+00:00"
TRACE = ("Traceback (most recent call last):\n  File \"/opt/airflow/dags/orders.py\", line 12, in load\n"
         "    conn.execute(sql)\npsycopg2.OperationalError: server closed the connection unexpectedly")


@pytest.fixture(params=[2, 3], ids=["airflow2", "airflow3"])
def af(request: pytest.FixtureRequest) -> Iterator[AirflowSimulator]:
    with AirflowSimulator(major=request.param) as server:
        yield server


def executor(af: AirflowSimulator) -> AirflowExecutor:
    made = executor_module.create(sim_settings(AIRFLOW_URL=af.url, AIRFLOW_TOKEN=SIM_AIRFLOW_TOKEN))
    assert isinstance(made, AirflowExecutor)
    return made


def incident(remediation: dict[str, Any] | None = None) -> Incident:
    """Made the way the app makes it: the Airflow extractor's failure from an on_failure_callback body."""
    [failure] = AirflowExtractor().parse({"dag_id": DAG, "task_id": "load", "run_id": RUN, "try_number": 1,
                                          "max_tries": 0, "state": "failed", "exception": "OperationalError",
                                          "exception_type": "OperationalError"}).failures
    now = utc_now().isoformat()
    return Incident(id="inc-af", source="airflow", platform="airflow", resource=failure.resource,
                    pipeline=failure.pipeline, run_id=failure.run_id, activity=failure.activity, status="open",
                    occurrences=1, first_seen=now, last_seen=now, failure=failure.to_dict(), remediation=remediation)


def failed_runs(af: AirflowSimulator) -> None:
    af.add_dag_run(DAG, RUN, "failed", tasks={"extract": "success", "load": "failed", "publish": "upstream_failed"},
                   error=TRACE)
    # Another failed run of the same DAG and another DAG's failed run: neither may be touched.
    af.add_dag_run(DAG, OTHER, "failed", start_date="2025-04-14T00:00:05+00:00",
                   logical_date="2025-04-14T00:00:00+00:00", tasks={"load": "failed"})
    af.add_dag_run("other_dag", RUN, "failed", tasks={"load": "failed"})


def states(af: AirflowSimulator, dag: str, run: str) -> dict[str, Any]:
    return {t: ti["state"] for (d, r, t, _), ti in af.task_instances.items() if (d, r) == (dag, run)}


def test_clear_dry_run_first_then_for_real_that_dag_run_only(af: AirflowSimulator) -> None:
    failed_runs(af)
    x = executor(af)
    assert x.look(incident(), "airflow.clear").seen is Seen.CLEAR
    sub = x.submit(incident(), "airflow.clear", 1)
    bodies = [c["body"] for c in sub.calls]
    assert [b["dry_run"] for b in bodies] == [True, False]
    assert all(b["dag_run_id"] == RUN and b["only_failed"] for b in bodies)
    assert sub.calls[0]["result"] == {"would_clear": ["load", "publish"]}
    assert [(c["dag_id"], c["dag_run_id"], c["only_failed"], c["reset_dag_runs"]) for c in af.cleared] == [
        (DAG, RUN, True, True)]
    assert af.counts["clearTaskInstances"] == 2
    assert states(af, DAG, RUN) == {"extract": "success", "load": None, "publish": None}
    assert states(af, DAG, OTHER) == {"load": "failed"} and states(af, "other_dag", RUN) == {"load": "failed"}
    assert sub.run_ref == {"kind": "dag_run", "dag_id": DAG, "dag_run_id": RUN, "cleared": ["load", "publish"]}
    prefix = "/api/v2" if af.major >= 3 else "/api/v1"
    assert {s.path for s in af.seen if s.endpoint == "clearTaskInstances"} == {
        f"{prefix}/dags/{DAG}/clearTaskInstances"}

    assert x.check(incident(), sub.run_ref).outcome is Outcome.RUNNING  # reset_dag_runs: queued again
    af.finish_dag_run(DAG, RUN)
    assert x.check(incident(), sub.run_ref).outcome is Outcome.SUCCEEDED


def test_nothing_to_clear_is_said_and_nothing_is_cleared(af: AirflowSimulator) -> None:
    af.add_dag_run(DAG, RUN, "failed", tasks={"extract": "success", "load": "success"})
    with pytest.raises(NotActionable, match="dry run clears nothing"):
        executor(af).submit(incident(), "airflow.clear", 1)
    assert af.cleared == [] and af.counts["clearTaskInstances"] == 1


def test_check_reports_the_new_error_from_the_failed_task_log(af: AirflowSimulator) -> None:
    failed_runs(af)
    x = executor(af)
    sub = x.submit(incident(), "airflow.clear", 1)
    af.finish_dag_run(DAG, RUN, fail="load", error=TRACE.replace("server closed", "could not connect: timeout"))
    check = x.check(incident(), sub.run_ref)
    assert check.outcome is Outcome.FAILED and check.activity == "load"
    assert check.error_code == "OperationalError"
    assert check.error_message == "OperationalError: could not connect: timeout the connection unexpectedly"


def test_look_waits_while_the_dag_run_is_running(af: AirflowSimulator) -> None:
    af.add_dag_run(DAG, RUN, "running", tasks={"load": "failed", "other": "running"})
    seen = executor(af).look(incident(), "airflow.clear")
    assert seen.seen is Seen.IN_PROGRESS and "still running" in seen.reason


def test_look_adopts_a_clear_made_by_hand(af: AirflowSimulator) -> None:
    failed_runs(af)
    af.add_dag_run(DAG, RUN, "queued", tasks={"extract": "success", "load": None, "publish": None})
    af.task_instances[(DAG, RUN, "load", -1)]["try_number"] = 2
    seen = executor(af).look(incident(), "airflow.clear")
    assert seen.seen is Seen.ADOPT and seen.run_ref == {"kind": "dag_run", "dag_id": DAG, "dag_run_id": RUN}
    assert af.cleared == []


def test_look_superseded_by_a_later_successful_dag_run(af: AirflowSimulator) -> None:
    failed_runs(af)
    af.add_dag_run(DAG, "manual__2025-04-15T06:00:00+00:00", "success", start_date="2025-04-15T06:00:00+00:00",
                   logical_date="2025-04-15T06:00:00+00:00")
    seen = executor(af).look(incident(), "airflow.clear")
    assert seen.seen is Seen.SUPERSEDED and seen.run_ref["dag_run_id"] == "manual__2025-04-15T06:00:00+00:00"


def test_an_earlier_interval_succeeding_later_does_not_supersede(af: AirflowSimulator) -> None:
    failed_runs(af)
    af.dag_runs[(DAG, OTHER)].update(state="success", start_date="2025-04-15T07:00:00+00:00")
    assert executor(af).look(incident(), "airflow.clear").seen is Seen.CLEAR


def test_a_500_on_the_real_clear_is_unknown_not_resent_and_reconcile_finds_it(af: AirflowSimulator) -> None:
    failed_runs(af)
    x = executor(af)
    since = utc_now().isoformat()
    assert x.reconcile(incident(), "airflow.clear", 1, since) is None  # still failed: nothing started
    af.fail_after_clear.append(500)  # the clear happens, then the answer is a 500
    with pytest.raises(UnknownOutcome, match="clearTaskInstances"):
        x.submit(incident(), "airflow.clear", 1)
    assert len(af.cleared) == 1 and af.counts["clearTaskInstances"] == 2  # dry run + one real clear, no resend
    found = x.reconcile(incident(), "airflow.clear", 1, since)
    assert found is not None and found.run_ref["dag_run_id"] == RUN


def test_a_503_on_the_real_clear_is_unknown_not_resent_and_reconcile_finds_nothing(af: AirflowSimulator) -> None:
    failed_runs(af)
    x = executor(af)
    af.fail_before_clear.append(503)  # the clear is not made; a resend would make it
    with pytest.raises(UnknownOutcome):
        x.submit(incident(), "airflow.clear", 1)
    assert af.cleared == [] and af.counts["clearTaskInstances"] == 2  # dry run + one real attempt
    assert x.reconcile(incident(), "airflow.clear", 1, utc_now().isoformat()) is None


def test_a_dry_run_is_read_only_and_retried(af: AirflowSimulator) -> None:
    failed_runs(af)
    x = executor(af)
    x.api.get_dag_run(DAG, RUN)  # detects the API version first
    af.inject("clearTaskInstances", status=503, retry_after=0)
    assert [t["task_id"] for t in x.api.clear_task_instances(DAG, RUN, dry_run=True)] == ["load", "publish"]
    assert af.counts["clearTaskInstances"] == 2 and af.cleared == []


def test_the_adapter_refuses_a_clear_without_a_dag_run_id(af: AirflowSimulator) -> None:
    with pytest.raises(ValueError, match="every run of the DAG"):
        executor(af).api.clear_task_instances(DAG, "", dry_run=False)
    assert af.counts["clearTaskInstances"] == 0


def test_a_timeout_on_the_dry_run_is_unknown_and_nothing_is_cleared(af: AirflowSimulator) -> None:
    failed_runs(af)
    x = executor_module.create(sim_settings(AIRFLOW_URL=af.url, AIRFLOW_TOKEN=SIM_AIRFLOW_TOKEN,
                                            ENRICHMENT_TIMEOUT_SECONDS="0.5"))
    x.look(incident(), "airflow.clear")
    af.inject("clearTaskInstances", delay=1.0)
    with pytest.raises(UnknownOutcome, match="dry run"):
        x.submit(incident(), "airflow.clear", 1)
    assert af.cleared == [] and af.counts["clearTaskInstances"] == 1
    assert x.reconcile(incident(), "airflow.clear", 1, utc_now().isoformat()) is None
