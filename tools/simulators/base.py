"""The generic part of the SIMULATED platform APIs (Data Factory / Synapse, Databricks, Airflow).

A threaded stdlib HTTP server on 127.0.0.1 (port 0 = a free port) with routing, per-endpoint
request counts (`counts`, `seen` with arrival times) and fault injection (`inject`: an HTTP status
such as 401 or 429 with Retry-After, and/or a delay for timeout tests). Subclasses add routes.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlsplit

Response = tuple[int, dict[str, str], Any]


@dataclass
class Fault:
    endpoint: str | None  # None: any endpoint
    status: int | None = None  # None: answer normally (after `delay`)
    retry_after: float | None = None
    delay: float = 0.0
    times: int = 1
    body: Any = None


@dataclass
class Seen:
    endpoint: str
    method: str
    path: str
    at: float  # time.monotonic() when the request arrived
    status: int = 0


class SimServer:
    """Threaded loopback HTTP server: routing, request counts, fault injection. Subclasses add routes."""

    def __init__(self, port: int = 0) -> None:
        self.counts: Counter[str] = Counter()
        self.seen: list[Seen] = []
        self.faults: list[Fault] = []
        self.lock = threading.RLock()
        self._port = port
        self._server: ThreadingHTTPServer | None = None

    # --- to override ---------------------------------------------------------------------
    def route(self, method: str, path: str) -> tuple[str, Any, tuple[str, ...]] | None:
        """(endpoint name, handler(query, body, *args) -> Response, args), or None for 404."""
        raise NotImplementedError

    def authorized(self, headers: dict[str, str]) -> bool:
        return headers.get("authorization", "").lower().startswith("bearer ")

    def error_body(self, status: int, code: str, message: str) -> Any:
        return {"error": {"code": code, "message": message}}

    # --- lifecycle -----------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None, "start() the simulator first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> SimServer:
        sim = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                sim._serve(self, "GET")

            def do_POST(self) -> None:
                sim._serve(self, "POST")

            def log_message(self, fmt: str, *args: Any) -> None:  # quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name=type(self).__name__, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- observation and faults ----------------------------------------------------------
    def inject(self, endpoint: str | None = None, *, status: int | None = None, retry_after: float | None = None,
               delay: float = 0.0, times: int = 1, body: Any = None) -> Fault:
        """Make the next `times` requests to `endpoint` (None: any) slow and/or fail with `status`."""
        fault = Fault(endpoint, status, retry_after, delay, times, body)
        with self.lock:
            self.faults.append(fault)
        return fault

    def reset_counts(self) -> None:
        with self.lock:
            self.counts.clear()
            self.seen.clear()

    def times_of(self, endpoint: str) -> list[float]:
        with self.lock:
            return [s.at for s in self.seen if s.endpoint == endpoint]

    def _take_fault(self, endpoint: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.times > 0 and fault.endpoint in (None, endpoint):
                    fault.times -= 1
                    return fault
        return None

    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        path = unquote(parts.path).rstrip("/")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        headers = {k.lower(): v for k, v in handler.headers.items()}
        length = int(headers.get("content-length") or 0)
        raw = handler.rfile.read(length) if length else b""
        found = self.route(method, path)
        seen = Seen(found[0] if found else "unknown", method, path, time.monotonic())
        with self.lock:
            self.counts[seen.endpoint] += 1
            self.seen.append(seen)
        status, out_headers, body = self._answer(found, method, query, headers, raw)
        seen.status = status
        data = b"" if body is None else json.dumps(body).encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            for name, value in out_headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(data)
        except OSError:
            pass  # the client gave up (timeout tests)

    def _answer(self, found: tuple[str, Any, tuple[str, ...]] | None, method: str, query: dict[str, str],
                headers: dict[str, str], raw: bytes) -> Response:
        if found is None:
            return 404, {}, self.error_body(404, "NotFound", f"no such {method} endpoint in the simulator")
        endpoint, handler, args = found
        fault = self._take_fault(endpoint)
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.status is not None:
                extra = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
                code = {401: "InvalidAuthenticationToken", 429: "TooManyRequests"}.get(fault.status, "Error")
                return fault.status, extra, (fault.body if fault.body is not None
                                             else self.error_body(fault.status, code, f"simulated {fault.status}"))
        if not self.authorized(headers):
            return 401, {}, self.error_body(401, "AuthenticationFailed", "the Authorization header is missing")
        try:
            payload = json.loads(raw) if raw.strip() else {}
        except ValueError:
            return 400, {}, self.error_body(400, "BadRequest", "body is not JSON")
        result: Response = handler(query, payload, *args)
        return result
