"""HTTP triggers served under host.json's routePrefix, routes read from the app's functions.

Route templates follow the host's syntax: `{name}`, `{name:int}` (and other constraints, matched
as one path segment), `{name?}` and catch-all `{*name}`; matching is case-insensitive. Function
keys are not enforced, as with Core Tools locally.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
import socket
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import azure.functions as func

from tools.devhost.app_loader import FunctionInfo

log = logging.getLogger("devhost.http")
_PARAM = re.compile(r"^\{(\*?)([A-Za-z_][A-Za-z0-9_]*)(?::([A-Za-z]+)(?:\([^)]*\))?)?(\?)?\}$")
_CONSTRAINTS = {"int": r"-?\d+", "long": r"-?\d+", "bool": r"(?i:true|false)", "guid": r"[0-9a-fA-F-]{32,36}",
                "alpha": r"[A-Za-z]+"}


@dataclass
class Route:
    function: FunctionInfo
    pattern: re.Pattern[str]
    methods: frozenset[str]
    template: str


def compile_route(template: str) -> re.Pattern[str]:
    parts = []
    for segment in [s for s in template.strip("/").split("/") if s]:
        match = _PARAM.match(segment)
        if not match:
            parts.append("/" + re.escape(segment))
            continue
        catch_all, name, constraint, optional = match.groups()
        if catch_all:
            parts.append(f"(?:/(?P<{name}>.*))?")
            continue
        body = _CONSTRAINTS.get((constraint or "").lower(), r"[^/]+")
        parts.append(f"(?:/(?P<{name}>{body})){'?' if optional else ''}")
    return re.compile("^" + "".join(parts) + "/?$", re.IGNORECASE)


def build_routes(functions: list[FunctionInfo], route_prefix: str) -> list[Route]:
    routes = []
    prefix = route_prefix.strip("/")
    for info in functions:
        if info.trigger_type != "httpTrigger":
            continue
        route = str(info.trigger.get("route") or info.name)
        template = f"{prefix}/{route}" if prefix else route
        methods = frozenset(str(m).upper() for m in info.trigger.get("methods") or
                            ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"])
        routes.append(Route(info, compile_route(template), methods, template))
    # Literal segments win over parameters, as in ASP.NET routing.
    routes.sort(key=lambda r: (r.template.count("{"), -len(r.template)))
    return routes


def invoke(function: FunctionInfo, arguments: dict[str, Any]) -> Any:
    result = function.user_function(**arguments)
    if inspect.isawaitable(result):
        return asyncio.run(_await(result))
    return result


async def _await(awaitable: Any) -> Any:
    return await awaitable


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: DevHttpServer

    def setup(self) -> None:
        super().setup()
        # Headers and body are written separately; without NODELAY, Nagle + delayed ACK add ~40 ms per
        # response on keep-alive connections. Kestrel (the real host's server) sets NoDelay too.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("%s %s", self.address_string(), format % args)

    def _dispatch(self) -> None:
        parsed = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(parsed.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        matched_path = False
        for route in self.server.routes:
            match = route.pattern.match(path.rstrip("/") or "/")
            if not match or route.function.disabled():
                continue
            matched_path = True
            if self.command not in route.methods:
                continue
            self._run(route, match, parsed, body)
            return
        status = 405 if matched_path else 404
        self._send(status, b"", {})

    def _run(self, route: Route, match: re.Match[str], parsed: urllib.parse.SplitResult, body: bytes) -> None:
        params = {k: v[-1] for k, v in urllib.parse.parse_qs(parsed.query, keep_blank_values=True).items()}
        route_params = {k: urllib.parse.unquote(v) for k, v in match.groupdict().items() if v is not None}
        host = self.headers.get("Host") or f"127.0.0.1:{self.server.server_address[1]}"
        request = func.HttpRequest(self.command, f"http://{host}{self.path}", headers=dict(self.headers.items()),
                                   params=params, route_params=route_params, body=body)
        try:
            response = invoke(route.function, {route.function.arg_name: request})
        except Exception:
            log.exception("function %s failed", route.function.name)
            self._send(500, b"", {})
            return
        if not isinstance(response, func.HttpResponse):
            response = func.HttpResponse(b"" if response is None else str(response))
        headers = dict(response.headers.items())
        if response.mimetype and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = f"{response.mimetype}; charset={response.charset or 'utf-8'}"
        self._send(response.status_code, response.get_body() or b"", headers)

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for key, value in headers.items():
            if key.lower() not in {"content-length", "connection"}:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _dispatch


class DevHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], routes: list[Route]) -> None:
        self.routes = routes
        super().__init__(address, _Handler)
