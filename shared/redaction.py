"""Secrets out of any text before it is stored, logged, prompted or sent. Pure.

One module used everywhere: audit entries, alert records, incident texts, LLM prompts and
notifications all pass through `redact_text` / `redact`.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "[REDACTED]"

# (pattern, replacement) in order; each keeps the key name so the text stays readable.
_RULES: list[tuple[re.Pattern[str], str]] = [
    # Connection-string secrets: AccountKey=..., SharedAccessKey=..., Password=..., pwd=...
    (re.compile(r"(?i)\b(AccountKey|SharedAccessKey|SharedAccessSignature|Password|Pwd|"
                r"ClientSecret|Client_Secret|ApiKey|Api_Key|AccessKey|Secret|Token)\s*=\s*([^;\s\"'&]+)"),
     r"\1=" + MASK),
    # SAS query parameters: sig=..., and the whole SAS when it appears after '?'
    (re.compile(r"(?i)([?&]sig=)[^&\s\"']+"), r"\1" + MASK),
    # Bearer / Basic authorization values
    (re.compile(r"(?i)\b(Bearer|Basic)\s+[A-Za-z0-9\-._~+/]+=*"), r"\1 " + MASK),
    # JSON Web Tokens anywhere
    (re.compile(r"\beyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*"), MASK),
    # "password": "...", "client_secret": "...", "api_key": "..." in JSON / YAML / Python reprs
    (re.compile(r"(?i)([\"']?(?:password|passwd|pwd|client_?secret|api_?key|access_?token|refresh_?token|"
                r"secret|token|account_?key)[\"']?\s*[:=]\s*[\"'])([^\"']+)([\"'])"), r"\1" + MASK + r"\3"),
    # Credentials in URLs: scheme://user:password@host
    (re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://[^/\s:@]+):([^@\s/]+)@"), r"\1:" + MASK + "@"),
    # Databricks personal access tokens, OpenAI keys, Slack tokens, GitHub tokens
    (re.compile(r"\bdapi[0-9a-f]{32}(-\d+)?\b"), MASK),
    (re.compile(r"\bsk-[A-Za-z0-9_\-]{20,}\b"), MASK),
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9\-]{10,}\b"), MASK),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b"), MASK),
    # Storage account keys on their own (88 base64 chars ending in ==)
    (re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{86}==(?![A-Za-z0-9+/=])"), MASK),
]


def redact_text(text: str) -> str:
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


def redact(value: Any) -> Any:
    """Redact every string inside a JSON-like value."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value
