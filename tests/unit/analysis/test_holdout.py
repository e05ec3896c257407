"""The rule catalog measured on held-out labeled errors it was not written from.

tests/data/errors-holdout-a.jsonl holds real vendor messages in the corpus format (platform, error_code,
failure_type, message, category, retryable). The same bars as for the training corpus apply; retry
precision matters most (an unsafe automatic rerun is worse than a missed one).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analysis.evaluation import Evaluation, evaluate

HOLDOUT = Path(__file__).resolve().parents[2] / "data" / "errors-holdout-a.jsonl"


@pytest.fixture(scope="module")
def holdout() -> Evaluation:
    rows = [json.loads(line) for line in HOLDOUT.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(rows) >= 50
    return evaluate(rows)


def test_holdout_retry_precision(holdout: Evaluation) -> None:
    assert holdout.retry_precision >= 0.95, holdout.misses


def test_holdout_retry_recall(holdout: Evaluation) -> None:
    assert holdout.retry_recall >= 0.85, holdout.misses


def test_holdout_category_accuracy(holdout: Evaluation) -> None:
    assert holdout.category_accuracy >= 0.85, holdout.misses
