"""The delayed remediation steps, each one REMEDIATION_QUEUE message (never a sleep in a function):

  act        look at the platform, claim the attempt (insert-only row), pass the circuit breakers, submit once
  reconcile  after a start call with an unknown outcome (5xx, timeout): find the run it started, else resubmit
  verify     read the new run: succeeded -> resolved (auto_remediated); failed -> classify the new error, then
             the next attempt or escalation; running -> check again with backoff until the deadline
  expire     a plan still waiting for approval past its expiry -> escalated

Duplicate deliveries, queue retries and concurrent workers are harmless: each step is guarded by the plan id,
the attempt's claim row and ETag-conditional moves of it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from typing import Any

from analysis.classifier import classify
from remediation.executors import NoExecutor
from remediation.executors.base import Executor, Outcome, Seen, Submission, UnknownOutcome
from remediation.service import ACTING, ACTOR, RemediationService, seconds_since
from remediation.store import Claim
from shared.lifecycle import Event, PlanState
from shared.models import AuditAction, Failure, Incident
from shared.redaction import redact, redact_text
from shared.scope import out_of_scope_reason
from shared.timeutil import to_iso

log = logging.getLogger(__name__)
ARM_PLATFORMS = ("adf", "synapse")
RECONCILE_DELAY_S = 15
RECONCILE_CHECKS = 4  # reconcile reads before an unknown start is taken as not started
MAX_CHECK_DELAY_S = 900
# A claim older than this belongs to a worker that is gone: host.json functionTimeout (10 min) ends any worker.
CLAIM_GRACE_S = 660


class BadStep(ValueError):
    """The message is not a remediation step (it goes to the poison queue)."""


def handle(service: RemediationService, text: str | bytes) -> str:
    """Run one REMEDIATION_QUEUE message; returns what was done, in words (for the log)."""
    try:
        msg: Any = json.loads(text)
        step, incident_id = str(msg["step"]), str(msg["incident_id"])
        plan_id, attempt, checks = str(msg.get("plan_id", "")), int(msg.get("attempt", 1)), int(msg.get("checks", 0))
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise BadStep(f"not a remediation step: {exc}") from exc
    runner = Steps(service)
    if step == "act":
        return runner.act(incident_id, plan_id, attempt, checks)
    if step == "verify":
        return runner.verify(incident_id, plan_id, attempt, checks)
    if step == "reconcile":
        return runner.reconcile(incident_id, plan_id, attempt, checks)
    if step == "expire":
        service.expire(incident_id, plan_id)
        return "expiry checked"
    raise BadStep(f"unknown remediation step {step!r}")


class Steps:
    def __init__(self, service: RemediationService) -> None:
        self.s = service

    def check_delay(self, checks: int) -> int:
        first = self.s.settings.int_setting("REMEDIATION_VERIFY_INTERVAL_SECONDS")
        return int(min(MAX_CHECK_DELAY_S, first * 2 ** min(checks, 10)))

    def reconcile_delay(self, checks: int) -> int:
        return min(RECONCILE_DELAY_S * (checks + 1), self.check_delay(checks))

    def deadline_passed(self, since: str | None) -> bool:
        deadline_s = self.s.settings.int_setting("REMEDIATION_VERIFY_DEADLINE_MINUTES") * 60
        return seconds_since(since, self.s.clock()) > deadline_s

    def current(self, incident_id: str, plan_id: str, state: PlanState) -> Incident | None:
        incident = self.s.incidents.get(incident_id)
        rem = (incident.remediation or {}) if incident else {}
        if incident is None or rem.get("state") != state or rem.get("plan_id") != plan_id:
            return None
        return incident

    def expect(self, plan_id: str, *states: PlanState) -> Any:
        return lambda rem: rem.get("plan_id") == plan_id and rem.get("state") in states

    def call_audit(self, incident_id: str, reason: str, details: dict[str, Any]) -> None:
        self.s.audit.append(incident_id, AuditAction.REMEDIATION_CALL, ACTOR, reason, redact(details))

    # --- act ------------------------------------------------------------------------------
    def act(self, incident_id: str, plan_id: str, attempt: int, checks: int) -> str:
        incident = self.current(incident_id, plan_id, PlanState.PLANNED)
        if incident is None:
            return "stale act message: the plan moved on"
        rem = incident.remediation or {}
        # Decided again at the moment of acting: the mode, kill switch, breakers or learning may have changed.
        plan = self.s.plan(incident, attempts_made=attempt - 1, approved_by=rem.get("approved_by"))
        if plan.kind not in ACTING:
            self.s.carry_out(incident, plan, expect=self.expect(plan_id, PlanState.PLANNED))
            return f"not acting: {plan.reason}"
        assert plan.action is not None
        if incident.platform in ARM_PLATFORMS:
            refused = out_of_scope_reason(self.s.settings, incident.resource)
            if refused:
                self.s.escalate(incident_id, f"remediation refused: {refused}",
                                self._state(plan_id, PlanState.ESCALATED, PlanState.PLANNED), {"scope": refused})
                return refused
        try:
            executor = self.s.executors(incident.platform, self.s.settings)
        except NoExecutor as exc:
            self.s.escalate(incident_id, str(exc), self._state(plan_id, PlanState.ESCALATED, PlanState.PLANNED), {})
            return str(exc)
        existing = self.s.store.get_claim(incident_id, attempt)
        if existing is not None:
            return self.resume(incident, existing, plan_id, checks)
        try:
            seen = executor.look(incident, plan.action)
        except Exception as exc:
            return self._retry_later("act", incident_id, plan_id, attempt, checks, rem.get("decided_at"),
                                     f"looking at the platform failed: {type(exc).__name__}: {exc}")
        self.call_audit(incident_id, f"look before acting: {seen.reason}", {"seen": seen.seen.value,
                                                                              "run_ref": seen.run_ref})
        if seen.seen is Seen.IN_PROGRESS:
            return self._retry_later("act", incident_id, plan_id, attempt, checks, rem.get("decided_at"),
                                     f"waiting: {seen.reason}")
        if seen.seen is not Seen.CLEAR and self.s.store.get_claim(incident_id, attempt) is not None:
            # What the look saw may be the run a concurrent worker just started for this very attempt.
            return f"attempt {attempt} is already claimed: nothing more to do"
        if seen.seen is Seen.SUPERSEDED:
            self.s.transition(incident_id, Event.SUPERSEDED, f"no action: {seen.reason}",
                              self._state(plan_id, PlanState.RESOLVED, PlanState.PLANNED, reason=seen.reason),
                              {"run_ref": seen.run_ref})
            return "superseded"
        claim = self.s.store.claim(incident_id, attempt, plan.action, to_iso(self.s.clock()))
        if claim is None:
            return f"attempt {attempt} is already claimed: nothing more to do"
        if seen.seen is Seen.ADOPT:
            self.started(incident, claim, Submission(plan.action, seen.run_ref, []), plan_id, adopted=seen.reason)
            return "adopted"
        reserved: list[tuple[str, str]] = []
        for scope, window, limit, words in self.s.breaker_scopes(incident, self.s.clock()):
            if not self.s.store.reserve(scope, window, limit):
                for done_scope, done_window in reserved:
                    self.s.store.release(done_scope, done_window)
                self.s.store.move_claim(claim, ("claimed",), state="refused", finished_at=to_iso(self.s.clock()))
                reason = f"circuit breaker open: already {words}; notify only, nothing was called"
                self.s.escalate(incident_id, reason, self._state(plan_id, PlanState.ESCALATED, PlanState.PLANNED),
                                {"breaker": scope})
                return reason
            reserved.append((scope, window))
        return self.submit(executor, incident, claim, plan_id)

    def submit(self, executor: Executor, incident: Incident, claim: Claim, plan_id: str) -> str:
        try:
            submission = executor.submit(incident, claim.action, claim.attempt)
        except UnknownOutcome as exc:
            self.s.store.move_claim(claim, ("claimed",), state="unknown")
            self.call_audit(incident.id, f"{claim.action} attempt {claim.attempt}: outcome unknown ({exc}); "
                            "reconciling before anything is tried again", {"attempt": claim.attempt})
            self.s.send("reconcile", self.reconcile_delay(0), incident.id, plan_id, claim.attempt)
            return "unknown outcome"
        except Exception as exc:
            self.s.store.move_claim(claim, ("claimed",), state="failed", finished_at=to_iso(self.s.clock()))
            reason = f"{claim.action} was refused by the platform: {type(exc).__name__}: {redact_text(str(exc))[:500]}"
            self.call_audit(incident.id, reason, {"attempt": claim.attempt})
            self.s.escalate(incident.id, reason, self._state(plan_id, PlanState.ESCALATED, PlanState.PLANNED), {})
            return reason
        self.started(incident, claim, submission, plan_id)
        return "started"

    def started(self, incident: Incident, claim: Claim, submission: Submission, plan_id: str,
                adopted: str | None = None) -> None:
        moved = self.s.store.move_claim(claim, ("claimed", "unknown"), state="started", run_ref=submission.run_ref,
                                        started_at=to_iso(self.s.clock()), calls=submission.calls)
        if moved is None:
            return
        if submission.run_ref.get("run_id"):
            self.s.store.note_run(str(submission.run_ref["run_id"]), incident.id, claim.attempt)
        self.record_started(incident, moved, plan_id, submission.calls, adopted)

    def record_started(self, incident: Incident, claim: Claim, plan_id: str, calls: list[dict[str, Any]],
                       adopted: str | None = None) -> bool:
        """The plan moves to `remediating` with the attempt's run, and verification is scheduled -- once: the
        transition is guarded on the plan still being `planned`, so a worker resuming a half-recorded attempt
        and the worker that started it cannot both record it."""
        what = f"adopted the run made by hand ({adopted})" if adopted else f"{claim.action} started"
        entry = {"attempt": claim.attempt, "action": claim.action, "run_ref": claim.run_ref,
                 "started_at": claim.started_at, "adopted": bool(adopted), "outcome": "running"}

        def change(current: Incident) -> dict[str, Any] | None:
            rem = current.remediation or {}
            if rem.get("plan_id") != plan_id or rem.get("state") != PlanState.PLANNED:
                return None
            runs = [*rem.get("known_runs", []), *[str(v) for k, v in claim.run_ref.items() if k == "run_id"]]
            return {**rem, "state": PlanState.REMEDIATING.value, "known_runs": runs,
                    "attempts": [*rem.get("attempts", []), entry]}

        done = self.s.transition(incident.id, Event.REMEDIATION_STARTED, f"attempt {claim.attempt}: {what}", change,
                                 {"attempt": claim.attempt, "run_ref": claim.run_ref})
        if done is None:
            return False
        self.s.store.bump_stats(self.s.keys(incident), "attempts")
        self.call_audit(incident.id, f"attempt {claim.attempt}: {what}",
                        {"attempt": claim.attempt, "run_ref": claim.run_ref, "calls": calls})
        self.s.send("verify", self.check_delay(0), incident.id, plan_id, claim.attempt)
        return True

    def resume(self, incident: Incident, claim: Claim, plan_id: str, checks: int) -> str:
        """The plan is still `planned` but its attempt is claimed: a worker is acting right now, or one died
        between the claim and recording the outcome (the host redelivers its message; the claim is left).
        Pick up where it stopped, and never call again without reconciling with the platform first."""
        if claim.state == "started":
            if claim.run_ref.get("run_id"):
                self.s.store.note_run(str(claim.run_ref["run_id"]), incident.id, claim.attempt)
            recorded = self.record_started(incident, claim, plan_id, [])
            return f"attempt {claim.attempt} had started: {'recorded' if recorded else 'already recorded'}"
        if claim.state in ("failed", "refused"):
            reason = f"attempt {claim.attempt} ended {claim.state} before its outcome was recorded"
            self.s.escalate(incident.id, reason, self._state(plan_id, PlanState.ESCALATED, PlanState.PLANNED), {})
            return reason
        if claim.state not in ("claimed", "unknown"):
            return f"attempt {claim.attempt} is already {claim.state}: nothing more to do"
        age = seconds_since(claim.claimed_at, self.s.clock())
        if age < CLAIM_GRACE_S:
            # Possibly a live worker (its call is bounded by the function timeout): look again once it cannot be.
            delay = int(CLAIM_GRACE_S - age) + 1
            self.s.send("act", delay, incident.id, plan_id, claim.attempt, checks=checks + 1)
            return f"attempt {claim.attempt} is already claimed: looking again in {delay} s"
        if claim.state == "claimed" and self.s.store.move_claim(claim, ("claimed",), state="unknown") is None:
            return f"attempt {claim.attempt} moved meanwhile: nothing more to do"
        self.call_audit(incident.id, f"attempt {claim.attempt} was claimed at {claim.claimed_at} and never recorded "
                        "(the worker died): reconciling with the platform before anything is tried again",
                        {"attempt": claim.attempt})
        self.s.send("reconcile", 0, incident.id, plan_id, claim.attempt)
        return "resumed: reconciling"

    # --- reconcile ------------------------------------------------------------------------
    def reconcile(self, incident_id: str, plan_id: str, attempt: int, checks: int) -> str:
        claim = self.s.store.get_claim(incident_id, attempt)
        incident = self.s.incidents.get(incident_id)
        if claim is None or claim.state != "unknown" or incident is None:
            return "nothing to reconcile"
        executor = self.s.executors(incident.platform, self.s.settings)
        found = executor.reconcile(incident, claim.action, attempt, claim.claimed_at)
        if found is not None:
            self.call_audit(incident_id, f"reconciled attempt {attempt}: the start call did start {found.run_ref}",
                            {"attempt": attempt, "run_ref": found.run_ref})
            self.started(incident, claim, found, plan_id)
            return "reconciled: run found"
        if checks + 1 < RECONCILE_CHECKS:
            self.s.send("reconcile", self.reconcile_delay(checks + 1), incident_id, plan_id, attempt, checks=checks + 1)
            return "reconcile: nothing yet"
        # The platform shows no run for this attempt after several reads: it did not start. Submit again -- only if
        # acting is still allowed now (kill switch, mode, incident resolved meanwhile, scope) -- still under the
        # same claim (only the worker that moves the claim back may do so).
        refused = self.refusal(incident, plan_id, attempt)
        if refused is not None:
            if self.s.store.move_claim(claim, ("unknown",), state="refused",
                                       finished_at=to_iso(self.s.clock())) is not None:
                self.call_audit(incident_id, f"attempt {attempt}: no run was started by the unknown call, and it is "
                                f"not sent again: {refused}", {"attempt": attempt})
            return f"reconcile: not submitting again: {refused}"
        retaken = self.s.store.move_claim(claim, ("unknown",), state="claimed")
        if retaken is None:
            return "reconcile: another worker took over"
        self.call_audit(incident_id, f"attempt {attempt}: no run was started by the unknown call; submitting again",
                        {"attempt": attempt})
        return self.submit(executor, incident, retaken, plan_id)

    def refusal(self, incident: Incident, plan_id: str, attempt: int) -> str | None:
        """Why this attempt may not be (re)submitted now, or None. A plan that may no longer act is carried out
        as decided now (nothing / escalate)."""
        rem = incident.remediation or {}
        if rem.get("plan_id") != plan_id or rem.get("state") != PlanState.PLANNED:
            return "the plan moved on"
        plan = self.s.plan(incident, attempts_made=attempt - 1, approved_by=rem.get("approved_by"))
        if plan.kind not in ACTING:
            self.s.carry_out(incident, plan, expect=self.expect(plan_id, PlanState.PLANNED))
            return plan.reason
        refused = out_of_scope_reason(self.s.settings, incident.resource) if incident.platform in ARM_PLATFORMS else ""
        return f"remediation refused: {refused}" if refused else None

    # --- verify ---------------------------------------------------------------------------
    def verify(self, incident_id: str, plan_id: str, attempt: int, checks: int) -> str:
        incident = self.current(incident_id, plan_id, PlanState.REMEDIATING)
        claim = self.s.store.get_claim(incident_id, attempt)
        if incident is None or claim is None or claim.state != "started":
            return "stale verify message"
        executor = self.s.executors(incident.platform, self.s.settings)
        try:
            check = executor.check(incident, claim.run_ref)
        except Exception as exc:
            return self._retry_later("verify", incident_id, plan_id, attempt, checks, claim.started_at,
                                     f"reading the run failed: {type(exc).__name__}: {exc}")
        if check.outcome is Outcome.RUNNING:
            return self._retry_later("verify", incident_id, plan_id, attempt, checks, claim.started_at,
                                     f"the run is still running ({check.detail})")
        now = to_iso(self.s.clock())
        state = "succeeded" if check.outcome is Outcome.SUCCEEDED else "failed"
        if self.s.store.move_claim(claim, ("started",), state=state, finished_at=now) is None:
            return "another worker verified this attempt"
        self.s.store.bump_stats(self.s.keys(incident), "successes" if state == "succeeded" else "failures")
        if check.outcome is Outcome.SUCCEEDED:
            recover_s = round(seconds_since(incident.first_seen, self.s.clock()))
            self.s.transition(incident_id, Event.REMEDIATION_SUCCEEDED,
                              f"attempt {attempt} succeeded ({check.detail}); time to recover {recover_s} s",
                              self._finish(plan_id, attempt, "succeeded", now, PlanState.RESOLVED,
                                           time_to_recover_s=recover_s),
                              {"attempt": attempt, "time_to_recover_s": recover_s})
            return "succeeded"
        return self.failed(incident, plan_id, attempt, check.error_code, check.error_message, check.activity,
                           check.detail, now)

    def failed(self, incident: Incident, plan_id: str, attempt: int, code: str | None, message: str | None,
               activity: str | None, detail: str, now: str) -> str:
        # The new error is classified again: the next attempt is decided on what failed this time.
        failure = Failure.from_dict({**incident.failure, "error_code": code or incident.error_code,
                                     "message": redact_text(message or incident.error_message or ""),
                                     "activity": activity or incident.activity})
        verdict = redact(classify(failure).to_dict())
        summary = {k: verdict.get(k) for k in ("category", "retryable", "retry_delay_s", "matched_rule")}
        done = self.s.transition(
            incident.id, Event.REMEDIATION_ATTEMPT_FAILED,
            f"attempt {attempt} failed ({detail}): {verdict['category']}, "
            f"{'retryable' if verdict['retryable'] else 'not retryable'}",
            self._finish(plan_id, attempt, "failed", now, PlanState.REMEDIATING, error={
                "code": code, "message": redact_text(message or "")[:2000], "verdict": summary}),
            {"attempt": attempt, "verdict": summary})
        if done is None:
            return "attempt failed (the incident moved on)"
        again = replace(done.incident, verdict=verdict, analysis=None)
        plan = self.s.plan(again, attempts_made=attempt)
        self.s.carry_out(again, plan, expect=self.expect(plan_id, PlanState.REMEDIATING),
                         extra={"previous_plan_id": plan_id})
        return f"attempt failed; next: {plan.kind.value}"

    # --- helpers ----------------------------------------------------------------------------
    def _state(self, plan_id: str, state: PlanState, *from_states: PlanState, **more: Any) -> Any:
        def change(current: Incident) -> dict[str, Any] | None:
            rem = current.remediation or {}
            if rem.get("plan_id") != plan_id or rem.get("state") not in from_states:
                return None
            return {**rem, "state": state.value, **more}
        return change

    def _finish(self, plan_id: str, attempt: int, outcome: str, now: str, state: PlanState, **more: Any) -> Any:
        def change(current: Incident) -> dict[str, Any] | None:
            rem = current.remediation or {}
            if rem.get("plan_id") != plan_id:
                return None
            attempts = [({**a, "outcome": outcome, "finished_at": now, **({"error": more["error"]} if "error" in more
                                                                          else {})}
                          if a.get("attempt") == attempt else a) for a in rem.get("attempts", [])]
            extra = {k: v for k, v in more.items() if k != "error"}
            return {**rem, "state": state.value, "attempts": attempts, **extra}
        return change

    def _retry_later(self, step: str, incident_id: str, plan_id: str, attempt: int, checks: int, since: str | None,
                     why: str) -> str:
        why = redact_text(why)[:1000]
        if self.deadline_passed(since):
            reason = f"{why}; the deadline passed, escalating"
            state = PlanState.PLANNED if step == "act" else PlanState.REMEDIATING
            self.s.escalate(incident_id, reason, self._state(plan_id, PlanState.ESCALATED, state), {})
            return reason
        delay = self.check_delay(checks)
        self.s.audit.append(incident_id, AuditAction.REMEDIATION_SKIPPED if step == "act"
                            else AuditAction.REMEDIATION_CALL, ACTOR, f"{why}; checking again in {delay} s",
                            {"step": step, "attempt": attempt, "check": checks + 1})
        self.s.send(step, delay, incident_id, plan_id, attempt, checks=checks + 1)
        return why


