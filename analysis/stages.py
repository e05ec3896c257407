"""Incident stages: ClassifyStage (owns `verdict`) and AnalyzeStage (owns `analysis`).

ANALYSIS_MODE=rules: the analysis is a readable RCA made from the verdict. ANALYSIS_MODE=llm: the
LLM is asked once per error signature (answers cached in Table Storage), its advice passes the
guardrail, and any LLM failure leaves the rule verdict with `fallback_reason`. Everything stored
passes redaction.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any

from analysis.cache import AnalysisCache
from analysis.classifier import Verdict, classify
from analysis.guardrail import guard, rules_decision
from analysis.llm import LlmAnalyzer, LlmAnswer, parse_answer
from analysis.view import rules_rca_text
from shared.config import Settings
from shared.models import AuditAction, Failure, Incident
from shared.redaction import redact, redact_text
from shared.stages import IncidentStage, StageResult
from shared.storage import StorageClients
from shared.timeutil import utc_now_iso

log = logging.getLogger(__name__)

_locks_guard = threading.Lock()
_locks: dict[str, threading.Lock] = {}


def _signature_lock(signature: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(signature, threading.Lock())


def _number(settings: Settings, name: str, default: float) -> float:
    try:
        return float(settings.get(name))
    except (KeyError, ValueError):
        return default


def _where(incident: Incident) -> str:
    parts = [p for p in (incident.pipeline, incident.activity) if p]
    return f"{incident.platform} {' / '.join(parts) or '?'} (run {incident.run_id or '-'})"


def said_unavailable(verdict: Verdict, failure: Failure) -> Verdict:
    """An unknown verdict for a failure whose error text could not be fetched says so, with the reason,
    instead of "no rule recognises this error" (there was no error to recognise)."""
    reason = failure.origin.get("error_unavailable")
    if verdict.category != "unknown" or failure.message or not reason:
        return verdict
    explanation = (f"The error text of this run could not be fetched, so its cause is not known: {reason}. "
                   "Nothing will be retried automatically.")
    actions = ["Open the run in the platform's monitoring view to read its error (see the incident's links).",
               "Fix what stopped the fetch (the reason above), so the next failure carries its error."]
    return Verdict.from_dict({**verdict.to_dict(), "explanation": explanation, "recommended_actions": actions,
                              "tier": "error_not_fetched"})


class ClassifyStage(IncidentStage):
    name = "classify"
    owns = "verdict"
    failure_action = AuditAction.ANALYSIS_FAILED

    def run(self, incident: Incident, failure: Failure) -> StageResult:
        verdict = said_unavailable(classify(failure), failure).to_dict()
        note = {k: verdict[k] for k in ("category", "retryable", "retry_delay_s", "confidence", "matched_rule")}
        return StageResult(fields={"verdict": redact(verdict)},
                           audit=[(AuditAction.CLASSIFIED, f"classified as {verdict['category']} "
                                   f"({'retryable' if verdict['retryable'] else 'not retryable'})", note)])


class AnalyzeStage(IncidentStage):
    name = "analyze"
    owns = "analysis"
    failure_action = AuditAction.ANALYSIS_FAILED

    def __init__(self, settings: Settings, storage: StorageClients | None = None,
                 analyzer: LlmAnalyzer | None = None) -> None:
        self.settings = settings
        self.mode = settings.get("ANALYSIS_MODE").strip().lower() or "rules"
        self.cache = AnalysisCache(storage.table(settings.analysis_cache_table)) if storage else None
        self._analyzer = analyzer
        self.unknown_min_confidence = int(_number(settings, "LLM_UNKNOWN_MIN_CONFIDENCE", 80))
        self.cache_ttl = timedelta(hours=_number(settings, "LLM_CACHE_TTL_HOURS", 168))
        self.failure_backoff = timedelta(seconds=_number(settings, "LLM_FAILURE_BACKOFF_SECONDS", 300))

    def analyzer(self) -> LlmAnalyzer:
        if self._analyzer is None:
            self._analyzer = LlmAnalyzer.from_settings(self.settings)
        return self._analyzer

    def run(self, incident: Incident, failure: Failure) -> StageResult:
        verdict = Verdict.from_dict(incident.verdict) if incident.verdict else classify(failure)
        signature = verdict.signature["hash"]
        history: dict[str, Any] = {}
        if self.cache is not None:
            history = self.cache.record(signature, {"incident": incident.id, "pipeline": incident.pipeline,
                                                    "activity": incident.activity, "platform": incident.platform})
        if self.mode == "llm":
            analysis = self._llm_analysis(incident, failure, verdict, history)
        else:
            analysis = self._rules_analysis(incident, failure, verdict, "rules", None)
        analysis["history"] = {k: history.get(k) for k in ("occurrences", "first_seen", "last_seen")}
        analysis = redact(analysis)
        details = {"source": analysis["source"], "fallback_reason": analysis.get("fallback_reason"),
                   "usage": analysis.get("usage"), "retryable": analysis["decision"]["retryable"]}
        reason = f"analysis by {analysis['source']}"
        if analysis.get("fallback_reason"):
            reason += f" (LLM not used: {analysis['fallback_reason']})"
        return StageResult(fields={"analysis": analysis}, audit=[(AuditAction.ANALYZED, reason, details)])

    # -- rules only -------------------------------------------------------------------------
    def _rules_analysis(self, incident: Incident, failure: Failure, verdict: Verdict, source: str,
                        fallback_reason: str | None) -> dict[str, Any]:
        v = verdict.to_dict()
        return {
            "source": source, "fallback_reason": fallback_reason, "signature": verdict.signature,
            "summary": f"{_where(incident)} failed with {verdict.category}: {verdict.explanation}",
            "root_cause": verdict.explanation,
            "probable_root_causes": [{"cause": verdict.explanation,
                                      "evidence": redact_text(failure.message or "")[:300],
                                      "likelihood": verdict.confidence}],
            "recommended_actions": list(verdict.recommended_actions),
            "links": [verdict.doc_link] if verdict.doc_link else [],
            "confidence": verdict.confidence,
            "decision": rules_decision(verdict).to_dict(),
            "rca_text": rules_rca_text(v, _where(incident), redact_text(failure.message or "") or None),
            "llm": None, "usage": None, "generated_at": utc_now_iso(),
        }

    # -- LLM ----------------------------------------------------------------------------------
    def _context(self, incident: Incident, failure: Failure, verdict: Verdict,
                 history: dict[str, Any]) -> dict[str, Any]:
        return {
            "failure": {"platform": failure.platform, "pipeline": failure.pipeline, "activity": failure.activity,
                        "run_id": failure.run_id, "error_code": failure.error_code,
                        "failure_type": failure.failure_type, "message": (failure.message or "")[:6000],
                        "start": failure.start, "end": failure.end},
            "incident": {"id": incident.id, "occurrences": incident.occurrences, "first_seen": incident.first_seen},
            "rule_verdict": {k: v for k, v in verdict.to_dict().items() if k not in ("codes",)},
            "signature_history": history,
        }

    def _llm_analysis(self, incident: Incident, failure: Failure, verdict: Verdict,
                      history: dict[str, Any]) -> dict[str, Any]:
        signature = verdict.signature["hash"]
        source, reason = "llm", None
        answer: LlmAnswer | None = None
        usage: dict[str, int] = {}
        model: str | None = None
        with _signature_lock(signature):
            cached = self.cache.get_answer(signature, self.cache_ttl) if self.cache else None
            if cached is not None:
                meta = cached.pop("_cache", {})
                try:
                    answer, source, model = parse_answer_dict(cached), "cache", meta.get("model")
                except ValueError:
                    answer = None
            if answer is None:
                recent = self.cache.recent_failure(signature, self.failure_backoff) if self.cache else None
                if recent:
                    reason = f"llm_recently_failed: {recent}"
                else:
                    try:
                        outcome = self.analyzer().analyze(self._context(incident, failure, verdict, history))
                    except Exception as exc:  # building the client can fail (bad settings, no credential)
                        log.warning("LLM analysis unavailable: %s", type(exc).__name__)
                        outcome = None
                        reason = f"error: {type(exc).__name__}"
                    if outcome is not None:
                        usage, model = outcome.usage, outcome.model
                        if outcome.answer is not None:
                            answer, source = outcome.answer, "llm"
                            if self.cache:
                                self.cache.put_answer(signature, answer.to_dict(), model, usage)
                        else:
                            reason = outcome.fallback_reason
                    if answer is None and self.cache and reason:
                        self.cache.note_failure(signature, reason)
        if answer is None:
            analysis = self._rules_analysis(incident, failure, verdict, "rules", reason or "no answer")
            analysis["usage"] = usage or None
            return analysis
        decision = guard(verdict, answer, self.unknown_min_confidence)
        base = self._rules_analysis(incident, failure, verdict, source, None)
        causes = answer.probable_root_causes
        base.update({
            "summary": answer.summary,
            "root_cause": causes[0]["cause"] if causes else verdict.explanation,
            "probable_root_causes": causes,
            "recommended_actions": answer.recommended_actions or list(verdict.recommended_actions),
            "links": list(dict.fromkeys([*answer.links, *base["links"]])),
            "confidence": min(answer.confidence, 100),
            "decision": decision.to_dict(),
            "llm": {"model": model, "category": answer.category, "retryable": answer.retryable,
                    "confidence": answer.confidence},
            "usage": usage if source == "llm" else {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        })
        base["rca_text"] = answer.summary + "\n\n" + base["rca_text"]
        return base


def parse_answer_dict(data: dict[str, Any]) -> LlmAnswer:
    import json

    return parse_answer(json.dumps(data))
