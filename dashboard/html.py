"""HTML building blocks: escaping, the page shell, safe links. Pure.

Every value that reaches HTML goes through `esc` (text and attribute values alike); links from incident data are
rendered only when they are http(s) URLs, so a `javascript:` URL in a payload never becomes a link.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from html import escape
from typing import Any
from urllib.parse import urlencode, urlsplit

from shared.redaction import redact_text

ASSETS = "/api/dashboard/assets"
# Scripts and styles only from the app itself; nothing inline, no frames, forms post only to the app.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
NAV = (("Incidents", "/api/dashboard"), ("Trends", "/api/dashboard/trends"), ("Health", "/api/dashboard/health"))


def esc(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def safe_url(value: Any) -> str | None:
    text = str(value or "").strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    return text if parts.scheme in ("http", "https") and parts.netloc else None


def link(url: Any, text: Any) -> str:
    """An outbound link, or the text alone when the URL is not http(s)."""
    safe = safe_url(url)
    if safe is None:
        return esc(text)
    return f'<a href="{esc(safe)}" target="_blank" rel="noopener noreferrer">{esc(text)}</a>'


def query_href(base: str, params: Mapping[str, Any]) -> str:
    kept = {k: str(v) for k, v in params.items() if v not in (None, "")}
    return base + ("?" + urlencode(kept) if kept else "")


def badge(status: Any) -> str:
    return f'<span class="badge badge-{esc(status)}">{esc(status)}</span>'


def definition_list(rows: Iterable[tuple[str, str]]) -> str:
    """<dl> from (label, already-escaped HTML) pairs; empty values are left out."""
    items = "".join(f"<dt>{esc(label)}</dt><dd>{value}</dd>" for label, value in rows if value)
    return f"<dl>{items}</dl>" if items else '<p class="muted">nothing yet</p>'


_PRIVATE = re.compile(r"token|secret|password|passwd|credential|api_?key|signature|sig$|approval_url|webhook", re.I)


def public(value: Any) -> Any:
    """`value` without the properties that may carry a secret (tokens, signed approval links, webhook URLs)."""
    if isinstance(value, dict):
        return {k: public(v) for k, v in value.items() if not _PRIVATE.search(str(k))}
    if isinstance(value, list):
        return [public(v) for v in value]
    return value


def json_block(value: Any) -> str:
    """Structured data shown as indented, escaped JSON (for stage outputs whose shape other areas own), without
    secret-bearing properties and with any credential in the text redacted."""
    return f"<pre>{esc(redact_text(json.dumps(public(value), indent=2, sort_keys=True, default=str)))}</pre>"


def page(title: str, body: str, *, active: str, csrf_token: str = "", refresh_s: int = 0) -> str:
    nav = "".join(f'<a href="{href}"{" aria-current=page" if label == active else ""}>{label}</a>'
                  for label, href in NAV)
    refresh = f'<meta http-equiv="refresh" content="{int(refresh_s)}">' if refresh_s > 0 else ""
    csrf = f'<meta name="csrf-token" content="{esc(csrf_token)}">' if csrf_token else ""
    return ("<!doctype html><html lang=en><head><meta charset=utf-8>"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)} · pipeline incidents</title>{refresh}{csrf}"
            f'<link rel="stylesheet" href="{ASSETS}/dashboard.css">'
            f'<script src="{ASSETS}/dashboard.js" defer></script></head>'
            f'<body><header><strong>Pipeline incidents</strong><nav>{nav}</nav></header>'
            f"<main><h1>{esc(title)}</h1>{body}</main></body></html>")


def headers(set_cookie: str | None = None) -> dict[str, str]:
    out = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
           "Cache-Control": "no-store", "X-Frame-Options": "DENY"}
    if set_cookie:
        out["Set-Cookie"] = set_cookie
    return out
