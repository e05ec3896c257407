"""Measure verdicts against labeled errors (the corpus format): retry precision/recall, category accuracy. Pure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from analysis.catalog import Catalog
from analysis.classifier import Verdict, classify_fields


@dataclass
class Evaluation:
    total: int = 0
    true_retry: int = 0  # labeled retryable and predicted retryable
    predicted_retry: int = 0
    labeled_retry: int = 0
    category_correct: int = 0
    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)  # (label, predicted)
    misses: list[dict[str, Any]] = field(default_factory=list)

    @property
    def retry_precision(self) -> float:
        return self.true_retry / self.predicted_retry if self.predicted_retry else 1.0

    @property
    def retry_recall(self) -> float:
        return self.true_retry / self.labeled_retry if self.labeled_retry else 1.0

    @property
    def category_accuracy(self) -> float:
        return self.category_correct / self.total if self.total else 0.0

    def summary(self) -> dict[str, Any]:
        return {"total": self.total, "retry_precision": round(self.retry_precision, 4),
                "retry_recall": round(self.retry_recall, 4), "category_accuracy": round(self.category_accuracy, 4),
                "predicted_retry": self.predicted_retry, "labeled_retry": self.labeled_retry}


def verdict_for(row: Mapping[str, Any], catalog: Catalog | None = None) -> Verdict:
    return classify_fields(row.get("platform"), row.get("message"), row.get("error_code"),
                           row.get("failure_type"), catalog)


def evaluate(rows: Iterable[Mapping[str, Any]], catalog: Catalog | None = None) -> Evaluation:
    result = Evaluation()
    for row in rows:
        verdict = verdict_for(row, catalog)
        label_cat, label_retry = str(row.get("category")), bool(row.get("retryable"))
        result.total += 1
        result.labeled_retry += int(label_retry)
        result.predicted_retry += int(verdict.retryable)
        result.true_retry += int(label_retry and verdict.retryable)
        result.category_correct += int(label_cat == verdict.category)
        result.confusion[(label_cat, verdict.category)] += 1
        if label_cat != verdict.category or label_retry != verdict.retryable:
            result.misses.append({"id": row.get("id"), "label": label_cat, "label_retryable": label_retry,
                                  "predicted": verdict.category, "retryable": verdict.retryable,
                                  "rule": verdict.matched_rule})
    return result


def confusion_table(evaluation: Evaluation) -> str:
    labels = sorted({a for a, _ in evaluation.confusion} | {b for _, b in evaluation.confusion})
    short = {name: name[:8] for name in labels}
    width = max(len(n) for n in labels) + 2
    lines = ["label \\ predicted".ljust(width) + " ".join(short[n].rjust(8) for n in labels)]
    for label in labels:
        cells = " ".join(str(evaluation.confusion.get((label, p), 0) or ".").rjust(8) for p in labels)
        lines.append(label.ljust(width) + cells)
    return "\n".join(lines)
