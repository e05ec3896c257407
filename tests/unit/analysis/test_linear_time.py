"""Every pattern applied to outside text runs in linear time (issue 9, finding 1).

For each pattern the adversarial shape it is slowest on (repetitions of the character classes it uses, see
tools/faults/shapes.py) is timed on 100 KB and on 1 MB. Linear work grows about 10x; the quadratic URL
patterns this replaced grew ~100x (44 s on 100 KB). Constants are generous: two shared cores are noisy.
"""

from __future__ import annotations

import re
import time

import pytest

from analysis.classifier import classify_fields
from analysis.signature import normalize_message, signature
from shared.redaction import redact_text
from tools.faults.shapes import all_text_patterns, growth, worst_shapes

PATTERNS = list(all_text_patterns())
MAX_GROWTH = 30  # 10x is linear; quadratic is 100x
NOISE_FLOOR_S = 0.05  # below this a 1 MB run is too quick for a ratio to mean anything
MAX_SECONDS_PER_MB = 3.0


@pytest.mark.parametrize(("name", "pattern"), PATTERNS, ids=[n for n, _ in PATTERNS])
def test_pattern_is_linear_on_its_worst_adversarial_shape(name: str, pattern: re.Pattern[str]) -> None:
    (_, unit), = worst_shapes(pattern, keep=1)
    t_small, t_large = growth(pattern, unit)
    assert t_large < MAX_SECONDS_PER_MB, f"{name} took {t_large:.2f}s on 1 MB of {unit!r}"
    if t_large > NOISE_FLOOR_S:
        assert t_large / max(t_small, 1e-4) < MAX_GROWTH, (
            f"{name} grew {t_large / max(t_small, 1e-4):.0f}x from 100 KB to 1 MB of {unit!r}")


def test_the_airflow_body_that_froze_the_app_is_handled_in_a_second() -> None:
    # The reported body: an exception of "a-" repeated 50,000 times took 44 s in the URL-credential rule.
    text = "a-" * 50_000
    started = time.perf_counter()
    redact_text(text)
    signature("airflow", None, text)
    assert time.perf_counter() - started < 1.5


@pytest.mark.parametrize("unit", ["a-", "a.", "0+", "a://", "x@", "-----BEGIN A PRIVATE KEY-----"])
def test_a_1mb_error_text_classifies_within_a_bound(unit: str) -> None:
    text = (unit * (1_000_000 // len(unit)))
    started = time.perf_counter()
    verdict = classify_fields("adf", text, "2200")
    assert time.perf_counter() - started < 3.0
    assert verdict.signature["hash"]


def test_lone_surrogates_do_not_break_classification() -> None:
    verdict = classify_fields("airflow", "Task failed: bad byte \ud800 in 'name'", "E\udc01")
    assert verdict.category and "\ud800" not in normalize_message("x \ud800 y")


@pytest.mark.parametrize("unit", ["9", "DELTA_", "Distribution_", "HTTPSConnectionPool", "No such file or directory: "])
def test_catalog_patterns_that_were_quadratic_classify_the_capped_text_quickly(unit: str) -> None:
    # `\d+/\d+ checks? FAILED` took ~7 s on the 32K characters classification looks at; bounded now.
    text = (unit * (40_000 // len(unit)))
    started = time.perf_counter()
    classify_fields("databricks", text, None)
    assert time.perf_counter() - started < 1.5
