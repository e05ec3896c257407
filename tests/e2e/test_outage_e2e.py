"""Storage outage: ingest and health answer 503 with Retry-After; nothing accepted before is lost."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import http, storage_values, wait_until
from tests.support.azurite import Azurite, DevHostProcess

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "databricks-job-failed.json"


@pytest.fixture
def disk_azurite(tmp_path: Path) -> Iterator[Azurite]:
    server = Azurite(location=tmp_path / "azurite").start()
    yield server
    server.stop()


@pytest.mark.e2e
def test_outage_answers_503_and_loses_nothing(disk_azurite: Azurite, tmp_path: Path, unique_suffix: str) -> None:
    values = storage_values(disk_azurite.connection_string, unique_suffix)
    # First host only ingests, so accepted alerts are still queued when storage goes away.
    ingest_only = DevHostProcess(env={**values, "AzureWebJobs.process.Disabled": "true"},
                                 log_path=tmp_path / "ingest.log").start()
    try:
        accepted = []
        for i in range(20):
            body = SAMPLE.read_text().replace('"455644833"', f'"run-{i}"').encode()
            status, _, answer = http("POST", f"{ingest_only.url}/api/databricks-monitor", body)
            assert status == 202
            accepted.append(answer["id"])

        disk_azurite.stop()
        status, headers, answer = http("POST", f"{ingest_only.url}/api/databricks-monitor", SAMPLE.read_bytes(),
                                       timeout=15)
        assert status == 503 and headers.get("Retry-After") and answer["error"] == "storage_unavailable"
        status, headers, answer = http("GET", f"{ingest_only.url}/api/health", timeout=15)
        assert status == 503 and headers.get("Retry-After")

        disk_azurite.start()
        wait_until(lambda: http("GET", f"{ingest_only.url}/api/health")[0] == 200, timeout=30)
    finally:
        ingest_only.stop()

    processor = DevHostProcess(env=values, log_path=tmp_path / "processor.log").start()
    try:
        def all_processed() -> bool:
            return all(http("GET", f"{processor.url}/api/alerts/{a}")[0] == 200 for a in accepted)

        wait_until(all_processed, timeout=60, interval=0.5)
        status, _, listing = http("GET", f"{processor.url}/api/incidents?platform=databricks&limit=100")
        assert sorted(i["run_id"] for i in listing["items"]) == sorted(f"run-{i}" for i in range(20))
    finally:
        processor.stop()
