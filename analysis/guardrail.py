"""The guardrail between the LLM's advice and the retry decision. Pure.

The LLM advises; the rules decide:
  * it may make a verdict more cautious (retryable -> not retryable);
  * it never turns a rule-level non-retryable verdict into an automatic retry;
  * for `unknown` (no rule matched) its retry suggestion counts only with confidence >=
    LLM_UNKNOWN_MIN_CONFIDENCE, and then for at most one retry.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from analysis.classifier import Verdict
from analysis.llm import LlmAnswer

RULE_MAX_RETRIES = 3
UNKNOWN_MAX_RETRIES = 1
UNKNOWN_RETRY_DELAY_S = 300


@dataclass(frozen=True)
class Decision:
    category: str
    retryable: bool
    retry_delay_s: int | None
    max_automatic_retries: int
    decided_by: str  # "rules" | "rules+llm-caution" | "llm-within-guardrail"
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def rules_decision(verdict: Verdict) -> Decision:
    return Decision(category=verdict.category, retryable=verdict.retryable,
                    retry_delay_s=verdict.retry_delay_s if verdict.retryable else None,
                    max_automatic_retries=RULE_MAX_RETRIES if verdict.retryable else 0, decided_by="rules")


def guard(verdict: Verdict, answer: LlmAnswer | None, unknown_min_confidence: int) -> Decision:
    base = rules_decision(verdict)
    if answer is None:
        return base
    notes: list[str] = []
    if answer.category != verdict.category and verdict.category != "unknown":
        notes.append(f"the LLM suggests category {answer.category}; the rule's {verdict.category} stands")
    if verdict.category == "unknown":
        if answer.retryable and answer.confidence >= unknown_min_confidence:
            return Decision(category=answer.category, retryable=True, retry_delay_s=UNKNOWN_RETRY_DELAY_S,
                            max_automatic_retries=UNKNOWN_MAX_RETRIES, decided_by="llm-within-guardrail",
                            notes=[f"no rule matched; the LLM's retry advice (confidence {answer.confidence}) "
                                   f"allows at most {UNKNOWN_MAX_RETRIES} retry"])
        if answer.retryable:
            notes.append(f"no rule matched; the LLM's retry advice has confidence {answer.confidence} < "
                         f"{unknown_min_confidence}, so no automatic retry")
        return Decision(category="unknown", retryable=False, retry_delay_s=None, max_automatic_retries=0,
                        decided_by="rules", notes=notes)
    if verdict.retryable and not answer.retryable:
        notes.append("the LLM advises against an unchanged rerun; the verdict is made more cautious")
        return Decision(category=verdict.category, retryable=False, retry_delay_s=None, max_automatic_retries=0,
                        decided_by="rules+llm-caution", notes=notes)
    if not verdict.retryable and answer.retryable:
        notes.append("the LLM suggests a retry, but a rule-level non-retryable verdict is never overridden")
    return Decision(category=base.category, retryable=base.retryable, retry_delay_s=base.retry_delay_s,
                    max_automatic_retries=base.max_automatic_retries, decided_by="rules", notes=notes)
