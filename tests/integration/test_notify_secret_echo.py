"""A service that echoes the request in its error answer (proxies, WAFs, some APIs) must not put the channel's
own secret (here the PagerDuty routing key, which no redaction pattern knows) into the notification log."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from orchestration import notifications
from shared.lifecycle import Event
from tests.integration.notify_support import Captures, captures, drain, notify_services
from tests.integration.test_notifications import open_incident

KEY = "R0UT1NGk3y0123456789abcdef012345"


class Echo(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(400)
        self.end_headers()
        self.wfile.write(b"invalid event: " + body[:150])

    def log_message(self, fmt: str, *args: Any) -> None:
        pass


@pytest.fixture
def echo() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/v2/enqueue"
    server.shutdown()
    server.server_close()


@pytest.fixture
def caps() -> Iterator[Captures]:
    with captures() as c:
        yield c


def test_an_echoed_routing_key_never_reaches_the_log(app_values: dict[str, str], caps: Captures, echo: str,
                                                    tmp_path: Path) -> None:
    svc = notify_services(app_values, caps, tmp_path, PAGERDUTY_EVENTS_URL=echo, PAGERDUTY_ROUTING_KEY=KEY)
    incident_id = open_incident(svc)
    svc.lifecycle.apply(incident_id, Event.ESCALATED, actor="remediation", reason="no attempts left")
    drain(svc)
    log = notifications.notification_log(svc, incident_id)
    failed = [entry for entry in log if entry["channel"] == "pagerduty" and entry["outcome"] == "failed"]
    assert failed and all("invalid event" in entry["detail"] for entry in failed)
    assert KEY not in repr(log)
