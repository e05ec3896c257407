"""The pure core of remediation: incident + verdict + history + policy + time -> a plan, with its reason in words.

No I/O. The service (remediation.service) gathers the history (attempts made, breakers, learned figures) and
carries the plan out; this module only decides.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from remediation.policy import Mode, Policy, Rule
from shared.lifecycle import is_unresolved
from shared.models import Incident
from shared.timeutil import to_iso


class PlanKind(enum.StrEnum):
    ACT_NOW = "act_now"
    ACT_LATER = "act_later"  # act after `delay_s` (the verdict's retry delay, then backoff)
    WAIT_APPROVAL = "wait_approval"
    ESCALATE = "escalate"
    NOTHING = "nothing"
    DRY_RUN = "dry_run"  # mode dry-run: the reason says what would have been done


@dataclass(frozen=True)
class Figures:
    """Remediation outcomes so far (per error signature or per pipeline)."""

    attempts: int = 0
    successes: int = 0
    failures: int = 0

    @property
    def success_rate(self) -> float | None:
        done = self.successes + self.failures
        return None if done == 0 else self.successes / done

    def words(self) -> str:
        rate = self.success_rate
        return (f"{self.attempts} attempts, {self.successes} succeeded, {self.failures} failed"
                + ("" if rate is None else f" ({rate:.0%} success)"))


@dataclass(frozen=True)
class History:
    attempts_made: int = 0  # attempts this incident already had
    approved_by: str | None = None  # a person approved the next attempt
    breaker_open: str | None = None  # why a circuit breaker is open, or None
    signature: Figures = field(default_factory=Figures)
    pipeline: Figures = field(default_factory=Figures)


@dataclass(frozen=True)
class Plan:
    kind: PlanKind
    reason: str
    action: str | None = None
    attempt: int = 0  # the attempt this plan is for (1-based)
    delay_s: int = 0
    not_before: str | None = None
    max_attempts: int = 0
    automatic: bool = False  # allowed without a person
    mode: str = ""
    rule: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["kind"] = self.kind.value
        data["rule"] = list(self.rule)
        return data


def verdict_facts(incident: Incident) -> tuple[str, bool, int | None]:
    """(category, retry-safe, retry delay) as analysis decided them (the guarded decision beats the bare rule)."""
    decision = (incident.analysis or {}).get("decision") or {}
    verdict = incident.verdict or {}
    category = str(decision.get("category") or verdict.get("category") or "unknown")
    retryable = bool(decision["retryable"] if "retryable" in decision else verdict.get("retryable", False))
    delay = decision.get("retry_delay_s", verdict.get("retry_delay_s"))
    return category, retryable, int(delay) if isinstance(delay, int | float) else None


def backoff_delay(rule: Rule, attempt: int, first_delay_s: int | None, salt: str) -> int:
    """Delay before `attempt` (1-based): first delay (the verdict's, else the rule's) x factor^(attempt-1), capped,
    with a deterministic jitter of +/- rule.jitter derived from `salt` (so the function stays pure)."""
    first = rule.first_delay_s if first_delay_s is None else first_delay_s
    base = min(float(rule.max_delay_s), first * rule.backoff_factor ** max(0, attempt - 1))
    spread = int.from_bytes(hashlib.sha256(f"{salt}|{attempt}".encode()).digest()[:4], "big") / 2**32
    return max(0, round(min(float(rule.max_delay_s), base * (1 + rule.jitter * (2 * spread - 1)))))


def decide(incident: Incident, history: History, policy: Policy, now: datetime) -> Plan:
    category, retryable, first_delay = verdict_facts(incident)
    rule = policy.rule_for(incident.platform, incident.pipeline, category)
    action = rule.platform_action(incident.platform)
    attempt = history.attempts_made + 1
    base: dict[str, Any] = {"action": action, "attempt": attempt, "max_attempts": rule.max_attempts,
                            "mode": policy.mode.value, "rule": rule.matched}
    what = f"{incident.platform} {incident.pipeline or '?'} run {incident.run_id or '-'}"

    if not is_unresolved(incident.status):
        return Plan(PlanKind.NOTHING, f"the incident is already {incident.status}", **base)
    if policy.kill_switch:
        return Plan(PlanKind.NOTHING, "the kill switch (REMEDIATION_KILL_SWITCH) is on: no action is taken", **base)
    if policy.mode is Mode.OFF:
        return Plan(PlanKind.NOTHING, "remediation is off (REMEDIATION_MODE=off)", **base)
    if action is None:
        why = (f"the policy ({', '.join(rule.matched)}) allows no action for category {category}"
               if rule.action != "rerun" else f"no remediation action exists for platform {incident.platform}")
        return Plan(PlanKind.NOTHING, why, **base)
    if not incident.run_id:
        return Plan(PlanKind.NOTHING, "the failure names no run, so there is nothing to rerun", **base)
    if history.attempts_made >= rule.max_attempts:
        return Plan(PlanKind.ESCALATE, f"{history.attempts_made} of {rule.max_attempts} attempts made and the "
                    f"failure remains: a person has to look", **base)
    if history.breaker_open:
        return Plan(PlanKind.ESCALATE, f"circuit breaker open: {history.breaker_open}; notify only", **base)

    sig = history.signature
    learned_bad = (sig.failures >= policy.learn_min_failures
                   and (sig.success_rate or 0.0) < policy.learn_min_success_rate)
    delay = backoff_delay(rule, attempt, first_delay, incident.id)
    when = f"after {delay} s" if delay else "now"
    do = f"{action} (attempt {attempt} of {rule.max_attempts}) on {what}"

    blockers = []
    if not retryable:
        blockers.append(f"the verdict ({category}) is not retry-safe")
    if not rule.idempotent:
        blockers.append(f"pipeline {incident.pipeline!r} is not declared idempotent in the policy")
    if learned_bad:
        blockers.append(f"retries of this error signature keep failing ({sig.words()})")
    automatic = not blockers and policy.mode is Mode.AUTO

    if policy.mode is Mode.DRY_RUN:
        if not blockers:
            would = f"would run {do} {when} without approval in mode auto"
        else:
            would = f"would ask for approval to run {do} ({'; '.join(blockers)})"
        return Plan(PlanKind.DRY_RUN, f"dry-run: {would}; nothing was called", delay_s=delay, **base)
    if history.approved_by:
        return Plan(PlanKind.ACT_NOW, f"{history.approved_by} approved {do}", automatic=False, **base)
    if learned_bad and policy.mode is Mode.AUTO and retryable and rule.idempotent:
        return Plan(PlanKind.ESCALATE, f"not retried automatically: retries of this error signature keep failing "
                    f"({sig.words()})", **base)
    if automatic:
        kind = PlanKind.ACT_LATER if delay else PlanKind.ACT_NOW
        reason = (f"{do} {when}: the verdict ({category}) is retry-safe and the pipeline is declared idempotent "
                  f"({', '.join(rule.matched)})")
        not_before = to_iso(now + timedelta(seconds=delay))
        return Plan(kind, reason, delay_s=delay, not_before=not_before, automatic=True, **base)
    why = "; ".join(blockers) if policy.mode is Mode.AUTO else "mode approve: every action needs approval"
    if policy.mode is Mode.APPROVE and blockers:
        why += " (" + "; ".join(blockers) + ")"
    return Plan(PlanKind.WAIT_APPROVAL, f"{do} waits for approval: {why}", **base)
