"""Acceptance: rerun from failure against the simulated Data Factory, exactly once, verified."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import timedelta

from remediation import steps
from shared.lifecycle import PlanState
from shared.models import AuditAction
from shared.timeutil import utc_now
from tests.integration.remediation.conftest import Env


def test_transient_failure_is_rerun_twice_and_auto_resolved(make_env: Callable[..., Env]) -> None:
    env = make_env()
    env.factory.rerun_outcomes["LoadOrders"] = ["Failed", "Succeeded"]
    incident_id = env.fail()
    plan = env.incident(incident_id).remediation
    assert plan is not None and plan["state"] == PlanState.PLANNED and plan["plan"]["kind"] == "act_later"
    env.drain(lambda: env.incident(incident_id).status == "resolved")
    incident = env.incident(incident_id)
    assert incident.resolution == "auto_remediated"
    rem = incident.remediation or {}
    assert rem["state"] == PlanState.RESOLVED and rem["time_to_recover_s"] >= 0
    assert [a["outcome"] for a in rem["attempts"]] == ["failed", "succeeded"]
    # Exactly two createRun calls, each a recovery rerun from the failure of the original run.
    assert env.sim.counts["createRun"] == 2
    for call in env.factory.created_runs:
        assert call["isRecovery"] == "true" and call["startFromFailure"] == "true"
        assert call["referencePipelineRunId"] == incident.run_id
    events = [e["event"] for e in env.services.incidents.events(incident_id)]
    assert events == ["opened", "remediation_planned", "remediation_started", "remediation_attempt_failed",
                      "remediation_planned", "remediation_started", "remediation_succeeded"]
    trail = [e.action for e in env.services.audit.trail(incident_id)]
    for action in (AuditAction.REMEDIATION_PLANNED, AuditAction.REMEDIATION_CALL, AuditAction.REMEDIATION_STARTED,
                   AuditAction.REMEDIATION_FAILED, AuditAction.REMEDIATION_VERIFIED):
        assert action in trail
    stats = {row["key"]: row for row in env.service.store.all_stats()}
    assert stats["pipe|adf|LoadOrders"]["attempts"] == 2 and stats["pipe|adf|LoadOrders"]["successes"] == 1
    # The failed rerun, reported by the next alert, is not remediated as an incident of its own.
    failed_rerun = rem["attempts"][0]["run_ref"]["run_id"]
    env.report("LoadOrders", env.factory.runs[failed_rerun].run_start)
    rerun_incidents, _ = env.services.incidents.list({"run_id": failed_rerun}, None, 10, None)
    assert len(rerun_incidents) == 1
    other = rerun_incidents[0].remediation or {}
    assert other["state"] == PlanState.NOTHING and f"attempt 1 of incident {incident_id}" in other["reason"]
    assert env.sim.counts["createRun"] == 2


def test_concurrent_workers_duplicates_and_a_500_after_start_make_one_run(make_env: Callable[..., Env]) -> None:
    env = make_env()
    env.factory.fail_after_start = 1  # createRun starts the run, then answers 500
    run = env.factory.add_failed_run("LoadOrders", "x " + "transport-level error", start=utc_now() -
                                     timedelta(minutes=5))
    run.activities[-1].error = {"errorCode": "2200", "message": "ErrorCode=SqlFailedToConnect, Cannot connect to "
                                "SQL Database. A transport-level error has occurred", "failureType": "UserError",
                                "target": "Copy data"}
    # 50 deliveries of the same alert over 8 workers: one incident, one plan.
    alert = "dup-alert"
    ids: list[str] = []
    errors: list[BaseException] = []

    def deliver() -> None:
        try:
            for _ in range(50 // 8 + 1):
                ids.append(env.report("LoadOrders", run.run_start, alert))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(ids)) == 1
    incident_id = ids[0]
    rem = env.incident(incident_id).remediation or {}
    act = [m for m in env.queued_steps() if m["step"] == "act"]
    assert len(act) == 1
    # The act message delivered 50 times to 8 concurrent workers.
    body = json.dumps({"step": "act", "incident_id": incident_id, "plan_id": rem["plan_id"], "attempt": 1})
    outcomes: list[str] = []

    def worker() -> None:
        for _ in range(50 // 8 + 1):
            outcomes.append(steps.handle(env.service, body))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("unknown outcome") == 1
    env.drain(lambda: env.incident(incident_id).status == "resolved", timeout=40)
    assert env.sim.counts["createRun"] == 1  # the 500 was reconciled through the run group, never resent
    incident = env.incident(incident_id)
    assert incident.resolution == "auto_remediated"
    assert len((incident.remediation or {})["attempts"]) == 1
