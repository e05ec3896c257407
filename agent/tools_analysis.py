"""Analysis tools: classify an error text with the rule catalog, and the remediation history of a pipeline or
an error signature (what the incidents' remediation fields hold: attempts, outcomes, plan states)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from agent.tooling import Tool, ToolContext, schema
from analysis.classifier import classify_fields
from analysis.signature import signature

HISTORY_SCAN = 500  # incidents read at most for one history question


def classify_error(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    verdict = classify_fields(args.get("platform"), args["message"], args.get("error_code"),
                              args.get("failure_type"))
    return {"category": verdict.category, "retryable": verdict.retryable, "retry_delay_s": verdict.retry_delay_s,
            "confidence": verdict.confidence, "severity": verdict.severity, "rule": verdict.matched_rule,
            "explanation": verdict.explanation, "recommended_actions": verdict.recommended_actions,
            "signature": verdict.signature}


def remediation_history(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    filters = {"pipeline": args["pipeline"]} if args.get("pipeline") else {}
    wanted = args.get("signature")
    items, more = ctx.store().list(filters, args.get("since"), HISTORY_SCAN, None)
    rows = []
    outcomes: Counter[str] = Counter()
    categories: Counter[str] = Counter()
    for incident in items:
        sig = (incident.verdict or {}).get("signature", {}).get("hash") or signature(
            incident.platform, incident.error_code, incident.error_message).hash
        if wanted and sig != wanted:
            continue
        plan = incident.remediation or {}
        outcomes[str(plan.get("state") or "none")] += 1
        categories[str((incident.verdict or {}).get("category") or "unclassified")] += 1
        if incident.resolution:
            outcomes[f"resolution:{incident.resolution}"] += 1
        rows.append({"incident_id": incident.id, "pipeline": incident.pipeline, "run_id": incident.run_id,
                     "status": incident.status, "signature": sig, "plan_state": plan.get("state"),
                     "action": plan.get("action"), "attempts": plan.get("attempts"),
                     "reason": plan.get("reason"), "last_seen": incident.last_seen})
    rows.sort(key=lambda r: str(r["last_seen"]), reverse=True)
    limit = args.get("limit", 20)
    return {"incidents": len(rows), "scanned_all": more is None, "plan_states": dict(outcomes),
            "categories": dict(categories), "recent": rows[:limit],
            "outcome_figures": learned_figures(ctx, args.get("pipeline"), wanted)[:limit]}


def learned_figures(ctx: ToolContext, pipeline: str | None, wanted: str | None) -> list[dict[str, Any]]:
    """Attempts / successes / failures the remediation service counted, for this signature or pipeline."""
    if ctx.remediation_stats is None:
        return []
    rows = ctx.remediation_stats()
    if wanted:
        return [r for r in rows if r.get("kind") == "signature" and wanted in str(r.get("key"))]
    if pipeline:
        return [r for r in rows if r.get("kind") == "pipeline" and str(r.get("label", "")).endswith(f" {pipeline}")]
    return sorted(rows, key=lambda r: -int(r.get("attempts") or 0))


TOOLS = (
    Tool("classify_error", "Classify an error text with the rule catalog: category, whether an unchanged rerun "
         "is safe, recommended actions and the error signature.",
         schema({"message": {"type": "string", "maxLength": 20_000, "description": "The error text."},
                 "platform": {"type": "string", "enum": ["adf", "synapse", "databricks", "airflow", "functions"]},
                 "error_code": {"type": "string", "maxLength": 200},
                 "failure_type": {"type": "string", "maxLength": 100}}, ("message",)),
         classify_error),
    Tool("remediation_history", "Remediation history and statistics: for a pipeline or an error signature hash, "
         "how past incidents were handled (plan states, actions, attempts, resolutions) and the remediation "
         "outcome figures (attempts, successes, failures, success rate).",
         schema({"pipeline": {"type": "string", "maxLength": 260},
                 "signature": {"type": "string", "maxLength": 64, "description": "Error signature hash."},
                 "since": {"type": "string", "maxLength": 40, "description": "ISO-8601; on last_seen."},
                 "limit": {"type": "integer", "minimum": 1, "maximum": 100}}),
         remediation_history),
)
