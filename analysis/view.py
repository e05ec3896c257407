"""Views over a verdict and an analysis: the seed-000 analysis fields and a readable RCA text. Pure.

`seed_fields(verdict, analysis)` gives the flat fields the incident API exposes:
error_type, severity, should_retry, retry_delay_minutes, confidence_score (0.0-1.0),
analysis_summary, root_cause, recommended_actions, manual_intervention_required.
"""

from __future__ import annotations

import math
from typing import Any

CATEGORY_TEXT = {
    "auth_permission": "an authentication or permission problem",
    "configuration": "a configuration or authoring problem",
    "data_quality_schema": "a data quality or schema problem",
    "dependency_upstream": "a failing upstream dependency",
    "missing_source_data": "missing (possibly late) source data",
    "quota_limit": "a quota or service limit",
    "resource_capacity": "a compute capacity or memory problem",
    "service_unavailable": "a service-side outage or internal error",
    "throttling": "throttling by a service",
    "timeout": "a timeout",
    "transient_network": "a transient network or connection problem",
    "unknown": "an error no rule recognises",
}


def rules_rca_text(verdict: dict[str, Any], where: str, message: str | None) -> str:
    """A readable root-cause note made from the rule verdict alone."""
    category = str(verdict.get("category") or "unknown")
    retry = (f"An unchanged rerun is considered safe after {verdict.get('retry_delay_s')} s."
             if verdict.get("retryable") else "An unchanged rerun is not considered safe; someone has to act.")
    lines = [
        f"What failed: {where}.",
        f"Classification: {CATEGORY_TEXT.get(category, category)} ({category}), "
        f"rule {verdict.get('matched_rule') or 'none'}, confidence {verdict.get('confidence')}.",
        f"Probable cause: {verdict.get('explanation')}",
        f"Retry: {retry}",
    ]
    actions = verdict.get("recommended_actions") or []
    if actions:
        lines.append("Recommended actions: " + " ".join(f"({i}) {a}" for i, a in enumerate(actions, 1)))
    if verdict.get("doc_link"):
        lines.append(f"Documentation: {verdict['doc_link']}")
    if message:
        lines.append(f"Error: {message[:500]}")
    return "\n".join(lines)


def seed_fields(verdict: dict[str, Any] | None, analysis: dict[str, Any] | None) -> dict[str, Any]:
    verdict = verdict or {}
    analysis = analysis or {}
    decision = analysis.get("decision") or {}
    retryable = bool(decision["retryable"]) if "retryable" in decision else bool(verdict.get("retryable"))
    delay = decision.get("retry_delay_s") if "retryable" in decision else verdict.get("retry_delay_s")
    confidence = analysis.get("confidence", verdict.get("confidence"))
    causes = analysis.get("probable_root_causes") or []
    root_cause = (causes[0].get("cause") if causes and isinstance(causes[0], dict) else None) \
        or analysis.get("root_cause") or verdict.get("explanation")
    return {
        "error_type": decision.get("category") or verdict.get("category") or "unknown",
        "severity": verdict.get("severity") or "medium",
        "should_retry": retryable,
        "retry_delay_minutes": math.ceil(int(delay) / 60) if retryable and delay is not None else None,
        "confidence_score": round(float(confidence) / 100, 2) if confidence is not None else None,
        "analysis_summary": analysis.get("summary") or verdict.get("explanation"),
        "root_cause": root_cause,
        "recommended_actions": list(analysis.get("recommended_actions") or verdict.get("recommended_actions") or []),
        "manual_intervention_required": not retryable,
    }
