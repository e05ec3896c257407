"""Secrets out of any text before it is stored, logged, prompted or sent. Pure.

One module used everywhere: audit entries, alert records, incident texts, verdicts, analyses,
LLM prompts and notifications all pass through `redact_text` / `redact`. Each rule keeps the
key name (`AccountKey=[REDACTED]`) so the text stays readable. The secret shapes it must catch
are listed in tests/unit/analysis/secrets_corpus.py.
"""

from __future__ import annotations

import re
from typing import Any

from shared.literals import Prefiltered, fold

MASK = "[REDACTED]"

_KEY_NAMES = (r"AccountKey|SharedAccessKey|SharedAccessSignature|Password|Pwd|ClientSecret|Client_Secret|"
              r"ApiKey|Api_Key|AccessKey|Access_Key|Secret|Token|AccessToken|SasToken|PrivateKey|Private_Key")
# Names whose value is a secret when written `name=value` / `name: value` without quotes.
# Bounded and anchored at the start of a name: an unbounded `[\w.-]*` before the keyword backtracks
# quadratically on a long run of word characters (an attacker-controlled payload could stall ingest).
_SECRETISH = (r"(?<![\w.\-])[\w.\-]{0,40}?(?:password|passwd|pwd|secret|token|apikey|api[_-]key|access[_-]?key|"
              r"account[_-]?key|private[_-]?key|sas|credential)[\w.\-]{0,40}")

_RULES: list[tuple[re.Pattern[str], str]] = [
    # PEM private keys, whole block
    # PEM and PGP private keys, whole block (an unterminated block is masked to the end of the text)
    (re.compile(r"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----.*?"
                r"(?:-----END [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----|$)", re.DOTALL), MASK),
    # Connection-string secrets: AccountKey=..., SharedAccessKey=..., Password=..., pwd=...
    # The value runs to the next `;` (values may contain spaces) or is an ODBC `{...}` quoted value.
    (re.compile(rf"(?i)\b({_KEY_NAMES})\s*=\s*(?!\[REDACTED\])(\{{[^}}\r\n]{{0,500}}\}}|[^;\r\n\"'&<>]{{1,500}})"),
     r"\1=" + MASK),
    # SAS signature and Functions / Logic Apps keys in query strings
    (re.compile(r"(?i)([?&](?:sig|code|key|api[_-]?key|access_token|token|client_secret)=)(?!\[REDACTED\])[^&\s\"'<>]+"),
     r"\1" + MASK),
    # Bearer / Basic / SharedAccessSignature authorization values
    (re.compile(r"(?i)\b(Bearer|Basic|SharedAccessSignature)\s+(?!\[REDACTED\])[A-Za-z0-9\-._~+/=%&:]{8,}"),
     r"\1 " + MASK),
    # Authorization header values whatever the scheme (token, SSWS, Negotiate, ...)
    (re.compile(r"(?i)\b(Authorization)\s*[:=]\s*(?!\[REDACTED\])(?:[A-Za-z][\w-]{0,20}\s+)?(?!\[REDACTED\])"
                r"[^\s,;\"']{8,}"), r"\1: " + MASK),
    # Function / API key headers
    (re.compile(r"(?i)\b(x-functions-key|x-api-key|api-key|ocp-apim-subscription-key|x-ms-token[\w-]*)\s*[:=]\s*"
                r"(?!\[REDACTED\])[^\s,;\"']+"), r"\1: " + MASK),
    # JSON Web Tokens anywhere
    (re.compile(r"\beyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*"), MASK),
    # "password": "...", 'client_secret': '...' in JSON / YAML / Python reprs
    (re.compile(rf"(?i)([\"']?{_SECRETISH}[\"']?\s*[:=]\s*[\"'])(?!\[REDACTED\])((?:\\.|[^\"'\\]){{1,500}})([\"'])"),
     r"\1" + MASK + r"\3"),
    # unquoted name=value / name: value where the name says secret
    (re.compile(rf"(?i)\b({_SECRETISH})(\s*[:=]\s*)(?!\[REDACTED\])(?![\"'])([^\s;,&\"'<>)\]}}]{{6,}})"),
     r"\1\2" + MASK),
    # Credentials in URLs: scheme://user:password@host, the user may be empty (rediss://:password@host).
    # The password may itself contain '@': it runs to the last '@' before the host. Every part is bounded
    # and the scheme has no leading \b, so each start position costs a constant: linear on any text.
    (re.compile(r"(?i)([a-z][a-z0-9+.\-]{0,30}://[^/\s:@]{0,256}):(?!\[REDACTED\]@)([^\s/]{1,300})@"),
     r"\1:" + MASK + "@"),
    # Command-line passwords: sqlcmd / bcp `-P secret`, `--password secret`, `--password=secret`
    (re.compile(r"(?<![\w-])(-P|--password)([ =]+)(?!\[REDACTED\])(?!-)[^\s\"']+"), r"\1\2" + MASK),
    # Incoming-webhook URLs are secrets in themselves (Slack, Teams/Office 365, Discord)
    (re.compile(r"(?i)(https://hooks\.slack\.com/services/)[^\s\"'<>]+"), r"\1" + MASK),
    (re.compile(r"(?i)(https://[\w.-]*webhook\.office\.com/webhookb2/)[^\s\"'<>]+"), r"\1" + MASK),
    (re.compile(r"(?i)(https://discord(?:app)?\.com/api/webhooks/)[^\s\"'<>]+"), r"\1" + MASK),
    # Databricks PATs, OpenAI keys, Slack, GitHub, Google and AWS keys, Entra client secrets
    (re.compile(r"\bdapi[0-9a-f]{32}(-\d+)?\b"), MASK),
    (re.compile(r"\bdose[0-9a-f]{32}\b"), MASK),
    (re.compile(r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}"), MASK),
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9\-]{10,}\b"), MASK),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b"), MASK),
    (re.compile(r"\bgithub_pat_[A-Za-z0-9_]{40,}\b"), MASK),
    (re.compile(r"\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,}"), MASK),  # Stripe secret / restricted keys
    (re.compile(r"\bwhsec_[A-Za-z0-9]{24,}"), MASK),  # Stripe webhook signing secrets
    (re.compile(r"\bglpat-[A-Za-z0-9_\-]{20,}"), MASK),  # GitLab personal access tokens
    (re.compile(r"\bSG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,}"), MASK),  # SendGrid API keys
    (re.compile(r"\bnpm_[A-Za-z0-9]{36,}\b"), MASK),  # npm access tokens
    (re.compile(r"\bhf_[A-Za-z0-9]{30,}\b"), MASK),  # Hugging Face tokens
    (re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b"), MASK),
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), MASK),
    (re.compile(r"(?<![\w~.-])[A-Za-z0-9_~.\-]{3}\dQ~[A-Za-z0-9_~.\-]{30,36}(?![\w~.-])"), MASK),
    # Storage account keys on their own (88 base64 chars ending in ==)
    (re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{86}==(?![A-Za-z0-9+/=])"), MASK),
]


# Each rule with the literals any match of it contains (shared.literals): a text without them is not searched.
_PREFILTERED = [(Prefiltered(pattern), replacement) for pattern, replacement in _RULES]


def redact_text(text: str) -> str:
    """The rules applied in order; a rule whose required literals the (current) text lacks cannot match and is
    skipped, which gives the same result as running it (most texts contain no secret-shaped literal at all)."""
    folded: str | None = None
    seen: dict[str, bool] = {}
    for prefiltered, replacement in _PREFILTERED:
        if prefiltered.need is not None:
            if folded is None:
                folded, seen = fold(text), {}
            if not prefiltered.possible(folded, seen):
                continue
        changed = prefiltered.pattern.sub(replacement, text)
        if changed != text:
            text, folded = changed, None
    return text


def redact(value: Any) -> Any:
    """Redact every string inside a JSON-like value, keys as well as values.

    A key that names a secret masks its whole scalar value; a key that holds a secret itself (a token used as
    a JSON key) is redacted like any text. Two keys that redact to the same text keep both values.
    """
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        for key, item in value.items():
            masked = MASK if _secret_key(key) and _maskable(item) else redact(item)
            name = redact_text(key) if isinstance(key, str) else key
            while name in out:
                name = f"{name}#"
            out[name] = masked
        return out
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


def _maskable(value: Any) -> bool:
    """A scalar worth masking under a secret-named key (empty strings, booleans and null say nothing)."""
    if isinstance(value, bool) or value is None:
        return False
    return isinstance(value, int | float) or (isinstance(value, str) and bool(value))


_SECRET_KEY = re.compile(r"(?i)^(?:[\w.\-]{0,60}?(?:password|passwd|secret|api[_-]?key|access[_-]?key|"
                         r"account[_-]?key|private[_-]?key|client[_-]?secret|sas[_-]?token|connection[_-]?string|"
                         r"credential)[\w.\-]{0,60}|pwd|token|access_token|refresh_token|authorization|sig|signature)$")


def _secret_key(key: Any) -> bool:
    return isinstance(key, str) and bool(_SECRET_KEY.match(key))
