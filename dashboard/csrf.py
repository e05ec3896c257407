"""CSRF defence for the dashboard's state-changing buttons. Pure.

Double submit: each browser session gets a random token in a `SameSite=Strict` cookie scoped to the dashboard;
the page carries the same token (hidden field / meta tag) and the button sends it back as the `X-CSRF-Token`
header or the `csrf` form field. A cross-site page can neither read the cookie nor make the browser send it
(SameSite=Strict), so its POST arrives without a matching pair. On top, a request whose `Origin` names another
host, or whose `Sec-Fetch-Site` says cross-site, is refused outright.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from http.cookies import CookieError, SimpleCookie
from urllib.parse import urlsplit

COOKIE = "dash_csrf"
HEADER = "X-CSRF-Token"
FIELD = "csrf"
COOKIE_PATH = "/api/dashboard"


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return ""


def cookie_token(headers: Mapping[str, str]) -> str:
    try:
        jar = SimpleCookie(_header(headers, "Cookie"))
    except CookieError:
        return ""
    morsel = jar.get(COOKIE)
    token = morsel.value if morsel else ""
    return token if len(token) == 43 and token.replace("-", "").replace("_", "").isalnum() else ""


def session_token(headers: Mapping[str, str]) -> tuple[str, str | None]:
    """(token, Set-Cookie value or None): the browser's token, or a new one with the cookie that carries it."""
    token = cookie_token(headers)
    if token:
        return token, None
    token = secrets.token_urlsafe(32)
    secure = "; Secure" if _header(headers, "X-Forwarded-Proto").lower() == "https" else ""
    return token, f"{COOKIE}={token}; Path={COOKIE_PATH}; HttpOnly; SameSite=Strict{secure}"


def same_origin(headers: Mapping[str, str], host: str) -> bool:
    """False when the browser says the request comes from another site."""
    if _header(headers, "Sec-Fetch-Site").lower() == "cross-site":
        return False
    origin = _header(headers, "Origin")
    if origin and origin != "null":
        return urlsplit(origin).netloc.lower() == host.lower()
    return origin != "null"


def check(headers: Mapping[str, str], host: str, sent: str) -> str | None:
    """None when the POST may proceed, else why it is refused."""
    if not same_origin(headers, host):
        return "cross-site request refused"
    expected = cookie_token(headers)
    if not expected or not sent:
        return "missing CSRF token: reload the dashboard page and try again"
    if not hmac.compare_digest(expected.encode(), sent.encode()):
        return "CSRF token does not match this session: reload the dashboard page"
    return None
