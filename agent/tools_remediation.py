"""The rerun tool. It never reruns anything: it asks the remediation service for the same plan the pipeline would
make (through its policy, as a dry run), left waiting for a person's approval through
POST /api/incidents/{id}/approve. The platform sees no call that starts work."""

from __future__ import annotations

from typing import Any

from agent.tooling import Tool, ToolContext, ToolProblem, schema


def propose_rerun(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    incident = ctx.store().get(args["incident_id"])
    if incident is None:
        raise ToolProblem("not_found", f"no incident {args['incident_id']!r}")
    # Alerts name the resource; an ARM one in any letter case (or any ADF / Synapse incident) must be allow-listed.
    if incident.platform in ("adf", "synapse") or incident.resource.lower().startswith("/subscriptions/"):
        ctx.require_in_scope(incident.resource)
    if ctx.proposer is None:
        raise ToolProblem("unavailable", "remediation planning is not available in this deployment")
    reason = args.get("reason") or f"rerun asked through the agent by {ctx.actor}"
    try:
        proposal = ctx.proposer(incident, f"agent for {ctx.actor}", reason)
    except LookupError as exc:
        raise ToolProblem("not_found", str(exc)) from exc
    if proposal.get("waiting_for_approval"):
        next_step = (f"a person approves it with POST /api/incidents/{incident.id}/approve (or rejects it with "
                     "/reject); nothing runs before that")
    else:
        next_step = "nothing waits for approval: the plan says why no rerun can be proposed now"
    return {"incident_id": incident.id, "executed": False, **proposal, "next_step": next_step}


TOOLS = (
    Tool("propose_rerun", "Propose rerunning the failed run of an incident. Creates a plan (checked by the "
         "remediation policy) that waits for a person's approval; it does not start any run.",
         schema({"incident_id": {"type": "string", "maxLength": 200},
                 "reason": {"type": "string", "maxLength": 500}}, ("incident_id",)),
         propose_rerun, read_only=False, destructive=False, idempotent=True),
)
