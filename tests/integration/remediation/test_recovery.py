"""Recovery of an attempt interrupted half-way: a worker that died between the claim and the call (or after the
call), and an unknown start that must not be sent again once acting is no longer allowed."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

import pytest

from orchestration.runtime import Services
from remediation.executors.base import Submission
from shared.config import Settings
from shared.lifecycle import Event, PlanState
from shared.timeutil import to_iso, utc_now
from tests.integration.remediation.conftest import Env

ACTION = "adf.rerun_from_failure"


@pytest.mark.parametrize("died", ["before_the_call", "after_the_call", "after_marking_started"])
def test_a_worker_that_died_mid_attempt_leaves_no_stuck_plan_and_no_second_run(make_env: Callable[..., Env],
                                                                               died: str) -> None:
    env = make_env()
    env.factory.rerun_outcomes["LoadOrders"] = ["Succeeded"]
    incident_id = env.fail()
    incident = env.incident(incident_id)
    assert (incident.remediation or {})["state"] == PlanState.PLANNED
    store = env.service.store
    # The dead worker's claim, old enough that its function has certainly timed out.
    claim = store.claim(incident_id, 1, ACTION, to_iso(utc_now() - timedelta(minutes=30)))
    assert claim is not None
    if died != "before_the_call":
        submission: Submission = env.service.executors("adf", env.services.settings).submit(incident, ACTION, 1)
        if died == "after_marking_started":
            store.move_claim(claim, ("claimed",), state="started", run_ref=submission.run_ref,
                             started_at=to_iso(utc_now()), calls=submission.calls)
    env.drain(lambda: env.incident(incident_id).status == "resolved", timeout=40)
    assert env.sim.counts["createRun"] == 1
    rem = env.incident(incident_id).remediation or {}
    assert env.incident(incident_id).resolution == "auto_remediated"
    assert len(rem["attempts"]) == 1
    events = [e["event"] for e in env.services.incidents.events(incident_id)]
    assert events.count("remediation_started") == 1


@pytest.mark.parametrize("stop", ["kill_switch", "resolved_by_hand"])
def test_an_unknown_start_is_not_sent_again_once_acting_is_no_longer_allowed(make_env: Callable[..., Env],
                                                                             stop: str) -> None:
    env = make_env()
    env.factory.fail_before_start = 1  # createRun answers 500 and starts nothing: reconcile will find no run
    incident_id = env.fail()
    store = env.service.store

    def claim_state() -> str:
        found = store.get_claim(incident_id, 1)
        return found.state if found else ""

    env.drain(lambda: claim_state() == "unknown")
    assert env.sim.counts["createRun"] == 1
    runner = env
    if stop == "kill_switch":
        settings = Settings.from_mapping({**env.services.settings.raw, "REMEDIATION_KILL_SWITCH": "true"})
        runner = Env(Services.from_settings(settings), env.sim, env.factory)
    else:
        env.services.lifecycle.apply(incident_id, Event.RESOLVED, actor="alice", reason="fixed the source by hand",
                                     resolution="by_hand")
    runner.drain(lambda: claim_state() != "unknown", timeout=30)
    assert env.sim.counts["createRun"] == 1
    assert claim_state() == "refused"


def test_an_escalation_reason_with_a_secret_is_stored_redacted(make_env: Callable[..., Env]) -> None:
    env = make_env()
    incident_id = env.fail()
    secret = "hunter2-very-secret"
    reason = f"looking at the platform failed: HttpResponseError: denied for password={secret}"
    env.service.escalate(incident_id, reason, lambda current: {**(current.remediation or {}), "state": "escalated"},
                         {})
    incident = env.incident(incident_id)
    assert incident.status == "escalated"
    rows = env.services.incidents.events(incident_id)
    assert rows[-1]["event"] == "escalated" and "password=" in rows[-1]["reason"]
    assert secret not in json.dumps(rows, default=str)
