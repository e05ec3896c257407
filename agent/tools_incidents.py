"""Incident tools: list and read incidents, and the two actions a person takes on one (acknowledge, resolve).

The actions go through the lifecycle (shared.transitions) like the HTTP actions do, so they are audited and
published; the actor is recorded as "agent for <who asked>".
"""

from __future__ import annotations

from typing import Any

from agent.tooling import Tool, ToolContext, ToolProblem, schema
from shared.incidents import FILTERABLE
from shared.lifecycle import Event, Resolution, TransitionError
from shared.models import Incident
from shared.timeutil import parse_iso, to_iso

MESSAGE_CHARS = 800


def summary(incident: Incident) -> dict[str, Any]:
    verdict = incident.verdict or {}
    plan = incident.remediation or {}
    return {"id": incident.id, "status": incident.status, "platform": incident.platform,
            "resource": incident.resource.rsplit("/", 1)[-1], "pipeline": incident.pipeline,
            "run_id": incident.run_id, "activity": incident.activity, "error_code": incident.error_code,
            "error": (incident.error_message or "")[:MESSAGE_CHARS], "occurrences": incident.occurrences,
            "first_seen": incident.first_seen, "last_seen": incident.last_seen,
            "category": verdict.get("category"), "retryable": verdict.get("retryable"),
            "plan_state": plan.get("state"), "acknowledged_by": incident.acknowledged_by,
            "resolution": incident.resolution, "team": incident.team}


def list_incidents(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    filters = {name: str(args[name]) for name in FILTERABLE if args.get(name)}
    since = None
    if args.get("since"):
        try:
            since = to_iso(parse_iso(args["since"]))
        except ValueError as exc:
            raise ToolProblem("invalid_arguments", f"since must be ISO-8601: {exc}") from exc
    items, more = ctx.store().list(filters, since, args.get("limit", 20), None)
    items.sort(key=lambda i: i.last_seen, reverse=True)
    return {"count": len(items), "more": more is not None, "incidents": [summary(i) for i in items]}


def get_incident(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    incident = ctx.store().get(args["incident_id"])
    if incident is None:
        raise ToolProblem("not_found", f"no incident {args['incident_id']!r}")
    body = summary(incident)
    body.update(verdict=incident.verdict, analysis=incident.analysis, remediation=incident.remediation,
                links=incident.links, failure_type=incident.failure_type)
    return body


def _act(ctx: ToolContext, incident_id: str, event: Event, reason: str, **kwargs: Any) -> dict[str, Any]:
    if ctx.lifecycle is None:
        raise ToolProblem("unavailable", "incident storage is not configured for this agent")
    try:
        done = ctx.lifecycle.apply(incident_id, event, actor=f"agent for {ctx.actor}", reason=reason,
                                   details={"via": "agent"}, **kwargs)
    except TransitionError as exc:
        raise ToolProblem("conflict", str(exc)) from exc
    if done is None:
        raise ToolProblem("not_found", f"no incident {incident_id!r}")
    return {"done": event.value, "incident": summary(done.incident)}


def acknowledge(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    return _act(ctx, args["incident_id"], Event.ACKNOWLEDGED, args.get("reason") or "acknowledged")


def resolve(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    return _act(ctx, args["incident_id"], Event.RESOLVED, args["reason"], resolution=Resolution.BY_HAND.value)


_ID = {"type": "string", "maxLength": 200, "description": "The incident id."}
_REASON = {"type": "string", "maxLength": 500, "description": "Why, in words (kept in the audit trail)."}

TOOLS = (
    Tool("list_incidents", "List incidents, newest first, filtered by status (open, remediating, resolved, "
         "escalated), platform, pipeline, run id or `since` (ISO-8601, on last_seen).",
         schema({"status": {"type": "string", "enum": ["open", "remediating", "resolved", "escalated"]},
                 "platform": {"type": "string", "maxLength": 40}, "pipeline": {"type": "string", "maxLength": 260},
                 "run_id": {"type": "string", "maxLength": 100}, "source": {"type": "string", "maxLength": 40},
                 "since": {"type": "string", "maxLength": 40},
                 "limit": {"type": "integer", "minimum": 1, "maximum": 100}}),
         list_incidents),
    Tool("get_incident", "One incident: its error, verdict, root-cause analysis and remediation plan.",
         schema({"incident_id": _ID}, ("incident_id",)), get_incident),
    Tool("acknowledge_incident", "Acknowledge an incident (someone is on it). Changes no status.",
         schema({"incident_id": _ID, "reason": _REASON}, ("incident_id",)), acknowledge,
         read_only=False, destructive=False, idempotent=True, asked_by_words=("ack",)),
    Tool("resolve_incident", "Resolve an incident by hand; say why. Only when the person asked for it.",
         schema({"incident_id": _ID, "reason": _REASON}, ("incident_id", "reason")), resolve,
         read_only=False, destructive=True, idempotent=False, asked_by_words=("resolv", "close")),
)
