"""Ingest -> queue -> processing -> Table Storage, on a real Azurite, in process."""

from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from azure.storage.queue import QueueClient

from orchestration import ingest, processing
from orchestration.runtime import Services
from shared.incidents import IncidentStore
from shared.models import AlertStatus, AuditAction, Envelope, Failure, IncidentStatus
from tests.conftest import load_payload

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def sample(name: str) -> dict[str, object]:
    data: dict[str, object] = json.loads((SAMPLES / name).read_text())
    return data


def raw_messages(services: Services) -> list[str]:
    """The queue's message texts exactly as stored (no decode policy)."""
    client = QueueClient.from_connection_string(services.settings.get("AzureWebJobsStorage"),
                                                services.settings.alerts_queue)
    return [str(m.content) for m in client.peek_messages(max_messages=32)]


def take_envelopes(services: Services) -> list[Envelope]:
    queue = services.storage.queue(services.settings.alerts_queue)
    envelopes = []
    for message in queue.receive_messages(max_messages=32):
        envelopes.append(processing.decode_envelope(message.content))
        queue.delete_message(message)
    return envelopes


def accept_and_process(services: Services, source: str, payload: dict[str, object]) -> processing.Outcome:
    result = ingest.accept(services, source, json.dumps(payload).encode())
    assert result.status == 202, result.body
    envelopes = take_envelopes(services)
    assert [e.id for e in envelopes] == [result.body["id"]]
    return processing.process_envelope(services, envelopes[0])


def test_queue_message_text_is_base64_of_the_envelope(services: Services) -> None:
    body = sample("databricks-job-failed.json")
    result = ingest.accept(services, "databricks", json.dumps(body).encode())
    assert result.status == 202
    [text] = raw_messages(services)
    envelope = json.loads(base64.b64decode(text, validate=True))
    assert envelope["id"] == result.body["id"]
    assert envelope["source"] == "databricks"
    assert envelope["payload"] == body
    assert envelope["received_at"].endswith("Z")


@pytest.mark.parametrize(("body", "status", "error"), [
    (b"{not json", 400, "invalid_json"),
    (b"", 400, "empty_body"),
    (b"[1, 2]", 400, "not_an_object"),
    (b'{"a": "' + b"x" * (2 * 1024 * 1024) + b'"}', 413, "payload_too_large"),
])
def test_bad_bodies_get_4xx_and_nothing_is_queued(services: Services, body: bytes, status: int, error: str) -> None:
    result = ingest.accept(services, "azure-monitor", body)
    assert (result.status, result.body["error"]) == (status, error)
    assert result.body["detail"]
    assert raw_messages(services) == []


def test_large_alert_is_claim_checked_through_a_blob_and_processed(services: Services) -> None:
    body = sample("azure-monitor-adf-log-alert.json")
    body["data"]["alertContext"]["padding"] = "x" * 200_000  # type: ignore[index]
    raw = json.dumps(body).encode()
    result = ingest.accept(services, "azure-monitor", raw)
    assert result.status == 202
    [text] = raw_messages(services)
    envelope = json.loads(base64.b64decode(text))
    assert "payload" not in envelope
    container, _, blob = envelope["payload_ref"].partition("/")
    assert container == services.settings.raw_container
    assert json.loads(services.storage.container(container).download_blob(blob).readall()) == body
    [env] = take_envelopes(services)
    outcome = processing.process_envelope(services, env)
    assert outcome.status is AlertStatus.PROCESSED
    incident = services.incidents.get(outcome.incident_ids[0])
    assert incident and incident.run_id == "8a1c7e52-0d3b-4f6e-9b21-5c4d3e2f1a0b"


def test_inline_alert_is_archived_by_date_and_source(services: Services) -> None:
    outcome = accept_and_process(services, "airflow", sample("airflow-task-failed.json"))
    record = services.alerts.get(outcome.alert_id)
    assert record is not None
    blob = f"{record.received_at[:10]}/airflow/{outcome.alert_id}.json"
    archived = json.loads(services.storage.container(services.settings.raw_container).download_blob(blob).readall())
    assert archived["dag_id"] == "daily_orders_etl"


def test_duplicates_count_occurrences_and_redelivery_counts_once(services: Services) -> None:
    body = sample("databricks-job-failed.json")
    first = accept_and_process(services, "databricks", body)
    # The sender retries the same notification (its earlier POST got an ambiguous 503): same id, not counted.
    retried = accept_and_process(services, "databricks", body)
    assert retried.alert_id == first.alert_id
    # A second notification about the same run (another task of it) is a new occurrence.
    second = accept_and_process(services, "databricks", {**body, "task": {"task_key": "publish"}})
    assert second.alert_id != first.alert_id
    assert first.incident_ids == second.incident_ids
    incident_id = first.incident_ids[0]
    # The same queue message delivered again (e.g. after a crash) is not a new occurrence.
    redelivered = Envelope(second.alert_id, "databricks", "2026-01-01T00:00:00Z", payload=body)
    processing.process_envelope(services, redelivered)
    incident = services.incidents.get(incident_id)
    assert incident is not None
    assert incident.occurrences == 2
    assert incident.first_seen <= incident.last_seen
    actions = [e.action for e in services.audit.trail(incident_id)]
    assert actions.count(AuditAction.INCIDENT_CREATED) == 1
    assert actions.count(AuditAction.OCCURRENCE_RECORDED) == 1


def test_concurrent_records_of_one_failure_make_one_incident(services: Services) -> None:
    failure = Failure(source="databricks", platform="databricks", resource="ws", pipeline="job", run_id="42")
    store = IncidentStore(services.storage.table(services.settings.incidents_table),
                          services.storage.container(services.settings.payloads_container))
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda i: store.record(failure, f"alert-{i}", f"2026-01-01T00:00:{i % 60:02d}Z"),
                                range(64)))
    assert sum(r.created for r in results) == 1
    incident = store.get(results[0].incident.id)
    assert incident is not None and incident.occurrences == 64
    assert incident.last_seen == "2026-01-01T00:00:59Z"


def test_not_a_pipeline_failure_is_ignored_with_a_reason(services: Services) -> None:
    outcome = accept_and_process(services, "azure-monitor", sample("azure-monitor-resource-health.json"))
    assert outcome.status is AlertStatus.IGNORED
    record = services.alerts.get(outcome.alert_id)
    assert record and record.status == "ignored" and "Resource Health" in (record.ignored_reason or "")
    noncommon = load_payload("azmon__noncommon-metric-static__1.json")
    outcome = accept_and_process(services, "azure-monitor", noncommon)
    assert outcome.status is AlertStatus.IGNORED
    assert "enable the common alert schema on the Action Group" in (outcome.reason or "")
    start = load_payload("databricks__webhook-jobs-on-start-job__1.json")
    assert accept_and_process(services, "databricks", start).status is AlertStatus.IGNORED


def test_resolved_alert_resolves_the_incident_it_opened(services: Services) -> None:
    fired = sample("azure-monitor-adf-pipeline-failed.json")
    opened = accept_and_process(services, "azure-monitor", fired)
    assert opened.status is AlertStatus.PROCESSED
    incident_id = opened.incident_ids[0]
    assert services.incidents.get(incident_id).status == IncidentStatus.OPEN  # type: ignore[union-attr]
    resolved = json.loads(json.dumps(fired))
    resolved["data"]["essentials"]["monitorCondition"] = "Resolved"
    resolved["data"]["essentials"]["resolvedDateTime"] = "2026-11-21T03:20:00.000Z"
    closed = accept_and_process(services, "azure-monitor", resolved)
    assert closed.status is AlertStatus.PROCESSED and closed.incident_ids == [incident_id]
    incident = services.incidents.get(incident_id)
    assert incident and incident.status == IncidentStatus.RESOLVED and incident.resolved_at
    assert AuditAction.INCIDENT_RESOLVED in [e.action for e in services.audit.trail(incident_id)]
    # The sender retries the same Resolved: recognised, same outcome, the incident is not resolved twice.
    retried = accept_and_process(services, "azure-monitor", resolved)
    assert retried.alert_id == closed.alert_id and retried.incident_ids == [incident_id]
    trail = [e.action for e in services.audit.trail(incident_id)]
    assert trail.count(AuditAction.INCIDENT_RESOLVED) == 1
    resolved["data"]["essentials"]["resolvedDateTime"] = "2026-11-21T03:25:00.000Z"  # another Resolved
    again = accept_and_process(services, "azure-monitor", resolved)
    assert again.status is AlertStatus.IGNORED and "no open incident" in (again.reason or "")


def test_listing_filters_and_pages(services: Services) -> None:
    for i in range(5):
        body = sample("databricks-job-failed.json")
        body["run"] = {"run_id": f"run-{i}"}
        accept_and_process(services, "databricks", body)
    accept_and_process(services, "airflow", sample("airflow-task-failed.json"))
    items, token = services.incidents.list({"platform": "databricks"}, None, 2, None)
    seen = [i.run_id for i in items]
    while token:
        items, token = services.incidents.list({"platform": "databricks"}, None, 2, token)
        seen += [i.run_id for i in items]
    assert sorted(seen) == [f"run-{i}" for i in range(5)]  # type: ignore[comparison-overlap]
    only_airflow, _ = services.incidents.list({"source": "airflow"}, None, 50, None)
    assert [i.pipeline for i in only_airflow] == ["daily_orders_etl"]
    assert services.incidents.list({}, "2999-01-01T00:00:00Z", 50, None)[0] == []


def test_missing_claim_check_blob_fails_and_is_recorded_on_the_last_try(services: Services) -> None:
    envelope = Envelope("lost-1", "azure-monitor", "2026-01-01T00:00:00Z", payload_ref="alerts-raw/none.json")
    with pytest.raises(FileNotFoundError):
        processing.process_envelope(services, envelope)
    assert services.alerts.get("lost-1") is None
    processing.record_final_failure(services, json.dumps(envelope.to_dict()), FileNotFoundError("gone"), 5)
    record = services.alerts.get("lost-1")
    assert record and record.status == AlertStatus.FAILED and "gone" in (record.error or "")
