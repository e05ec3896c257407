"""LOCAL CAPTURE SERVERS for notification channels (tests and the demo): they answer like the real
services and keep every request they received. Not the real services.

  teams      Workflows webhook: 202, empty body
  slack      incoming webhook: 200 "ok"
  pagerduty  Events API v2 /v2/enqueue: 202 {"status": "success", "dedup_key": ...}
  jira       REST v3: create issue, search/jql, comment, transitions (Basic auth required)
  acs        Communication Services Email /emails:send: 202 with an operation id (HMAC or bearer auth)
  smtp       `SmtpCapture`: a real SMTP server (aiosmtpd) that keeps each message

`inject(status=429, retry_after=2, times=1)` makes the next requests fail; `down()` refuses everything
with 503 until `up()`.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import urlsplit


@dataclass
class Captured:
    method: str
    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON, else text
    raw: bytes
    at: float = field(default_factory=time.monotonic)


class CaptureServer:
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.requests: list[Captured] = []
        self.faults: list[tuple[int, float | None]] = []
        self.is_down = False
        self.lock = threading.Lock()
        self.issues: dict[str, dict[str, Any]] = {}  # jira: key -> {"fields", "comments", "status"}
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def inject(self, status: int, retry_after: float | None = None, times: int = 1) -> None:
        with self.lock:
            self.faults += [(status, retry_after)] * times

    def down(self) -> None:
        self.is_down = True

    def up(self) -> None:
        self.is_down = False

    def received(self, method: str = "POST", path_part: str = "") -> list[Captured]:
        with self.lock:
            return [r for r in self.requests if r.method == method and path_part in r.path]

    def start(self) -> Self:
        capture = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                capture._serve(self, "GET")

            def do_POST(self) -> None:
                capture._serve(self, "POST")

            def log_message(self, fmt: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name=f"capture-{self.kind}", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        headers = {k.lower(): v for k, v in handler.headers.items()}
        raw = handler.rfile.read(int(headers.get("content-length") or 0))
        try:
            body: Any = json.loads(raw) if raw.strip() else None
        except ValueError:
            body = raw.decode(errors="replace")
        path = urlsplit(handler.path).path
        with self.lock:
            fault = self.faults.pop(0) if self.faults else None
        if self.is_down:
            status, out_headers, payload = 503, {}, {"error": "capture server is down"}
        elif fault is not None:
            status, out_headers = fault[0], ({"Retry-After": f"{fault[1]:g}"} if fault[1] is not None else {})
            payload = {"error": f"injected {fault[0]}"}
        else:
            with self.lock:
                self.requests.append(Captured(method, path, headers, body, raw))
            status, out_headers, payload = self.answer(method, path, headers, body)
        if isinstance(payload, str):
            data = payload.encode()
        else:
            data = b"" if payload is None else json.dumps(payload).encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "text/plain" if isinstance(payload, str) else "application/json")
            handler.send_header("Content-Length", str(len(data)))
            for name, value in out_headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(data)
        except OSError:
            pass

    def answer(self, method: str, path: str, headers: dict[str, str], body: Any) -> tuple[int, dict[str, str], Any]:
        if self.kind == "teams":
            return 202, {}, None
        if self.kind == "slack":
            return 200, {}, "ok"
        if self.kind == "pagerduty":
            return 202, {}, {"status": "success", "message": "Event processed",
                             "dedup_key": (body or {}).get("dedup_key")}
        if self.kind == "acs":
            if not headers.get("authorization"):
                return 401, {}, {"error": {"code": "Denied", "message": "no Authorization"}}
            op = headers.get("operation-id") or "op"
            return 202, {"Operation-Location": f"{self.url}/emails/operations/{op}", "Retry-After": "1"}, {
                "id": op, "status": "Running"}
        if self.kind == "jira":
            return self._jira(method, path, headers, body)
        return 404, {}, {"error": "unknown capture kind"}

    def _jira(self, method: str, path: str, headers: dict[str, str], body: Any) -> tuple[int, dict[str, str], Any]:
        if not headers.get("authorization", "").startswith("Basic "):
            return 401, {}, {"errorMessages": ["authentication required"]}
        parts = path.strip("/").split("/")  # rest api 3 issue {key} comment|transitions
        with self.lock:
            if method == "POST" and path == "/rest/api/3/issue":
                key = f"OPS-{len(self.issues) + 1}"
                self.issues[key] = {"fields": body["fields"], "comments": [], "status": "To Do"}
                return 201, {}, {"id": str(10000 + len(self.issues)), "key": key}
            if method == "POST" and path == "/rest/api/3/search/jql":
                label = str(body.get("jql", "")).split('labels = "')[-1].split('"')[0]
                found = [{"key": k, "fields": {"status": {"name": v["status"]}}} for k, v in self.issues.items()
                         if label in v["fields"].get("labels", [])]
                return 200, {}, {"issues": found[:1], "isLast": True}
            if len(parts) == 6 and parts[4] in self.issues:
                issue = self.issues[parts[4]]
                if parts[5] == "comment" and method == "POST":
                    issue["comments"].append(body)
                    return 201, {}, {"id": str(len(issue["comments"]))}
                if parts[5] == "transitions" and method == "GET":
                    return 200, {}, {"transitions": [{"id": "11", "name": "In Progress", "to": {"name": "In Progress"}},
                                                     {"id": "31", "name": "Done", "to": {"name": "Done"}}]}
                if parts[5] == "transitions" and method == "POST":
                    issue["status"] = {"11": "In Progress", "31": "Done"}.get(body["transition"]["id"], "?")
                    return 204, {}, None
        return 404, {}, {"errorMessages": ["not found"]}


class SmtpCapture:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps every message it accepts."""

    def __init__(self, username: str = "", password: str = "") -> None:
        self.username, self.password = username, password
        self.logins: list[str] = []
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self._controller: Any = None

    def start(self) -> Self:
        from aiosmtpd.controller import Controller

        capture = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                capture.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
                mail: Any = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
                capture.messages.append(mail)  # policy.default builds an EmailMessage
                return "250 Message accepted for delivery"

        def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> Any:
            from aiosmtpd.smtp import AuthResult, LoginPassword

            ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == capture.username
                  and auth_data.password.decode() == capture.password)
            if ok:
                capture.logins.append(capture.username)
            return AuthResult(success=ok)

        with socket.socket() as probe:  # aiosmtpd needs a concrete port
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        auth: dict[str, Any] = {}
        if self.username:  # a loopback capture server: login is allowed without TLS
            auth = {"authenticator": authenticate, "auth_require_tls": False}
        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, **auth)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class DemoChannels:
    """`make run`: one LOCAL CAPTURE SERVER per channel, the settings that point the app at them, and a
    printout of what each received."""

    def __init__(self) -> None:
        self.http = {kind: CaptureServer(kind) for kind in ("teams", "slack", "pagerduty", "jira")}
        self.smtp = SmtpCapture()

    def start(self) -> dict[str, str]:
        for server in self.http.values():
            server.start()
        self.smtp.start()
        return {
            "NOTIFY_CHANNELS": "console,teams,slack,email,pagerduty,jira", "NOTIFY_QUIET_SECONDS": "5",
            "TEAMS_WEBHOOK_URL": self.http["teams"].url + "/workflows/demo",
            "SLACK_WEBHOOK_URL": self.http["slack"].url + "/services/demo",
            "PAGERDUTY_EVENTS_URL": self.http["pagerduty"].url + "/v2/enqueue", "PAGERDUTY_ROUTING_KEY": "demo-key",
            "JIRA_BASE_URL": self.http["jira"].url, "JIRA_EMAIL": "demo@contoso.example",
            "JIRA_API_TOKEN": "demo-token", "JIRA_PROJECT": "OPS", "JIRA_WEBHOOK_SECRET": "demo-webhook-secret",
            "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(self.smtp.port), "SMTP_STARTTLS": "false",
            "EMAIL_SENDER": "incidents@contoso.example", "EMAIL_TO": "oncall@contoso.example",
        }

    def stop(self) -> None:
        for server in self.http.values():
            server.stop()
        self.smtp.stop()

    def summary(self) -> list[str]:
        lines = []
        for kind, server in self.http.items():
            posts = [r for r in server.requests if r.method == "POST"]
            lines.append(f"  {kind:10} (capture server {server.url}) received {len(posts)} request(s)")
            for r in posts[:12]:
                lines.append(f"      {r.path[:40]:40} {_headline(kind, r.body)[:110]}")
        lines.append(f"  {'email':10} (capture SMTP server 127.0.0.1:{self.smtp.port}) received "
                     f"{len(self.smtp.messages)} message(s)")
        for mail in self.smtp.messages[:12]:
            parts = "+".join(p.get_content_type() for p in mail.walk() if not p.is_multipart())
            lines.append(f"      to {mail['To']}: {mail['Subject'][:90]} [{parts}]")
        return lines


def _headline(kind: str, body: Any) -> str:
    if not isinstance(body, dict):
        return str(body)
    if kind == "teams":
        return str(body["attachments"][0]["content"]["body"][0]["text"])
    if kind == "slack":
        return str(body.get("text", ""))
    if kind == "pagerduty":
        summary = body.get("payload", {}).get("summary", "")
        return f"{body.get('event_action')} dedup_key={body.get('dedup_key')} {summary}"
    if "fields" in body:
        return f"create issue: {body['fields'].get('summary')}"
    if "transition" in body:
        return f"transition {body['transition'].get('id')}"
    return "comment" if "body" in body else json.dumps(body)[:100]
