"""Look before acting, the guards that stop an action (with the reason audited), breakers and learning."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from orchestration.runtime import Services
from shared.config import Settings
from shared.lifecycle import PlanState
from shared.models import AuditAction, Failure
from shared.timeutil import utc_now, utc_now_iso
from tests.integration.remediation.conftest import TRANSIENT, Env
from tests.support.fixtures_platforms import FACTORY_ID


def reasons(env: Env, incident_id: str, *actions: AuditAction) -> str:
    return " | ".join(e.reason for e in env.services.audit.trail(incident_id) if e.action in actions)


def test_a_later_successful_run_supersedes_the_incident_without_a_call(make_env: Callable[..., Env]) -> None:
    env = make_env()
    incident_id = env.fail()
    env.factory.add_run("LoadOrders", "Succeeded", start=utc_now() - timedelta(minutes=1),
                        duration=timedelta(seconds=30))
    env.drain(lambda: env.incident(incident_id).status == "resolved")
    incident = env.incident(incident_id)
    assert incident.resolution == "superseded" and env.sim.counts["createRun"] == 0
    assert "later run" in (incident.resolution_reason or "") and "succeeded" in (incident.resolution_reason or "")


def test_a_run_in_progress_means_wait_not_call(make_env: Callable[..., Env]) -> None:
    env = make_env(REMEDIATION_VERIFY_DEADLINE_MINUTES="0")
    incident_id = env.fail()
    env.factory.add_run("LoadOrders", "InProgress", start=utc_now())
    env.drain(lambda: env.incident(incident_id).status == "escalated")
    assert env.sim.counts["createRun"] == 0
    text = reasons(env, incident_id, AuditAction.REMEDIATION_CALL, AuditAction.INCIDENT_ESCALATED)
    assert "is InProgress" in text and "deadline passed" in text


@pytest.mark.parametrize("pipeline,message,settings,state,words", [
    ("LoadOrders", "Login failed for user 'etl'. AADSTS7000215: Invalid client secret provided.", {},
     PlanState.WAITING_APPROVAL, "not retry-safe"),
    ("Orders", TRANSIENT, {}, PlanState.WAITING_APPROVAL, "not declared idempotent"),
    ("LoadOrders", TRANSIENT, {"REMEDIATION_MODE": "off"}, PlanState.NOTHING, "remediation is off"),
    ("LoadOrders", TRANSIENT, {"REMEDIATION_KILL_SWITCH": "true"}, PlanState.NOTHING, "kill switch"),
    ("LoadOrders", TRANSIENT, {"REMEDIATION_MODE": "dry-run"}, PlanState.DRY_RUN,
     "would run adf.rerun_from_failure (attempt 1 of 3)"),
])
def test_no_call_and_the_reason_in_the_audit(make_env: Callable[..., Env], pipeline: str, message: str,
                                             settings: dict[str, str], state: PlanState, words: str) -> None:
    env = make_env(**settings)
    incident_id = env.fail(pipeline, message)
    rem = env.incident(incident_id).remediation or {}
    assert rem["state"] == state and words in rem["reason"]
    env.drain(lambda: not [m for m in env.queued_steps() if m["step"] == "act"], timeout=5)
    assert env.sim.counts["createRun"] == 0
    assert words in reasons(env, incident_id, AuditAction.REMEDIATION_SKIPPED, AuditAction.REMEDIATION_DRY_RUN,
                            AuditAction.APPROVAL_REQUESTED)


def test_the_kill_switch_also_stops_a_plan_that_was_already_scheduled(make_env: Callable[..., Env]) -> None:
    env = make_env()
    incident_id = env.fail()
    settings = Settings.from_mapping({**env.services.settings.raw, "REMEDIATION_KILL_SWITCH": "true"})
    stopped = Env(Services.from_settings(settings), env.sim, env.factory)
    stopped.drain(lambda: (stopped.incident(incident_id).remediation or {}).get("state") == PlanState.NOTHING)
    assert env.sim.counts["createRun"] == 0


def test_the_factory_breaker_holds_under_100_failures(make_env: Callable[..., Env]) -> None:
    env = make_env(REMEDIATION_BREAKER_RESOURCE_PER_HOUR="5")

    def burst(i: int) -> str:
        run = env.factory.add_failed_run(f"Load{i}", TRANSIENT, start=utc_now() - timedelta(minutes=5))
        failure = Failure(source="azure-monitor", platform="adf", resource=FACTORY_ID, pipeline=f"Load{i}",
                          run_id=run.run_id, activity="Copy data", error_code="2200", message=TRANSIENT)
        recorded = env.services.incidents.record(failure, f"a{i}", utc_now_iso())
        env.services.incidents.update_fields(recorded.incident.id, verdict={
            "category": "transient_network", "retryable": True, "retry_delay_s": 1, "signature": {"hash": f"s{i}"}})
        env.service.start(env.incident(recorded.incident.id))
        return recorded.incident.id

    with ThreadPoolExecutor(max_workers=8) as pool:  # 100 failures of one factory arriving together
        ids = list(pool.map(burst, range(100)))
    env.drain(env.queue_empty, timeout=120)
    assert env.sim.counts["createRun"] == 5
    escalated = [i for i in ids if env.incident(i).status == "escalated"]
    assert len(escalated) == 95
    assert "circuit breaker open" in (env.incident(escalated[-1]).remediation or {})["reason"]


def test_a_signature_whose_retries_keep_failing_is_not_retried_automatically(make_env: Callable[..., Env]) -> None:
    env = make_env(REMEDIATION_LEARN_MIN_FAILURES="2")
    env.factory.rerun_outcomes["LoadOrders"] = ["Failed"] * 5
    first = env.fail()
    env.drain(lambda: env.incident(first).status == "escalated")
    assert env.sim.counts["createRun"] == 2  # the third attempt was refused on the figures
    assert "2 attempts, 0 succeeded, 2 failed" in (env.incident(first).remediation or {})["reason"]
    second = env.fail()
    rem = env.incident(second).remediation or {}
    assert env.incident(second).status == "escalated" and "keep failing" in rem["reason"]
    assert rem["figures"]["signature"]["failures"] == 2
    assert env.sim.counts["createRun"] == 2
