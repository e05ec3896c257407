"""Remediation as a service over the stores: plan an incident (decide), carry the plan out, propose a plan for
approval, approve / reject it, and the delayed steps (act, verify, reconcile, expiry) that run from
REMEDIATION_QUEUE messages (see remediation.steps).

Every status change goes through the lifecycle (shared.transitions); the plan lives in
`incident.remediation` (state: shared.lifecycle.PlanState). Writes that depend on the plan are guarded on the
incident's current plan, so a stale or duplicate message changes nothing.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from azure.storage.queue import QueueClient

from remediation.approval import ApprovalClaim, approval_url, sign
from remediation.decide import Figures, History, Plan, PlanKind, decide
from remediation.executors import executor_for
from remediation.executors.base import Executor
from remediation.policy import Policy, load_policy
from remediation.store import RemediationStore
from shared.config import Settings
from shared.incidents import IncidentStore, Transitioned
from shared.lifecycle import Event, PlanState
from shared.models import AuditAction, Incident
from shared.records import AuditLog
from shared.redaction import redact_text
from shared.timeutil import parse_iso, to_iso, utc_now
from shared.transitions import Lifecycle

log = logging.getLogger(__name__)
ACTOR = "remediation"
MAX_VISIBILITY_S = 7 * 24 * 3600 - 60  # a queue message can be hidden for at most 7 days
ACTING = (PlanKind.ACT_NOW, PlanKind.ACT_LATER)


@dataclass(frozen=True)
class Proposal:
    plan: Plan
    transitioned: Transitioned | None  # the APPROVAL_REQUESTED event, when the plan now waits for approval


class RemediationService:
    def __init__(self, settings: Settings, incidents: IncidentStore, audit: AuditLog, lifecycle: Lifecycle,
                 store: RemediationStore, queue: QueueClient | None,
                 executors: Callable[[str, Settings], Executor] = executor_for,
                 policy: Policy | None = None, clock: Callable[[], datetime] = utc_now) -> None:
        self.settings = settings
        self.incidents = incidents
        self.audit = audit
        self.lifecycle = lifecycle
        self.store = store
        self.queue = queue
        self.executors = executors
        self._policy = policy
        self.clock = clock

    @property
    def policy(self) -> Policy:
        if self._policy is None:
            self._policy = load_policy(self.settings)
        return self._policy

    # --- planning --------------------------------------------------------------------------
    def keys(self, incident: Incident) -> dict[str, str]:
        """Learning keys (stats row -> label): the error signature and the pipeline."""
        keys = {f"pipe|{incident.platform}|{incident.pipeline or '?'}": f"{incident.platform} {incident.pipeline}"}
        signature = ((incident.verdict or {}).get("signature") or {})
        if signature.get("hash"):
            keys[f"sig|{signature['hash']}"] = str(signature.get("text") or signature["hash"])[:300]
        return keys

    def breaker_scopes(self, incident: Incident, now: datetime) -> list[tuple[str, str, int, str]]:
        """(scope, window start, limit, words) of the two circuit breakers for this incident."""
        minutes = max(1, self.settings.int_setting("REMEDIATION_BREAKER_WINDOW_MINUTES"))
        epoch = int(now.timestamp() // (minutes * 60)) * minutes * 60
        hour = int(now.timestamp() // 3600) * 3600
        per_pipeline = self.settings.int_setting("REMEDIATION_BREAKER_PIPELINE_MAX")
        per_resource = self.settings.int_setting("REMEDIATION_BREAKER_RESOURCE_PER_HOUR")
        return [
            (f"pipe|{incident.platform}|{incident.resource}|{incident.pipeline}", str(epoch), per_pipeline,
             f"{per_pipeline} actions on pipeline {incident.pipeline} within {minutes} min"),
            (f"res|{incident.platform}|{incident.resource}", str(hour), per_resource,
             f"{per_resource} actions on {incident.resource} within the hour"),
        ]

    def history(self, incident: Incident, attempts_made: int | None = None,
                approved_by: str | None = None) -> History:
        now = self.clock()
        if attempts_made is None:
            attempts_made = len(self.store.claims(incident.id))
        breaker = None
        for scope, window, limit, words in self.breaker_scopes(incident, now):
            if self.store.breaker_count(scope, window) >= limit:
                breaker = f"already {words}"
                break
        keys = list(self.keys(incident))
        signature = next((self.store.figures(k) for k in keys if k.startswith("sig|")), Figures())
        return History(attempts_made=attempts_made, approved_by=approved_by, breaker_open=breaker,
                       signature=signature, pipeline=self.store.figures(keys[0]))

    def plan(self, incident: Incident, *, attempts_made: int | None = None, approved_by: str | None = None) -> Plan:
        history = self.history(incident, attempts_made, approved_by)
        return decide(incident, history, self.policy, self.clock())

    def figures_of(self, history: History) -> dict[str, Any]:
        def one(f: Figures) -> dict[str, Any]:
            return {"attempts": f.attempts, "successes": f.successes, "failures": f.failures,
                    "success_rate": f.success_rate}
        return {"signature": one(history.signature), "pipeline": one(history.pipeline)}

    # --- carrying a plan out ------------------------------------------------------------------
    def start(self, incident: Incident) -> Plan:
        """The stage's entry: plan a newly recorded incident and carry the plan out."""
        owner = self.store.run_owner(incident.run_id) if incident.run_id else None
        if owner is not None and owner[0] != incident.id:
            plan = Plan(PlanKind.NOTHING, f"run {incident.run_id} is remediation attempt {owner[1]} of incident "
                        f"{owner[0]}, which verifies it and decides the next step", mode=self.policy.mode.value)
            history = None
        else:
            history = self.history(incident)
            plan = decide(incident, history, self.policy, self.clock())
        # Only the first planning counts: a concurrent redelivery of the same alert must not replace a plan.
        self.carry_out(incident, plan, expect=lambda rem: not rem.get("state"), history=history)
        return plan

    def carry_out(self, incident: Incident, plan: Plan, *, expect: Callable[[dict[str, Any]], bool] | None = None,
                  extra: dict[str, Any] | None = None, history: History | None = None) -> None:
        """Record `plan` on the incident and do what it says (enqueue, ask for approval, escalate, or nothing).
        `expect(remediation)` guards against a plan that changed meanwhile; `history` is the one the plan was
        decided on, when the caller has it (saves reading the breakers and figures again)."""
        history = history or self.history(incident, plan.attempt - 1)
        base = {"plan_id": uuid.uuid4().hex, "plan": plan.to_dict(), "reason": plan.reason, "attempt": plan.attempt,
                "figures": self.figures_of(history), "decided_at": to_iso(self.clock()), **(extra or {})}
        expect = expect or (lambda rem: True)

        def with_state(state: PlanState, **more: Any) -> Callable[[Incident], dict[str, Any] | None]:
            def change(current: Incident) -> dict[str, Any] | None:
                rem = current.remediation or {}
                if not expect(rem):
                    return None
                kept: dict[str, Any] = {k: rem[k] for k in ("attempts", "known_runs") if k in rem}
                return {**kept, **base, "state": state.value, **more}
            return change

        details = {"plan": plan.to_dict()}
        if plan.kind in ACTING:
            done = self.transition(incident.id, Event.REMEDIATION_PLANNED, plan.reason,
                                   with_state(PlanState.PLANNED, not_before=plan.not_before), details)
            if done is not None:
                self.send("act", plan.delay_s if plan.kind is PlanKind.ACT_LATER else 0, incident.id,
                          base["plan_id"], plan.attempt)
        elif plan.kind is PlanKind.WAIT_APPROVAL:
            self.request_approval(incident, plan, base, with_state)
        elif plan.kind is PlanKind.ESCALATE:
            self.escalate(incident.id, plan.reason, with_state(PlanState.ESCALATED), details)
        else:
            state = PlanState.DRY_RUN if plan.kind is PlanKind.DRY_RUN else PlanState.NOTHING
            dry = plan.kind is PlanKind.DRY_RUN
            action = AuditAction.REMEDIATION_DRY_RUN if dry else AuditAction.REMEDIATION_SKIPPED
            current = self.incidents.get(incident.id)
            if current is None:
                return
            new = with_state(state)(current)
            if new is not None:
                self.incidents.update_fields(incident.id, remediation=new)
                self.audit.append(incident.id, action, ACTOR, plan.reason, details)

    def request_approval(self, incident: Incident, plan: Plan, base: dict[str, Any],
                         with_state: Callable[..., Callable[[Incident], dict[str, Any] | None]]) -> Transitioned | None:
        expiry = timedelta(minutes=self.settings.int_setting("REMEDIATION_APPROVAL_EXPIRY_MINUTES"))
        expires = self.clock() + expiry
        more: dict[str, Any] = {"approval_expires_at": to_iso(expires), "approval_url": None}
        secret = self.settings.get("REMEDIATION_APPROVAL_SECRET")
        public = self.settings.get("PUBLIC_BASE_URL").strip()
        if secret and public:
            token = sign(secret, ApprovalClaim(incident.id, base["plan_id"], int(expires.timestamp())))
            more["approval_url"] = approval_url(public, token)
        done = self.transition(incident.id, Event.APPROVAL_REQUESTED, plan.reason,
                               with_state(PlanState.WAITING_APPROVAL, **more), {"plan": plan.to_dict()})
        if done is not None:
            self.send("expire", int(expiry.total_seconds()), incident.id, base["plan_id"], plan.attempt)
        return done

    def propose(self, incident_id: str, *, actor: str = ACTOR, reason: str = "") -> Proposal:
        """Build the incident's plan through policy + decide and leave it waiting for approval (whatever the mode
        would do on its own), unless nothing may be done (mode off, kill switch, no action, attempts used up,
        breaker open) -- then the plan says why and nothing waits."""
        incident = self.incidents.get(incident_id)
        if incident is None:
            raise LookupError(f"no incident {incident_id!r}")
        plan = self.plan(incident)
        if plan.kind not in (*ACTING, PlanKind.WAIT_APPROVAL, PlanKind.DRY_RUN) or plan.mode == "dry-run":
            return Proposal(plan, None)
        waiting = Plan(PlanKind.WAIT_APPROVAL, f"{actor} proposed: {plan.action} (attempt {plan.attempt} of "
                       f"{plan.max_attempts}); {reason or plan.reason}", action=plan.action, attempt=plan.attempt,
                       max_attempts=plan.max_attempts, automatic=plan.automatic, mode=plan.mode, rule=plan.rule)
        base = {"plan_id": uuid.uuid4().hex, "plan": waiting.to_dict(), "reason": waiting.reason,
                "attempt": waiting.attempt, "decided_at": to_iso(self.clock()), "proposed_by": actor}

        def with_state(state: PlanState, **more: Any) -> Callable[[Incident], dict[str, Any] | None]:
            def change(current: Incident) -> dict[str, Any] | None:
                rem = current.remediation or {}
                if rem.get("state") in (PlanState.WAITING_APPROVAL, PlanState.REMEDIATING, PlanState.PLANNED):
                    return None  # something is already pending or running
                kept: dict[str, Any] = {k: rem[k] for k in ("attempts", "known_runs") if k in rem}
                return {**kept, **base, "state": state.value, **more}
            return change

        return Proposal(waiting, self.request_approval(incident, waiting, base, with_state))

    def approve(self, incident_id: str, actor: str, reason: str, plan_id: str | None = None) -> Transitioned | None:
        """Approve the waiting plan: it becomes `planned` and its action is enqueued. None when nothing waits
        (or not this plan); TransitionError when the incident is resolved."""
        holder: dict[str, Any] = {}

        def change(current: Incident) -> dict[str, Any] | None:
            rem = current.remediation or {}
            if rem.get("state") != PlanState.WAITING_APPROVAL or (plan_id and rem.get("plan_id") != plan_id):
                return None
            holder.update(plan_id=rem.get("plan_id"), attempt=int(rem.get("attempt") or 1))
            return {**rem, "state": PlanState.PLANNED.value, "approved_by": actor, "approved_at": to_iso(self.clock()),
                    "approval_reason": reason, "approval_url": None}

        done = self.transition(incident_id, Event.APPROVED, reason or "approved", change,
                               {"approved_by": actor}, strict=True)
        if done is not None:
            self.send("act", 0, incident_id, str(holder["plan_id"]), int(holder["attempt"]))
        return done

    def reject(self, incident_id: str, actor: str, reason: str, plan_id: str | None = None) -> Transitioned | None:
        def change(current: Incident) -> dict[str, Any] | None:
            rem = current.remediation or {}
            if rem.get("state") != PlanState.WAITING_APPROVAL or (plan_id and rem.get("plan_id") != plan_id):
                return None
            return {**rem, "state": PlanState.REJECTED.value, "rejected_by": actor, "rejection_reason": reason,
                    "approval_url": None}

        return self.transition(incident_id, Event.REJECTED, reason, change, {"rejected_by": actor}, strict=True)

    def expire(self, incident_id: str, plan_id: str) -> None:
        """A plan still waiting for approval after its expiry: escalate."""
        def change(current: Incident) -> dict[str, Any] | None:
            rem = current.remediation or {}
            if rem.get("state") != PlanState.WAITING_APPROVAL or rem.get("plan_id") != plan_id:
                return None
            return {**rem, "state": PlanState.ESCALATED.value, "approval_url": None,
                    "reason": "the plan waited for approval past its expiry"}

        self.escalate(incident_id, "no one approved the remediation plan before it expired", change, {})

    def escalate(self, incident_id: str, reason: str, change: Callable[[Incident], dict[str, Any] | None],
                 details: dict[str, Any]) -> None:
        """Escalate (status escalated); on an incident already escalated, only the plan is updated."""
        if self.transition(incident_id, Event.ESCALATED, reason, change, details) is not None:
            return
        current = self.incidents.get(incident_id)
        if current is not None and current.status == "escalated":
            new = change(current)
            if new is not None:
                self.incidents.update_fields(incident_id, remediation=new)
                self.audit.append(incident_id, AuditAction.INCIDENT_ESCALATED, ACTOR, reason, details)

    # --- plumbing ------------------------------------------------------------------------------
    def transition(self, incident_id: str, event: Event, reason: str,
                   change: Callable[[Incident], dict[str, Any] | None], details: dict[str, Any] | None = None,
                   *, strict: bool = False, **kwargs: Any) -> Transitioned | None:
        """Apply `event` with `remediation = change(current incident)`, computed on the state the conditional write
        is based on (the store re-reads and re-runs the guard after a concurrent change). `change` returning None
        means: not applicable now (returns None). strict: TransitionError propagates."""
        fields: dict[str, Any] = {}

        def guard(current: Incident) -> bool:
            new = change(current)
            if new is None:
                return False
            fields["remediation"] = new  # read by IncidentStore.transition after the guard passed
            return True

        # Reasons carry platform error text (exceptions, run messages): the event row and the resolution reason
        # are stored as given, so secrets are taken out here.
        reason = redact_text(reason)
        apply = self.lifecycle.apply if strict else self.lifecycle.try_apply
        return apply(incident_id, event, actor=ACTOR if event not in (Event.APPROVED, Event.REJECTED)
                     else str((details or {}).get("approved_by") or (details or {}).get("rejected_by") or ACTOR),
                     reason=reason, details=details, fields=fields, guard=guard, **kwargs)

    def send(self, step: str, delay_s: int, incident_id: str, plan_id: str, attempt: int, **more: Any) -> None:
        if self.queue is None:
            return
        body = {"step": step, "incident_id": incident_id, "plan_id": plan_id, "attempt": attempt, **more}
        self.queue.send_message(json.dumps(body), visibility_timeout=max(0, min(int(delay_s), MAX_VISIBILITY_S)))


def seconds_since(iso: str | None, now: datetime) -> float:
    if not iso:
        return 0.0
    try:
        return (now - parse_iso(iso)).total_seconds()
    except ValueError:
        return 0.0
