"""Over HTTP through tools.devhost (function_app on Azurite) with enrichment on and ARM_ENDPOINT at the
simulated factory: a PipelineFailedRuns alert becomes one incident per failed run, with the
activity errors, visible through GET /api/incidents."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from shared.timeutil import utc_now
from tests.conftest import http, wait_until
from tests.support.azurite import DevHostProcess
from tests.support.fixtures_platforms import FACTORY_ID, contoso_factory
from tools.simulators.adf import DEMO_ERRORS, AdfSimulator, pipeline_failed_runs_alert


@pytest.fixture
def sim() -> Iterator[AdfSimulator]:
    with AdfSimulator() as server:
        factory = contoso_factory(server)
        now = utc_now()
        for i, (_, activity, code, kind, message) in enumerate(DEMO_ERRORS):
            factory.add_failed_run("IngestOrders", message, code=code, failure_type=kind, activity=activity,
                                   start=now - timedelta(minutes=20 - 5 * i), run_id=f"e2e-run-{i}")
        factory.add_run("IngestOrders", start=now - timedelta(minutes=25))
        yield server


@pytest.fixture
def app_values(app_values: dict[str, str], sim: AdfSimulator) -> dict[str, str]:
    return {**app_values, "ENRICHMENT_ENABLED": "true", "ARM_ENDPOINT": sim.url, "ENRICHMENT_TIMEOUT_SECONDS": "5"}


@pytest.mark.e2e
def test_pipeline_failed_runs_alert_over_http_becomes_incidents_with_the_activity_errors(
        devhost: DevHostProcess, sim: AdfSimulator) -> None:
    now = utc_now()
    body = pipeline_failed_runs_alert(FACTORY_ID, "IngestOrders", now - timedelta(minutes=30), now, failed=3)
    status, _, accepted = http("POST", f"{devhost.url}/api/azure-monitor", body, {"Content-Type": "application/json"})
    assert status == 202, accepted

    def incidents() -> list[dict[str, Any]] | None:
        code, _, listing = http("GET", f"{devhost.url}/api/incidents?pipeline=IngestOrders")
        items = listing.get("items") if code == 200 and isinstance(listing, dict) else None
        return items if items and len(items) == 3 else None

    items: list[dict[str, Any]] = wait_until(incidents, timeout=60, interval=0.3)
    by_run = {i["run_id"]: i for i in items}
    assert sorted(by_run) == ["e2e-run-0", "e2e-run-1", "e2e-run-2"]
    for i, (_, activity, code, kind, message) in enumerate(DEMO_ERRORS):
        incident = by_run[f"e2e-run-{i}"]
        assert incident["platform"] == "adf" and incident["activity"] == activity
        assert incident["error"] == {"code": code, "message": message, "failure_type": kind}
        assert incident["links"]["run"].lower().endswith(f"?factory={FACTORY_ID.replace('/', '%2F')}".lower())
    def alert_record() -> dict[str, Any] | None:
        code, _, record = http("GET", f"{devhost.url}/api/alerts/{accepted['id']}")
        return record if code == 200 else None

    # The alert record is written when processing ends, after the incidents and their stages.
    record = wait_until(alert_record, timeout=30, interval=0.2)
    assert record["status"] == "processed" and len(record["incident_ids"]) == 3
    assert sim.counts["queryPipelineRuns"] == 1 and sim.counts["queryActivityRuns"] == 3
