"""The classifier's literal prefilter changes speed, never results.

Reference: every rule tried with plain regex searches (no gates, no literal look-ups), over the training corpus,
the held-out sets, every rule's own examples, and the same texts with case and Unicode look-alikes changed.
"""

from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path

import pytest

from analysis.catalog import Catalog, Rule, default_catalog
from analysis.classifier import WINDOW, best_rule, candidate_codes, classification_window, classify_fields
from shared.literals import FOLD_TABLE, fold, required_literals

TESTS = Path(__file__).resolve().parents[2]


def _reference_rank(rule: Rule, platform: str, codes: list[str], failure_type: str | None,
                    message: str) -> tuple[int, ...] | None:
    if rule.platforms and platform not in rule.platforms:
        return None
    code_depth = exact = 0
    if rule.codes:
        index = rule.match_code(codes)
        if index is None:
            return None
        code_depth = index + 1
        exact = int(any("*" not in c and c.lower() == codes[index].lower() for c in rule.codes))
    if rule.failure_types and (failure_type or "").lower() not in {f.lower() for f in rule.failure_types}:
        return None
    if rule.patterns and not any(p.search(message) for p in rule.patterns):
        return None
    if any(p.search(message) for p in rule.exclude):
        return None
    return (rule.tier, exact, code_depth, int(bool(rule.platforms)), rule.priority, -rule.order)


def _reference_best(catalog: Catalog, platform: str, codes: list[str], failure_type: str | None,
                    message: str) -> str | None:
    best: tuple[tuple[int, ...], str] | None = None
    for rule in catalog.rules:
        rank = _reference_rank(rule, platform, codes, failure_type, message)
        if rank is not None and (best is None or rank > best[0]):
            best = (rank, rule.id)
    return best[1] if best else None


def _cases() -> list[tuple[str, str | None, str | None, str]]:
    rows: list[dict[str, object]] = []
    for path in [TESTS / "corpus" / "errors-train.jsonl", *sorted((TESTS / "data").glob("*.jsonl"))]:
        rows += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    cases = [(str(r.get("platform") or ""), r.get("error_code"), r.get("failure_type"), str(r.get("message") or ""))
             for r in rows]
    for rule in default_catalog().rules:
        for example in rule.examples:
            cases.append((rule.example_platform or (rule.platforms[0] if rule.platforms else "adf"),
                          rule.example_codes[0] if rule.example_codes else None, rule.example_failure_type, example))
    rng = random.Random(13)
    variants = []
    for platform, code, failure_type, message in cases:
        # Case changes and the look-alikes IGNORECASE accepts (Kelvin sign, long s, dotless i).
        swapped = message.swapcase().replace("k", "\u212a").replace("s", "\u017f").replace("i", "\u0131")
        variants.append((platform, code, failure_type, swapped))
        words = message.split()
        rng.shuffle(words)
        variants.append((platform, code, failure_type, " ".join(words)))
    return [(p.lower(), c if isinstance(c, str) else None, f if isinstance(f, str) else None, m)
            for p, c, f, m in cases + variants]


def test_prefiltered_matching_equals_trying_every_rule() -> None:
    catalog = default_catalog()
    cases = _cases()
    assert len(cases) > 1500
    for platform, code, failure_type, message in cases:
        codes = candidate_codes(code, message)
        got = best_rule(catalog, platform, codes, failure_type, message)
        assert (got.id if got else None) == _reference_best(catalog, platform, codes, failure_type, message), message


def test_required_literals_are_in_every_match() -> None:
    catalog = default_catalog()
    for rule in catalog.rules:
        for prefiltered in rule._patterns_pf:
            assert prefiltered.need is not None, (rule.id, prefiltered.pattern.pattern)
        for example in rule.examples:
            for pattern in rule.patterns:
                match = pattern.search(example)
                need = required_literals(pattern)
                if match and need is not None:
                    assert any(lit in fold(match.group(0)) for lit in need), (rule.id, pattern.pattern, need)


@pytest.mark.parametrize(("pattern", "expected"), [
    (r"\bErrorCode\s*[=:]", {"errorcode"}),
    (r"(foo|barbaz)x", {"foo", "barbaz"}),
    (r"\d+", None),
    (r"(?:abc)?xyz", {"xyz"}),
    (r"(?:ab|c)de", {"de"}),
    (r"(?:ab|\w+)", None),
])
def test_required_literals(pattern: str, expected: set[str] | None) -> None:
    need = required_literals(re.compile(pattern, re.IGNORECASE))
    assert (set(need) if need is not None else None) == expected


def test_fold_table_covers_every_ignorecase_lookalike() -> None:
    ascii_letter = re.compile("[a-z]", re.IGNORECASE)
    lookalikes = {c for c in range(128, sys.maxunicode + 1) if ascii_letter.fullmatch(chr(c))}
    assert lookalikes == set(FOLD_TABLE)
    for code, letter in FOLD_TABLE.items():
        assert re.fullmatch(letter, chr(code), re.IGNORECASE)


def test_huge_text_is_classified_by_head_and_tail() -> None:
    head = "Operation on target Copy failed: ErrorCode=UserErrorFailedFileOperation ... "
    tail = "Caused by: java.net.SocketTimeoutException: Read timed out"
    text = head + "x " * 600_000 + tail
    window = classification_window(text)
    assert len(window) < WINDOW + 16 and window.startswith(head) and window.endswith(tail)
    assert classify_fields("adf", text).codes == classify_fields("adf", window).codes
    small = "Read timed out"
    assert classification_window(small) == small
