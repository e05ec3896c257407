"""Bounding text from outside before expensive work. Pure.

Error texts can be a megabyte (a stack trace with a dumped payload). The full text is kept in the blob
container; matching, signatures and prompts look at a bounded head and tail, where errors say what happened
(the head names the error, the tail holds the innermost cause).
"""

from __future__ import annotations

ANALYSIS_TEXT_LIMIT = 32_000  # characters of one error text that classification and signatures look at
_GAP = "\n[... {} characters not analysed ...]\n"


def well_formed(text: str) -> str:
    """The text with lone surrogates (invalid in UTF-8, e.g. from a JSON `\\ud800`) replaced by `?`."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def head_and_tail(text: str, limit: int = ANALYSIS_TEXT_LIMIT) -> str:
    """At most about `limit` characters: three quarters from the start, one quarter from the end."""
    if len(text) <= limit:
        return text
    head, tail = (limit * 3) // 4, limit // 4
    return text[:head] + _GAP.format(len(text) - head - tail) + text[len(text) - tail:]


def analysable(text: str | None, limit: int = ANALYSIS_TEXT_LIMIT) -> str:
    """What pattern matching may see of an outside text: well formed and bounded."""
    return well_formed(head_and_tail(text or "", limit))
