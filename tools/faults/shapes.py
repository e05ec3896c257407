"""Adversarial texts for regular expressions: repetitions of every character class a pattern uses.

A backtracking regex is slow on long runs of the characters it can match in more than one way. For each
pattern we collect one representative of every literal and class it uses (via the stdlib parser) and build
texts that repeat one character, or alternate a letter / digit with one of them, or repeat the pattern's own
literal words. `growth` compares the time on 100 KB with the time on 1 MB: linear is about 10x, quadratic 100x.
"""

from __future__ import annotations

import re
import string
import time
from collections.abc import Iterator
from re import _parser as sre_parse  # type: ignore[attr-defined]  # the stdlib regex parser (3.11+)
from typing import Any

_CATEGORY_SAMPLES = {
    "CATEGORY_DIGIT": "0", "CATEGORY_NOT_DIGIT": "a", "CATEGORY_SPACE": " ", "CATEGORY_NOT_SPACE": "a",
    "CATEGORY_WORD": "a", "CATEGORY_NOT_WORD": "-",
}
_ALWAYS = "aA0_ -.:/@=\"'\\\n"


def _walk(parsed: Any, chars: set[str], words: list[str]) -> None:
    literal_run: list[str] = []
    for op, arg in parsed:
        name = str(op)
        if name == "LITERAL":
            chars.add(chr(arg))
            literal_run.append(chr(arg))
            continue
        if len(literal_run) > 1:
            words.append("".join(literal_run))
        literal_run = []
        if name == "IN":
            for item_op, item_arg in arg:
                item = str(item_op)
                if item == "LITERAL":
                    chars.add(chr(item_arg))
                elif item == "RANGE":
                    low, high = item_arg
                    chars.update({chr(low), chr(high)})
                elif item == "CATEGORY":
                    chars.add(_CATEGORY_SAMPLES.get(str(item_arg), "a"))
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            _walk(arg[2], chars, words)
        elif name == "SUBPATTERN":
            _walk(arg[-1], chars, words)
        elif name == "BRANCH":
            for branch in arg[1]:
                _walk(branch, chars, words)
        elif name in ("ASSERT", "ASSERT_NOT"):
            _walk(arg[1], chars, words)
        elif name == "NOT_LITERAL":
            chars.add(chr(arg + 1) if chr(arg) != "a" else "b")
    if len(literal_run) > 1:
        words.append("".join(literal_run))


def shapes(pattern: re.Pattern[str]) -> list[str]:
    """Short units whose repetitions make the adversarial texts for this pattern."""
    chars: set[str] = set(_ALWAYS)
    words: list[str] = []
    _walk(sre_parse.parse(pattern.pattern, pattern.flags & ~re.UNICODE), chars, words)
    chars = {c for c in chars if c.isprintable() or c in "\n\t"}
    units = sorted(chars)
    units += [lead + c for lead in ("a", "0") for c in sorted(chars) if c not in string.ascii_letters + string.digits]
    units += [w for w in words if len(w) <= 40]
    units += [w + "a" for w in words if len(w) <= 40]
    return list(dict.fromkeys(units))


def repeat(unit: str, size: int) -> str:
    return (unit * (size // len(unit) + 1))[:size]


def time_sub(pattern: re.Pattern[str], text: str) -> float:
    start = time.perf_counter()
    pattern.sub("", text)
    return time.perf_counter() - start


def worst_shapes(pattern: re.Pattern[str], size: int = 20_000, keep: int = 2) -> list[tuple[float, str]]:
    """The `keep` shapes this pattern is slowest on at `size` characters (a quadratic one stands out early)."""
    timed = sorted(((time_sub(pattern, repeat(u, size)), u) for u in shapes(pattern)), reverse=True)
    return timed[:keep]


def growth(pattern: re.Pattern[str], unit: str, small: int = 100_000, large: int = 1_000_000) -> tuple[float, float]:
    """(seconds on `small` characters, seconds on `large`), each the best of two runs against scheduler noise."""
    small_text, large_text = repeat(unit, small), repeat(unit, large)
    t_small = min(time_sub(pattern, small_text) for _ in range(2))
    t_large = min(time_sub(pattern, large_text) for _ in range(2))
    return t_small, t_large


def all_text_patterns() -> Iterator[tuple[str, re.Pattern[str]]]:
    """Every pattern the app applies to text from outside: redaction, signature, classification codes."""
    from analysis import classifier, signature
    from shared import redaction

    for i, (pattern, _) in enumerate(redaction._RULES):
        yield f"redaction[{i}]", pattern
    yield "redaction.secret_key", redaction._SECRET_KEY
    for i, (pattern, _) in enumerate(signature._STEPS):
        yield f"signature[{i}]", pattern
    for i, pattern in enumerate(classifier._EMBEDDED_CODES):
        yield f"classifier.codes[{i}]", pattern
    yield "classifier.termination", classifier._TERMINATION_DISPLAY
    yield "classifier.retry_after", classifier._RETRY_AFTER



def catalog_patterns() -> Iterator[tuple[str, re.Pattern[str]]]:
    """The classification catalog's patterns (analysis/rules/*.toml), also applied to outside text (bounded
    to ANALYSIS_TEXT_LIMIT characters before they run)."""
    from analysis.catalog import default_catalog

    seen: set[str] = set()
    for rule in default_catalog().rules:
        for pattern in (*rule.patterns, *rule.exclude):
            if pattern.pattern not in seen:
                seen.add(pattern.pattern)
                yield f"catalog[{rule.id}]", pattern
