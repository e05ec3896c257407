"""The spine over HTTP through tools.devhost serving function_app on Azurite."""

from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from azure.storage.queue import QueueClient, TextBase64EncodePolicy

from tests.conftest import PAYLOADS, http, wait_until
from tests.support.azurite import DevHostProcess

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
ENDPOINTS = {"azmon": "azure-monitor", "databricks": "databricks-monitor", "airflow": "airflow-monitor"}


def full_envelope_payloads() -> list[Path]:
    """Corpus files that are whole webhook bodies (not fragments, not API responses)."""
    files = sorted(PAYLOADS.glob("azmon__testaction-*.json")) + sorted(PAYLOADS.glob("azmon__common-*.json"))
    files += sorted(PAYLOADS.glob("azmon__noncommon-*.json")) + sorted(PAYLOADS.glob("databricks__webhook-*.json"))
    return files


def endpoint_for(path: Path) -> str:
    return ENDPOINTS[path.name.split("__")[0].split("-")[0]]


def alert_result(host: DevHostProcess, alert_id: str, timeout: float = 30) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        status, _, body = http("GET", f"{host.url}/api/alerts/{alert_id}")
        return body if status == 200 else None

    result: dict[str, Any] = wait_until(done, timeout=timeout, interval=0.2)
    return result


@pytest.mark.e2e
def test_every_corpus_webhook_body_is_accepted_and_ends_processed_or_ignored(devhost: DevHostProcess) -> None:
    files = full_envelope_payloads() + sorted(SAMPLES.glob("*.json"))
    assert len(files) >= 15
    accepted = {}
    for path in files:
        endpoint = endpoint_for(path) if "__" in path.name else ENDPOINTS[path.name.split("-")[0].replace(
            "azure", "azmon")]
        status, _, body = http("POST", f"{devhost.url}/api/{endpoint}", path.read_bytes(),
                               {"Content-Type": "application/json"})
        assert status == 202, (path.name, body)
        accepted[path.name] = body["id"]
    for name, alert_id in accepted.items():
        result = alert_result(devhost, alert_id)
        assert result["status"] in {"processed", "ignored"}, (name, result)
        if result["status"] == "ignored":
            assert len(result["ignored_reason"]) > 20, name
        else:
            assert result["incident_ids"], name
        assert result["received_at"] <= result["processed_at"]
    noncommon = alert_result(devhost, accepted["azmon__noncommon-metric-static__1.json"])
    assert "enable the common alert schema" in noncommon["ignored_reason"]
    failure = alert_result(devhost, accepted["databricks__webhook-jobs-on-failure-job__1.json"])
    assert failure["status"] == "processed"


@pytest.mark.e2e
def test_bad_input_gets_clear_4xx(devhost: DevHostProcess) -> None:
    status, _, body = http("POST", f"{devhost.url}/api/azure-monitor", b"{oops", {"Content-Type": "application/json"})
    assert status == 400 and body["error"] == "invalid_json" and body["detail"]
    big = b'{"x":"' + b"a" * (2 * 1024 * 1024) + b'"}'
    status, _, body = http("POST", f"{devhost.url}/api/azure-monitor", big)
    assert status == 413 and body["error"] == "payload_too_large"
    status, _, body = http("GET", f"{devhost.url}/api/incidents?since=yesterday")
    assert status == 400 and body["error"] == "invalid_since"
    assert http("GET", f"{devhost.url}/api/incidents/doesnotexist")[0] == 404
    assert http("GET", f"{devhost.url}/api/alerts/doesnotexist")[0] == 404


@pytest.mark.e2e
def test_200_concurrent_deliveries_make_one_incident_with_200_occurrences(devhost: DevHostProcess) -> None:
    template = json.loads((SAMPLES / "azure-monitor-adf-pipeline-failed.json").read_bytes())

    def post(n: int) -> str:
        # 200 firings of the alert (each its own firedDateTime), not 200 retries of one delivery.
        essentials = {**template["data"]["essentials"], "firedDateTime": f"2026-11-21T02:{n // 60:02d}:{n % 60:02d}Z"}
        body = {**template, "data": {**template["data"], "essentials": essentials}}
        status, _, answer = http("POST", f"{devhost.url}/api/azure-monitor", body)
        assert status == 202, answer
        return str(answer["id"])

    with ThreadPoolExecutor(50) as pool:
        ids = list(pool.map(post, range(200)))
    assert len(set(ids)) == 200
    results = [alert_result(devhost, alert_id, timeout=120) for alert_id in ids]
    incident_ids = {i for r in results for i in r["incident_ids"]}
    assert len(incident_ids) == 1
    [incident_id] = incident_ids
    status, _, incident = http("GET", f"{devhost.url}/api/incidents/{incident_id}")
    assert status == 200
    assert incident["occurrences"] == 200
    assert incident["platform"] == "adf" and incident["pipeline"] == "pl_ingest_sales"
    actions = [a["action"] for a in incident["audit"]]
    assert actions.count("incident_created") == 1 and actions.count("occurrence_recorded") == 199
    status, _, listing = http("GET", f"{devhost.url}/api/incidents?pipeline=pl_ingest_sales")
    assert [i["id"] for i in listing["items"]] == [incident_id]
    for key in ("id", "source", "platform", "resource", "pipeline", "run_id", "status", "occurrences",
                "first_seen", "last_seen", "error"):
        assert key in listing["items"][0]


@pytest.mark.e2e
def test_poison_message_lands_in_poison_queue_with_alert_marked_failed(devhost: DevHostProcess,
                                                                      app_values: dict[str, str]) -> None:
    conn, queue_name = app_values["AzureWebJobsStorage"], app_values["ALERTS_QUEUE"]
    queue = QueueClient.from_connection_string(conn, queue_name, message_encode_policy=TextBase64EncodePolicy())
    envelope = {"id": "poison-1", "source": "azure-monitor", "received_at": "2026-11-21T00:00:00.000000Z",
                "payload_ref": f"{app_values['RAW_CONTAINER']}/2026-11-21/azure-monitor/missing.json"}
    queue.send_message(json.dumps(envelope))
    poison = QueueClient.from_connection_string(conn, f"{queue_name}-poison")
    messages = wait_until(lambda: list(poison.peek_messages()), timeout=60, interval=0.5)
    assert json.loads(base64.b64decode(messages[0].content)) == envelope
    record = alert_result(devhost, "poison-1")
    assert record["status"] == "failed"
    assert "missing" in record["error"] and "delivery 5" in record["error"]
