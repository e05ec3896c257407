"""Over HTTP through tools.devhost (function_app on Azurite, the REMEDIATION_QUEUE trigger with its visibility
delays) against the simulated factory: a transient failure of an idempotent pipeline is rerun, the first rerun
fails, the second succeeds, the incident is auto-resolved; a plan that waits is approved through the API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from shared.timeutil import utc_now
from tests.conftest import http, wait_until
from tests.integration.remediation.conftest import FAST_POLICY, TRANSIENT
from tests.support.azurite import DevHostProcess
from tests.support.fixtures_platforms import FACTORY_ID, contoso_factory
from tools.simulators.adf import AdfSimulator, SimFactory, pipeline_failed_runs_alert


@pytest.fixture
def sim() -> Iterator[AdfSimulator]:
    with AdfSimulator() as server:
        yield server


@pytest.fixture
def factory(sim: AdfSimulator) -> SimFactory:
    factory = contoso_factory(sim)
    factory.rerun_seconds = 0.5
    start = utc_now() - timedelta(minutes=5)
    factory.add_failed_run("LoadOrders", TRANSIENT, start=start, run_id="e2e-load")
    factory.add_failed_run("Orders", TRANSIENT, start=start, run_id="e2e-orders")
    factory.rerun_outcomes["LoadOrders"] = ["Failed", "Succeeded"]
    return factory


@pytest.fixture
def app_values(app_values: dict[str, str], sim: AdfSimulator, tmp_path: Path) -> dict[str, str]:
    policy = tmp_path / "policy.toml"
    policy.write_text(FAST_POLICY, encoding="utf-8")
    return {**app_values, "ENRICHMENT_ENABLED": "true", "ARM_ENDPOINT": sim.url, "ALLOWED_RESOURCES": FACTORY_ID,
            "REMEDIATION_MODE": "auto", "REMEDIATION_POLICY_FILE": str(policy),
            "REMEDIATION_VERIFY_INTERVAL_SECONDS": "1"}


def incident_of(devhost: DevHostProcess, run_id: str) -> dict[str, Any] | None:
    code, _, listing = http("GET", f"{devhost.url}/api/incidents?run_id={run_id}")
    items = listing.get("items") if code == 200 and isinstance(listing, dict) else None
    if not items:
        return None
    # List rows are summaries; the detail route carries the remediation plan and its attempts.
    code, _, detail = http("GET", f"{devhost.url}/api/incidents/{items[0]['id']}")
    return detail if code == 200 and isinstance(detail, dict) else None


@pytest.mark.e2e
def test_rerun_verify_rerun_resolve_and_approve_over_http(factory: SimFactory, devhost: DevHostProcess,
                                                          sim: AdfSimulator) -> None:
    now = utc_now()
    for pipeline in ("LoadOrders", "Orders"):
        body = pipeline_failed_runs_alert(FACTORY_ID, pipeline, now - timedelta(minutes=10), now)
        status, _, _ = http("POST", f"{devhost.url}/api/azure-monitor", body, {"Content-Type": "application/json"})
        assert status == 202

    def resolved() -> dict[str, Any] | None:
        found = incident_of(devhost, "e2e-load")
        return found if found and found["status"] == "resolved" else None

    incident = wait_until(resolved, timeout=90, interval=0.5)
    assert incident["resolution"] == "auto_remediated"
    assert [a["outcome"] for a in incident["remediation"]["attempts"]] == ["failed", "succeeded"]
    loads = [c for c in factory.created_runs if c["referencePipelineRunId"] == "e2e-load"]
    assert len(loads) == 2 and all(c["startFromFailure"] == "true" for c in loads)

    waiting = wait_until(lambda: (lambda i: i if i and (i.get("remediation") or {}).get("state") ==
                                  "waiting_approval" else None)(incident_of(devhost, "e2e-orders")), timeout=30)
    status, _, _ = http("POST", f"{devhost.url}/api/incidents/{waiting['id']}/approve",
                        {"by": "alice", "reason": "reload is safe today"}, {"Content-Type": "application/json"})
    assert status == 200
    done = wait_until(lambda: (lambda i: i if i and i["status"] == "resolved" else None)(
        incident_of(devhost, "e2e-orders")), timeout=60, interval=0.5)
    assert done["remediation"]["approved_by"] == "alice"
    assert sim.counts["createRun"] == 3
