"""A stable signature of an error message for grouping, caching and statistics. Pure.

The message is redacted, then everything that varies between two occurrences of the same error
(GUIDs, timestamps, numbers, paths, URLs, hosts, quoted identifiers) becomes a placeholder. The
hash covers the platform, the error code and the normalized text.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from shared.redaction import redact_text
from shared.text import analysable

MAX_TEXT = 400

_STEPS: list[tuple[re.Pattern[str], str]] = [
    # Every repeatable part below is bounded (or delimited by a character it cannot contain), so each start
    # position costs at most a constant: linear on any text (tests/unit/analysis/test_linear_time.py).
    (re.compile(r"[a-z][a-z0-9+.\-]{0,30}://[^\s'\"<>),;]+", re.IGNORECASE), "<url>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.IGNORECASE), "<guid>"),
    (re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}\b"), "<email>"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"), "<ts>"),
    (re.compile(r"\b\d{1,2}/\d{1,2}/\d{2,4}(?: \d{1,2}:\d{2}(?::\d{2})?(?: ?[AP]M)?)?", re.IGNORECASE), "<ts>"),
    (re.compile(r"\b\d{1,2}:\d{2}:\d{2}(?:\.\d+)?\b"), "<time>"),
    (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b"), "<ip>"),
    (re.compile(r"(?:[A-Za-z]:\\|\\\\)[^\s'\"]+"), "<path>"),
    (re.compile(r"(?<![\w<])(?:/[\w.\-*$=@{}%]+){2,}/?"), "<path>"),
    (re.compile(r"(?<![\w-])[\w-]{1,63}(?:\.[\w-]{1,63}){0,8}\.(?:net|com|io|org|local|internal)\b", re.IGNORECASE),
     "<host>"),
    (re.compile(r"\b0x[0-9a-f]+\b", re.IGNORECASE), "<hex>"),
    (re.compile(r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{12,}\b", re.IGNORECASE), "<hex>"),
    (re.compile(r"'[^'\s]{1,80}'|\"[^\"\s]{1,80}\"|`[^`\s]{1,80}`"), "<q>"),
    (re.compile(r"(?<![A-Za-z])\d+(?:[.,]\d+)*"), "<n>"),
    (re.compile(r"\s+"), " "),
]


@dataclass(frozen=True)
class Signature:
    text: str
    hash: str

    def to_dict(self) -> dict[str, str]:
        return {"text": self.text, "hash": self.hash}


def normalize_message(message: str | None) -> str:
    text = redact_text(analysable(message))
    for pattern, replacement in _STEPS:
        text = pattern.sub(replacement, text)
    return text.strip()[:MAX_TEXT]


def signature(platform: str | None, error_code: str | None, message: str | None) -> Signature:
    text = normalize_message(message)
    code = redact_text(analysable(error_code.strip(), 1000))[:100] if error_code else ""
    basis = f"{(platform or '').lower()}|{code.lower()}|{text.lower()}"
    digest = hashlib.sha256(basis.encode("utf-8")).hexdigest()[:16]
    return Signature(text=text, hash=digest)
