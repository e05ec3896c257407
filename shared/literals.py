"""Literal prefilters for regexes: which plain substrings any match of a pattern must contain. Pure.

`required_literals(pattern)` reads the pattern's parse tree and returns a set of lower-case ASCII strings of
which every match contains at least one (None when it cannot tell, e.g. `\\d+`). A text that contains none of
them (after `fold`) cannot match, so the regex need not run: most of the catalog's rules and most redaction
rules are ruled out by a few substring searches, which are much cheaper than running each regex.

`fold` lower-cases a text and maps the non-ASCII letters that an IGNORECASE match treats as ASCII letters
(Kelvin sign, dotless i, long s, ...) to those letters, so one folded text serves case-sensitive and
case-insensitive patterns alike (for a case-sensitive pattern the prefilter only over-approximates).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from re import _constants as _sre  # type: ignore[attr-defined]  # the regex parser is private (3.11+)
from re import _parser as _sre_parse  # type: ignore[attr-defined]
from typing import Any

LITERAL, SUBPATTERN, BRANCH = _sre.LITERAL, _sre.SUBPATTERN, _sre.BRANCH
_REPEATS = {_sre.MAX_REPEAT, _sre.MIN_REPEAT, getattr(_sre, "POSSESSIVE_REPEAT", _sre.MAX_REPEAT)}

# Characters outside ASCII that re.IGNORECASE matches to an ASCII letter (checked by a test over all of Unicode).
FOLD_TABLE = {0x0130: "i", 0x0131: "i", 0x017F: "s", 0x212A: "k"}
MIN_USEFUL = 2  # a one-character literal filters almost nothing


def fold(text: str) -> str:
    return text.translate(FOLD_TABLE).lower()


Need = frozenset[str] | None


def _best(candidates: list[frozenset[str]]) -> Need:
    useful = [c for c in candidates if c and min(len(s) for s in c) >= MIN_USEFUL]
    if not useful:
        return None
    # Prefer the set whose shortest literal is longest (the most selective), then the smaller set.
    return max(useful, key=lambda c: (min(len(s) for s in c), -len(c)))


def _sequence(items: Iterable[tuple[Any, Any]]) -> Need:
    candidates: list[frozenset[str]] = []
    run: list[str] = []

    def close() -> None:
        if run:
            candidates.append(frozenset({"".join(run)}))
            run.clear()

    for op, arg in items:
        if op is LITERAL and arg < 128:
            run.append(chr(arg).lower())
            continue
        close()
        need: Need = None
        if op is SUBPATTERN:
            need = _sequence(arg[-1])
        elif op is BRANCH:
            branches = [_sequence(b) for b in arg[1]]
            if all(b is not None for b in branches):
                need = frozenset().union(*[b for b in branches if b is not None])
        elif op in _REPEATS and arg[0] >= 1:
            need = _sequence(arg[2])
        if need is not None:
            candidates.append(need)
    close()
    return _best(candidates)


def required_literals(pattern: re.Pattern[str] | str) -> Need:
    """Lower-case literals of which any match contains one (see module doc), or None."""
    source = pattern.pattern if isinstance(pattern, re.Pattern) else pattern
    flags = pattern.flags if isinstance(pattern, re.Pattern) else 0
    if not isinstance(source, str) or flags & re.VERBOSE:
        return None
    try:
        parsed = _sre_parse.parse(source, flags & ~re.UNICODE)
    except (re.error, TypeError, ValueError):  # pragma: no cover - the pattern compiled already
        return None
    return _sequence(list(parsed))


class Prefiltered:
    """A compiled pattern with its required literals; `possible(folded, seen)` says whether it can match."""

    __slots__ = ("need", "pattern")

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern
        self.need = required_literals(pattern)

    def possible(self, folded: str, seen: dict[str, bool]) -> bool:
        if self.need is None:
            return True
        for literal in self.need:
            found = seen.get(literal)
            if found is None:
                found = seen[literal] = literal in folded
            if found:
                return True
        return False
