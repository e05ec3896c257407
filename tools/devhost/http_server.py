"""HTTP triggers served under host.json's routePrefix, routes read from the app's functions.

Routes and their precedence: see tools.devhost.routing. A known route asked with a method it does
not allow answers 404, as the host does. Request bodies may be Content-Length (digits only) or
chunked framed, up to the host's 100 MB limit (413 above it); a malformed framing answers 400 and
closes the connection. Function keys are not enforced by default, as with Core Tools locally; with
DEVHOST_FUNCTION_KEYS (comma-separated keys) set, every route whose auth level is not anonymous needs one of
them as `?code=` or in the `x-functions-key` header and answers 401 otherwise, as the Functions host does.
"""

from __future__ import annotations

import asyncio
import hmac
import inspect
import logging
import socket
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import azure.functions as func

from tools.devhost.app_loader import FunctionInfo
from tools.devhost.routing import Route, build_routes, compile_route

__all__ = ["FUNCTION_KEYS_ENV", "MAX_REQUEST_BODY_BYTES", "DevHttpServer", "Route", "build_routes", "compile_route",
           "invoke"]

log = logging.getLogger("devhost.http")
# The host's default request body limit (Kestrel MaxRequestBodySize in the Functions host): 100 MB.
MAX_REQUEST_BODY_BYTES = 100 * 1024 * 1024
_CHUNK_LINE_LIMIT = 8192
FUNCTION_KEYS_ENV = "DEVHOST_FUNCTION_KEYS"


class BodyFramingError(Exception):
    def __init__(self, status: int, why: str) -> None:
        super().__init__(why)
        self.status = status


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

    def _read_body(self) -> bytes:
        """The request body: chunked or Content-Length framed, at most MAX_REQUEST_BODY_BYTES."""
        encodings = [e.strip().lower() for v in self.headers.get_all("Transfer-Encoding") or [] for e in v.split(",")]
        if encodings:
            if encodings[-1] != "chunked":
                raise BodyFramingError(400, f"unsupported Transfer-Encoding {encodings}")
            return self._read_chunked()
        lengths = {v.strip() for v in self.headers.get_all("Content-Length") or []}
        if not lengths:
            return b""
        if len(lengths) > 1 or not all(v.isdigit() and v.isascii() for v in lengths):
            raise BodyFramingError(400, f"invalid Content-Length {sorted(lengths)}")
        length = int(lengths.pop())
        if length > MAX_REQUEST_BODY_BYTES:
            raise BodyFramingError(413, f"body of {length} bytes is above {MAX_REQUEST_BODY_BYTES}")
        body = self.rfile.read(length) if length else b""
        if len(body) != length:
            raise BodyFramingError(400, "connection closed before the whole body arrived")
        return body

    def _chunk_line(self) -> bytes:
        line = self.rfile.readline(_CHUNK_LINE_LIMIT + 1)
        if len(line) > _CHUNK_LINE_LIMIT or not line.endswith(b"\n"):
            raise BodyFramingError(400, "malformed chunked body")
        return line.rstrip(b"\r\n")

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            size_text = self._chunk_line().split(b";", 1)[0].strip()
            if not size_text or any(c not in b"0123456789abcdefABCDEF" for c in size_text):
                raise BodyFramingError(400, f"bad chunk size {size_text!r}")
            size = int(size_text, 16)
            if size == 0:
                while self._chunk_line():  # trailer fields, up to the empty line
                    pass
                return b"".join(parts)
            total += size
            if total > MAX_REQUEST_BODY_BYTES:
                raise BodyFramingError(413, f"chunked body is above {MAX_REQUEST_BODY_BYTES} bytes")
            data = self.rfile.read(size)
            if len(data) != size or self.rfile.read(2) != b"\r\n":
                raise BodyFramingError(400, "malformed chunk")
            parts.append(data)

    def _dispatch(self) -> None:
        parsed = urllib.parse.urlsplit(self.path)
        try:
            body = self._read_body()
        except BodyFramingError as exc:
            log.info("%s %s rejected: %s", self.command, parsed.path, exc)
            self.close_connection = True
            self._send(exc.status, b"", {}, close=True)
            return
        for route in self.server.routes:
            values = route.match(parsed.path)
            if values is None or route.function.disabled() or self.command not in route.methods:
                continue
            if not self._authorized(route, parsed):
                self._send(401, b"", {})
                return
            self._run(route, values, parsed, body)
            return
        # A known route asked with another method is a 404 in the Functions host, not a 405
        # (azure-functions-host #10098; HEAD on a GET-only route too, #11625).
        self._send(404, b"", {})

    def _authorized(self, route: Route, parsed: urllib.parse.SplitResult) -> bool:
        keys = self.server.function_keys
        if not keys or str(route.function.trigger.get("authLevel", "")).upper() == "ANONYMOUS":
            return True
        given = [v for k, vs in urllib.parse.parse_qs(parsed.query).items() if k.lower() == "code" for v in vs]
        header = self.headers.get("x-functions-key")
        if header:
            given.append(header)
        return any(hmac.compare_digest(g.encode(), k.encode()) for g in given for k in keys)

    def _run(self, route: Route, route_params: dict[str, str], parsed: urllib.parse.SplitResult,
             body: bytes) -> None:
        params = {k: v[-1] for k, v in urllib.parse.parse_qs(parsed.query, keep_blank_values=True).items()}
        host = self.headers.get("Host") or f"127.0.0.1:{self.server.server_address[1]}"
        request = func.HttpRequest(self.command, f"http://{host}{self.path}", headers=dict(self.headers.items()),
                                   params=params, route_params=route_params, body=body)
        try:
            arguments = {route.function.arg_name: request}
            executor: ThreadPoolExecutor | None = getattr(self.server, "executor", None)
            # As in the Python worker, a (synchronous) function runs on the worker's thread pool, shared with the
            # queue triggers; the connection thread only waits for it.
            response = (executor.submit(invoke, route.function, arguments).result() if executor is not None
                        else invoke(route.function, arguments))
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

    def _send(self, status: int, body: bytes, headers: dict[str, str], close: bool = False) -> None:
        self.send_response(status)
        for key, value in headers.items():
            if key.lower() not in {"content-length", "connection"}:
                self.send_header(key, value)
        if close:
            self.send_header("Connection", "close")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _dispatch


class DevHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], routes: list[Route], executor: ThreadPoolExecutor | None = None,
                 function_keys: tuple[str, ...] = ()) -> None:
        self.routes = routes
        self.executor = executor
        self.function_keys = function_keys
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up early (a sender's timeout, a load generator stopping) is routine: one line,
        not the stdlib's traceback on stderr. Anything else keeps the traceback."""
        import sys

        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            log.info("client %s went away: %s", client_address[0] if client_address else "?", type(error).__name__)
            return
        super().handle_error(request, client_address)
