"""Shared fixtures: one in-memory Azurite per test session, unique storage names per test."""

from __future__ import annotations

import itertools
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestration.runtime import Services
from shared.config import Settings
from tests.support.azurite import Azurite, DevHostProcess

CORPUS = Path(__file__).resolve().parent / "corpus"
PAYLOADS = CORPUS / "payloads"
_names = itertools.count(1)
TEST_SUBSCRIPTIONS = ("/subscriptions/1f3c6a0e-4b1d-4c55-9d2e-6a7b8c9d0e1f,"
                      "/subscriptions/aaaa0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4e")


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    server = Azurite().start()
    yield server
    server.stop()


def storage_values(connection_string: str, suffix: str) -> dict[str, str]:
    """App settings pointing at Azurite, with table/queue/container names unique to one test."""
    return {
        "AzureWebJobsStorage": connection_string,
        "ALERTS_QUEUE": f"alerts{suffix}",
        "EVENTS_QUEUE": f"events{suffix}",
        "REMEDIATION_QUEUE": f"remediation{suffix}",
        "REMEDIATION_TABLE": f"remediation{suffix}",
        "INCIDENTS_TABLE": f"incidents{suffix}",
        "ALERTS_TABLE": f"alerts{suffix}",
        "AUDIT_TABLE": f"audit{suffix}",
        "STATE_TABLE": f"state{suffix}",
        "ANALYSIS_CACHE_TABLE": f"analysiscache{suffix}",
        "INCIDENT_INDEX_TABLE": f"incidentindex{suffix}",
        "STATS_TABLE": f"incidentstats{suffix}",
        "AGENT_SESSIONS_TABLE": f"agentsessions{suffix}",
        "RAW_CONTAINER": f"alerts-raw{suffix}",
        "PAYLOADS_CONTAINER": f"incident-payloads{suffix}",
        "SWEEP_SCHEDULE": "0 0 0 1 1 *",
        "ENRICHMENT_ENABLED": "false",
        # The subscriptions of the samples and simulators (shared.scope: nothing else is ever queried).
        "ALLOWED_RESOURCES": TEST_SUBSCRIPTIONS,
        "NOTIFY_CHANNELS": "console",
        "NOTIFY_QUEUE": f"notifications{suffix}",
        "NOTIFICATIONS_TABLE": f"notifications{suffix}",
        "SLA_SCHEDULE": "0 0 0 1 1 *",
    }


@pytest.fixture
def unique_suffix() -> str:
    return f"t{int(time.time() * 1000) % 10_000_000}n{next(_names)}"


@pytest.fixture
def app_values(azurite: Azurite, unique_suffix: str) -> dict[str, str]:
    return storage_values(azurite.connection_string, unique_suffix)


@pytest.fixture
def settings(app_values: dict[str, str]) -> Settings:
    return Settings.from_mapping(app_values)


@pytest.fixture
def services(settings: Settings) -> Services:
    svc = Services.from_settings(settings)
    svc.ensure_ready()
    return svc


@pytest.fixture
def devhost(app_values: dict[str, str], tmp_path: Path) -> Iterator[DevHostProcess]:
    host = DevHostProcess(env=app_values, log_path=tmp_path / "devhost.log").start()
    yield host
    host.stop()


def http(method: str, url: str, body: bytes | dict[str, Any] | None = None,
         headers: dict[str, str] | None = None, timeout: float = 30) -> tuple[int, dict[str, str], Any]:
    """One HTTP call; returns (status, headers, parsed JSON body or raw text)."""
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            status, resp_headers, raw = resp.status, dict(resp.headers.items()), resp.read()
    except urllib.error.HTTPError as err:
        status, resp_headers, raw = err.code, dict(err.headers.items()), err.read()
    try:
        return status, resp_headers, json.loads(raw) if raw else None
    except ValueError:
        return status, resp_headers, raw.decode(errors="replace")


def wait_until(predicate: Callable[[], Any], timeout: float = 30, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(interval)


def load_payload(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PAYLOADS / name).read_text())
    return data
