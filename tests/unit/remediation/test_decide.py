"""The pure core: decide() and the policy file."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from remediation.decide import Figures, History, PlanKind, backoff_delay, decide
from remediation.policy import DEFAULT_POLICY_FILE, Mode, Policy, Rule, parse_policy
from shared.models import Incident

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
POLICY_TEXT = """
[defaults]
first_delay_s = 60
jitter = 0.0

[categories.data_quality_schema]
action = "none"

[[pipelines]]
platform = "adf"
pipeline = "Load*"
idempotent = true
"""


def policy(mode: Mode = Mode.AUTO, kill_switch: bool = False) -> Policy:
    return parse_policy(POLICY_TEXT, mode=mode, kill_switch=kill_switch, learn_min_failures=3)


def incident(pipeline: str = "LoadOrders", retryable: bool = True, category: str = "transient_network",
             **more: Any) -> Incident:
    return Incident(id="i1", source="azure-monitor", platform="adf", resource="/subscriptions/s/f", pipeline=pipeline,
                    run_id="r1", status="open", occurrences=1, first_seen="", last_seen="",
                    verdict={"category": category, "retryable": retryable, "retry_delay_s": 120}, **more)


def test_retry_safe_and_idempotent_in_auto_acts_after_the_verdicts_delay() -> None:
    plan = decide(incident(), History(), policy(), NOW)
    assert plan.kind is PlanKind.ACT_LATER and plan.delay_s == 120 and plan.automatic
    assert plan.action == "adf.rerun_from_failure" and plan.attempt == 1
    assert "retry-safe" in plan.reason and "idempotent" in plan.reason
    assert plan.not_before is not None and plan.not_before.startswith("2026-01-01T12:02:00")


@pytest.mark.parametrize("case,expected,words", [
    ({"pipeline": "Orders"}, PlanKind.WAIT_APPROVAL, "not declared idempotent"),
    ({"retryable": False, "category": "auth_permission"}, PlanKind.WAIT_APPROVAL, "not retry-safe"),
    ({"category": "data_quality_schema"}, PlanKind.NOTHING, "allows no action"),
])
def test_what_is_not_automatic(case: dict[str, Any], expected: PlanKind, words: str) -> None:
    plan = decide(incident(**case), History(), policy(), NOW)
    assert plan.kind is expected and words in plan.reason and not plan.automatic


@pytest.mark.parametrize("mode,kill,expected,words", [
    (Mode.OFF, False, PlanKind.NOTHING, "remediation is off"),
    (Mode.AUTO, True, PlanKind.NOTHING, "kill switch"),
    (Mode.DRY_RUN, False, PlanKind.DRY_RUN, "would run adf.rerun_from_failure"),
    (Mode.APPROVE, False, PlanKind.WAIT_APPROVAL, "mode approve"),
])
def test_modes_and_kill_switch(mode: Mode, kill: bool, expected: PlanKind, words: str) -> None:
    plan = decide(incident(), History(), policy(mode, kill), NOW)
    assert plan.kind is expected and words in plan.reason


def test_attempts_used_up_breaker_and_learning_escalate_with_the_reason() -> None:
    assert decide(incident(), History(attempts_made=3), policy(), NOW).kind is PlanKind.ESCALATE
    plan = decide(incident(), History(breaker_open="already 3 actions"), policy(), NOW)
    assert plan.kind is PlanKind.ESCALATE and "circuit breaker open" in plan.reason
    plan = decide(incident(), History(signature=Figures(attempts=4, successes=0, failures=4)), policy(), NOW)
    assert plan.kind is PlanKind.ESCALATE and "4 attempts, 0 succeeded, 4 failed" in plan.reason
    # Signatures that mostly succeed keep being retried.
    plan = decide(incident(), History(signature=Figures(attempts=10, successes=7, failures=3)), policy(), NOW)
    assert plan.kind is PlanKind.ACT_LATER


def test_approval_makes_a_plan_act_now_but_not_past_the_kill_switch() -> None:
    plan = decide(incident(pipeline="Orders"), History(approved_by="alice"), policy(), NOW)
    assert plan.kind is PlanKind.ACT_NOW and "alice approved" in plan.reason
    assert decide(incident(), History(approved_by="alice"), policy(kill_switch=True), NOW).kind is PlanKind.NOTHING


def test_resolved_incident_and_missing_run_do_nothing() -> None:
    assert decide(replace(incident(), status="resolved"), History(), policy(), NOW).kind is PlanKind.NOTHING
    assert decide(replace(incident(), run_id=None), History(), policy(), NOW).kind is PlanKind.NOTHING


def test_backoff_grows_exponentially_with_bounded_deterministic_jitter() -> None:
    rule = Rule(first_delay_s=60, backoff_factor=2.0, max_delay_s=3600, jitter=0.2)
    delays = [backoff_delay(rule, n, None, "i1") for n in (1, 2, 3)]
    assert 48 <= delays[0] <= 72 and 96 <= delays[1] <= 144 and 192 <= delays[2] <= 288
    assert delays == [backoff_delay(rule, n, None, "i1") for n in (1, 2, 3)]
    assert backoff_delay(rule, 20, 60, "i1") <= 3600


def test_the_packaged_policy_parses_and_bad_files_are_refused() -> None:
    packaged = parse_policy(DEFAULT_POLICY_FILE.read_text(), mode=Mode.DRY_RUN, kill_switch=False)
    assert packaged.rule_for("adf", "IngestOrders", "timeout").idempotent
    assert not packaged.rule_for("adf", "Orders", "timeout").idempotent
    with pytest.raises(ValueError):
        parse_policy("[defaults]\nmax_atempts = 3\n", mode=Mode.AUTO, kill_switch=False)
    with pytest.raises(ValueError):
        parse_policy("[defaults]\njitter = 2.0\n", mode=Mode.AUTO, kill_switch=False)
