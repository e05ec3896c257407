"""Failure -> verdict: category, retry safety, delay, confidence and what to do. Pure.

The catalog's best matching rule decides (see analysis.catalog for the precedence). Nothing
matching means category `unknown`, not retryable, low confidence: an unknown error is never
retried on the rules' say-so.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from analysis.catalog import TIER_GENERIC, TIER_NAMES, Catalog, MessageScan, Rule, default_catalog
from analysis.signature import signature
from shared.literals import fold
from shared.models import Failure
from shared.text import analysable

UNKNOWN_CONFIDENCE = 10
WINDOW = 64 * 1024  # characters of an error text that are classified (head + tail beyond this)
WINDOW_HEAD = 48 * 1024
_TIER_CONFIDENCE = {4: 92, 3: 85, 2: 75, 1: 45}

# Codes that error texts carry inside them: the innermost is usually the most telling.
_EMBEDDED_CODES: list[re.Pattern[str]] = [
    re.compile(r"\bErrorCode\s*[=:]\s*['\"]?([A-Za-z][\w.\-]{2,})"),
    re.compile(r"\"error_?code\"\s*:\s*\"([A-Za-z0-9_.\-]+)\"", re.IGNORECASE),
    re.compile(r"\bError Code:\s*([A-Z][A-Z0-9_]{3,})"),
    re.compile(r"\bAzure error code:\s*([A-Za-z][\w]+)", re.IGNORECASE),
    re.compile(r"\bSqlErrorNumber\s*=\s*(\d+)", re.IGNORECASE),
    re.compile(r"\bError Number\s*[:=]\s*(\d+)", re.IGNORECASE),
    re.compile(r"\bMsg (\d+), Level \d+"),
    re.compile(r"\bError code:?\s+(\d{3,5})\b", re.IGNORECASE),
    re.compile(r"^\s*\[([A-Z][A-Z0-9_]{3,}(?:\.[A-Z0-9_]+)?)\]"),
    # Databricks/Spark error classes quoted anywhere: `... [DELTA_CONCURRENT_APPEND] ...` (an underscore is
    # required so log levels such as `[ERROR]` are not taken for codes).
    re.compile(r"\[([A-Z][A-Z0-9]*_[A-Z0-9_]+(?:\.[A-Z0-9_]+)?)\]"),
    # Databricks job/cluster wrappers: `... for the job. Cause: INVALID_PARAMETER_VALUE: ...`,
    # `Cause REQUEST_LIMIT_EXCEEDED: ...`.
    re.compile(r"\bCause:?\s+([A-Z][A-Z0-9]*_[A-Z0-9_]+)\b"),
    # Synapse Spark (Livy) error classification codes, e.g. Spark_System_ABFS_OperationFailed.
    re.compile(r"\b(Spark_(?:User|System|Ambiguous|Unknown)_[A-Za-z0-9_]+)"),
    re.compile(r"\bErrorClass=([A-Z][A-Z0-9_.]{3,})"),
    re.compile(r"\b(AADSTS\d{5,7})\b"),
    re.compile(r"\b(ORA-\d{5})\b"),
    re.compile(r"\b(DF-[A-Za-z0-9]+-[A-Za-z0-9]+)\b"),
    re.compile(r"\bterminat\w* code:?\s*([A-Z][A-Z0-9_]{3,})"),
    # Databricks termination reasons given as codes:
    # `... was terminated. Reason: SPOT_INSTANCE_TERMINATION (CLOUD_FAILURE)`.
    re.compile(r"\bReason:\s*([A-Z][A-Z0-9]*_[A-Z0-9_]+)\b"),
    re.compile(r"\b([A-Z][A-Z_]{3,}_(?:FAILURE|ERROR|EXCEEDED|THROTTLING|UNHEALTHY|UNREACHABLE|UNRESPONSIVE))\b"),
]
# Databricks shows a cluster termination code in title case: `Cluster terminated. Reason: Driver Unreachable`
# is the termination code DRIVER_UNREACHABLE.
_TERMINATION_DISPLAY = re.compile(r"\bterminated\.?\s+Reason:\s*([A-Z][a-z]+(?: [A-Z][a-z]+){1,5})(?=$|\s*[.,;:(\n])")
_RETRY_AFTER = re.compile(
    r"(?:retry|try again)(?: the request| the operation)? (?:after|in) (\d{1,5}) ?(seconds?|secs?|s|minutes?|mins?)\b"
    r"|retry-after:? ?(\d{1,5})\b", re.IGNORECASE)


@dataclass(frozen=True)
class Verdict:
    category: str
    retryable: bool
    retry_delay_s: int | None
    confidence: int
    severity: str
    matched_rule: str | None
    explanation: str
    recommended_actions: list[str]
    manual_intervention_required: bool
    doc_link: str | None
    signature: dict[str, str]
    tier: str = "none"
    codes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Verdict:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


def classification_window(message: str) -> str:
    """The part of a huge error text that is classified: its head and its tail (where a stack trace ends with
    the root cause). Texts up to WINDOW characters are classified whole, so the cost per alert is bounded."""
    if len(message) <= WINDOW:
        return message
    return message[:WINDOW_HEAD] + "\n[...]\n" + message[-(WINDOW - WINDOW_HEAD):]


def embedded_codes(message: str) -> list[str]:
    """Codes named inside an error text, in order of appearance."""
    found: list[tuple[int, str]] = []
    for pattern in _EMBEDDED_CODES:
        for m in pattern.finditer(message):
            found.append((m.start(1), m.group(1)))
    for m in _TERMINATION_DISPLAY.finditer(message):
        found.append((m.start(1), m.group(1).upper().replace(" ", "_")))
    out: list[str] = []
    for _, code in sorted(found):
        if code not in out:
            out.append(code)
    return out


def candidate_codes(error_code: str | None, message: str) -> list[str]:
    codes = [error_code.strip()] if error_code and error_code.strip() else []
    for code in embedded_codes(message):
        if code.lower() not in {c.lower() for c in codes}:
            codes.append(code)
    return codes


def retry_after_hint(message: str) -> int | None:
    m = _RETRY_AFTER.search(message)
    if not m:
        return None
    if m.group(3):
        return int(m.group(3))
    value, unit = int(m.group(1)), m.group(2).lower()
    return value * 60 if unit.startswith("m") else value


def best_rule(catalog: Catalog, platform: str, codes: list[str], failure_type: str | None,
              message: str) -> Rule | None:
    best: tuple[tuple[int, ...], Rule] | None = None
    scan = MessageScan(message)
    folded = scan.folded
    scan.seen = {literal: literal in folded for literal in catalog.literals}
    present = {literal for literal, found in scan.seen.items() if found}
    code_set = {fold(c) for c in codes}
    for gate in catalog.gates:
        # Cheap gates first (platform, codes, literals the patterns need): the same result as trying every rule.
        if gate.platforms is not None and platform not in gate.platforms:
            continue
        if gate.codes is not None and gate.codes.isdisjoint(code_set):
            continue
        if gate.literals is not None and gate.literals.isdisjoint(present):
            continue
        rule = gate.rule
        rank = rule.match(platform, codes, failure_type, message, scan)
        if rank is not None and (best is None or rank > best[0]):
            best = (rank, rule)
    return best[1] if best else None


def classify_fields(platform: str | None, message: str | None, error_code: str | None = None,
                    failure_type: str | None = None, catalog: Catalog | None = None) -> Verdict:
    catalog = catalog or default_catalog()
    platform = (platform or "").lower()
    text = analysable(message)  # bounded head + tail, well formed: linear and safe on any outside text
    codes = candidate_codes(error_code, text)
    sig = signature(platform, error_code, text).to_dict()
    rule = best_rule(catalog, platform, codes, failure_type, text)
    if rule is None:
        return Verdict(
            category="unknown", retryable=False, retry_delay_s=None, confidence=UNKNOWN_CONFIDENCE,
            severity="medium", matched_rule=None,
            explanation="No catalog rule recognises this error, so an automatic rerun is not considered safe.",
            recommended_actions=["Read the full error and the run's logs to find the cause.",
                                 "If the error recurs, add a rule for it to the catalog (docs/classification.md)."],
            manual_intervention_required=True, doc_link=None, signature=sig, codes=codes,
        )
    delay = rule.retry_delay_s
    hint = retry_after_hint(text) if rule.retryable else None
    if hint is not None:
        delay = hint
    confidence = rule.confidence if rule.confidence is not None else _TIER_CONFIDENCE[rule.tier]
    if rule.platforms and rule.confidence is None and rule.tier > TIER_GENERIC:
        confidence = min(confidence + 3, 98)
    return Verdict(
        category=rule.category, retryable=rule.retryable, retry_delay_s=delay if rule.retryable else None,
        confidence=confidence, severity=rule.severity, matched_rule=rule.id, explanation=rule.explanation,
        recommended_actions=list(rule.actions), manual_intervention_required=not rule.retryable,
        doc_link=rule.doc or None, signature=sig, tier=TIER_NAMES[rule.tier], codes=codes,
    )


def classify(failure: Failure, catalog: Catalog | None = None) -> Verdict:
    return classify_fields(failure.platform, failure.message, failure.error_code, failure.failure_type, catalog)
