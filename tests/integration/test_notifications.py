"""Notifications end to end against local capture servers: one message per state change and channel however
often an alert or event repeats, at most once under concurrency, Retry-After honoured, a dead channel isolated,
Jira create -> comment -> Done, the signed Jira webhook, SLA breaches once, the notification log."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import azure.functions as func
import pytest

from notify.jira_inbound import sign
from orchestration import api, ingest, notifications, notify_edge, processing
from orchestration.runtime import Services
from shared.lifecycle import Event
from shared.models import Failure
from shared.timeutil import parse_iso, utc_now_iso
from tests.integration.notify_support import Captures, captures, drain, notify_services

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "databricks-job-failed.json"


@pytest.fixture
def caps() -> Iterator[Captures]:
    with captures() as c:
        yield c


@pytest.fixture
def svc(app_values: dict[str, str], caps: Captures, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Services:
    services = notify_services(app_values, caps, tmp_path)
    # The HTTP handlers use the process-wide services; point it at this test's storage (test wiring).
    import orchestration.runtime as runtime
    monkeypatch.setattr(runtime, "_services", services)
    return services


def open_incident(svc: Services) -> str:
    result = ingest.accept(svc, "databricks", SAMPLE.read_bytes())
    queue = svc.storage.queue(svc.settings.alerts_queue)
    [message] = list(queue.receive_messages(max_messages=1))
    queue.delete_message(message)
    outcome = processing.process_envelope(svc, processing.decode_envelope(message.content))
    assert outcome.alert_id == result.body["id"]
    return outcome.incident_ids[0]


def titles(server_requests: list) -> list[str]:  # type: ignore[type-arg]
    out = []
    for r in server_requests:
        body = r.body
        if "attachments" in body:
            out.append(body["attachments"][0]["content"]["body"][0]["text"])
        elif "blocks" in body:
            out.append(body["blocks"][0]["text"]["text"])
    return out


def test_1000_duplicate_alerts_and_redelivered_events_send_one_opened_per_channel(svc: Services,
                                                                                  caps: Captures) -> None:
    incident_id = open_incident(svc)
    incident = svc.incidents.get(incident_id)
    assert incident is not None and incident.team == "data-platform"
    failure = Failure.from_dict(incident.failure)
    for i in range(999):  # the same failure reported again and again
        svc.incidents.record(failure, f"dup-{i}", utc_now_iso())
    for _ in range(5):  # the opened event published again (redelivery / republish)
        svc.lifecycle.publish(notifications.EventMessage(incident_id, 1, "opened", "open", utc_now_iso()))
    outcomes = drain(svc)
    assert svc.incidents.get(incident_id).occurrences == 1000  # type: ignore[union-attr]
    assert len(caps.teams.received()) == 1 and len(caps.slack.received()) == 1
    assert [r.body["event_action"] for r in caps.pagerduty.received()] == ["trigger"]
    assert len(caps.smtp.messages) == 1 and caps.jira.received() == []  # Jira only from escalation on
    # console, teams, slack, email, pagerduty sent (Jira not asked: no issue, none created on "opened");
    # every other copy of the event was a duplicate
    assert outcomes["sent"] == 5 and outcomes["duplicate"] >= 25 and set(outcomes) == {"sent", "duplicate"}
    log = notifications.notification_log(svc, incident_id)
    sent = sorted(e["channel"] for e in log if e["outcome"] == "sent")
    assert sent == ["console", "email", "pagerduty", "slack", "teams"]
    assert "Pipeline failed" in titles(caps.teams.received())[0]
    # The incident API returns the log.
    response = api.get_incident(func.HttpRequest("GET", "/api/incidents/x", body=b"", route_params={"id": incident_id}))
    assert len(json.loads(response.get_body())["notifications_log"]) == len(log)


def test_concurrent_deliveries_of_one_notification_send_once(svc: Services, caps: Captures) -> None:
    incident_id = open_incident(svc)
    drain(svc)
    caps.teams.requests.clear()
    done = svc.lifecycle.apply(incident_id, Event.ESCALATED, actor="test", reason="nobody could fix it")
    assert done is not None
    job = notifications.DeliveryJob(incident_id, done.seq, "escalated", "teams")
    notifier = notifications.notifier(svc)
    barrier = threading.Barrier(8)
    results: list[str] = []

    def deliver() -> None:
        barrier.wait()
        results.append(notifier.deliver(job))

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == ["duplicate"] * 7 + ["sent"]
    assert len(caps.teams.received()) == 1
    drain(svc)  # the fanned-out copy of the same event changes nothing for Teams
    assert len(caps.teams.received()) == 1


def test_retry_after_is_honoured_and_a_dead_channel_stops_no_other(app_values: dict[str, str], caps: Captures,
                                                                    tmp_path: Path) -> None:
    svc = notify_services(app_values, caps, tmp_path, NOTIFY_MAX_ATTEMPTS="3", NOTIFY_RETRY_BASE_SECONDS="1")
    caps.slack.inject(429, retry_after=2)
    caps.teams.down()
    incident_id = open_incident(svc)
    drain(svc, settle=5, limit=40)
    assert len(caps.slack.received()) == 1 and caps.teams.received() == []
    assert len(caps.smtp.messages) == 1 and len(caps.pagerduty.received()) == 1
    log = notifications.notification_log(svc, incident_id)
    slack_log = [e for e in log if e["channel"] == "slack"]
    assert [e["outcome"] for e in slack_log] == ["retry", "sent"]
    assert slack_log[0]["http_status"] == 429 and slack_log[0]["retry_in_seconds"] == 2
    # The retry came after the Retry-After, not before (the queue's visibility delay).
    gap = (parse_iso(slack_log[1]["time"]) - parse_iso(slack_log[0]["time"])).total_seconds()
    assert gap >= 2
    teams_log = [e for e in log if e["channel"] == "teams"]
    assert [(e["outcome"], e["attempt"]) for e in teams_log] == [("retry", 1), ("retry", 2), ("failed", 3)]
    assert all(e["http_status"] == 503 for e in teams_log) and "503" in teams_log[-1]["detail"]


def test_jira_created_on_escalation_commented_and_done_on_resolve_pagerduty_shares_dedup_key(
        svc: Services, caps: Captures) -> None:
    incident_id = open_incident(svc)
    drain(svc)
    svc.lifecycle.apply(incident_id, Event.ESCALATED, actor="remediation", reason="no attempts left")
    drain(svc)
    [created] = creates(caps)
    fields = created.body["fields"]
    assert fields["project"] == {"key": "OPS"} and f"incident-{incident_id}" in fields["labels"]
    assert created.headers["authorization"].startswith("Basic ")
    incident = svc.incidents.get(incident_id)
    assert incident is not None and incident.notifications == [{"channel": "jira", "ref": "OPS-1"}]
    svc.lifecycle.apply(incident_id, Event.ACKNOWLEDGED, actor="alice", reason="looking")
    svc.lifecycle.apply(incident_id, Event.RESOLVED, actor="bob", reason="fixed the path", resolution="by_hand")
    svc.lifecycle.republish_pending(incident_id)
    svc.lifecycle.publish(notifications.EventMessage(incident_id, 4, "resolved", "resolved", utc_now_iso()))
    drain(svc)
    issue = caps.jira.issues["OPS-1"]
    assert len(issue["comments"]) == 2 and issue["status"] == "Done"
    assert len(creates(caps)) == 1
    actions = [(r.body["event_action"], r.body["dedup_key"]) for r in caps.pagerduty.received()]
    assert actions == [("trigger", incident_id), ("trigger", incident_id), ("acknowledge", incident_id),
                       ("resolve", incident_id)]
    resolved = [t for t in titles(caps.slack.received()) if "Resolved" in t]
    assert len(resolved) == 1  # "resolved" is sent once


def creates(caps: Captures) -> list:  # type: ignore[type-arg]
    return [r for r in caps.jira.received("POST") if r.path == "/rest/api/3/issue"]


def webhook(body: bytes, signature: str | None) -> func.HttpResponse:
    headers = {"X-Hub-Signature": signature} if signature else {}
    response: func.HttpResponse = notify_edge.jira_webhook(
        func.HttpRequest("POST", "/api/jira-webhook", body=body, headers=headers))
    return response


def test_signed_jira_webhook_resolves_the_incident_and_a_bad_signature_changes_nothing(
        svc: Services, caps: Captures) -> None:
    incident_id = open_incident(svc)
    svc.lifecycle.apply(incident_id, Event.ESCALATED, actor="remediation", reason="no attempts left")
    drain(svc)
    body = json.dumps({"webhookEvent": "jira:issue_updated", "issue": {"key": "OPS-1", "fields": {
        "labels": [], "status": {"name": "Done", "statusCategory": {"key": "done"}}}},
        "changelog": {"items": [{"field": "status", "fromString": "To Do", "toString": "Done"}]}}).encode()
    for bad in (None, sign("wrong-secret", body), "sha256=" + "0" * 64):
        response = webhook(body, bad)
        assert response.status_code == 401 and json.loads(response.get_body())["error"] == "invalid_signature"
    assert svc.incidents.get(incident_id).status == "escalated"  # type: ignore[union-attr]
    response = webhook(body, sign("whsec-test", body))
    assert response.status_code == 200 and json.loads(response.get_body())["status"] == "resolved"
    incident = svc.incidents.get(incident_id)
    assert incident is not None and (incident.resolution, incident.resolved_by) == ("by_hand", "jira")
    assert webhook(body, sign("whsec-test", body)).status_code == 200  # again: no change, no error
    assert webhook(b"{not json", sign("whsec-test", b"{not json")).status_code == 400


def test_sla_breach_notifies_once_and_the_sla_api_reports(svc: Services, caps: Captures) -> None:
    incident_id = open_incident(svc)
    drain(svc)
    # An event written but never published (a crash after the write) is republished by the SLA check.
    unpublished = svc.incidents.record(Failure(source="airflow", platform="airflow", resource="https://af.example",
                                               pipeline="dag", run_id="r9", message="boom"), "a-9", utc_now_iso())
    assert unpublished.created
    svc.incidents.table.update_entity({"PartitionKey": incident_id, "RowKey": "incident",
                                       "first_seen": "2026-01-01T00:00:00.000000Z"})  # an old incident
    first = notify_edge.check_sla(svc)
    assert sorted(first) == [(incident_id, "acknowledge"), (incident_id, "resolve")]
    assert [e["published"] for e in svc.incidents.events(unpublished.incident.id)] == [True]
    assert notify_edge.check_sla(svc) == []  # a second check announces nothing again
    drain(svc)
    breaches = [r for r in caps.pagerduty.received() if "SLA breached" in r.body.get("payload", {}).get("summary", "")]
    assert len(breaches) == 2  # one per missed target, each once
    assert [t for t in titles(caps.teams.received()) if "SLA breached" in t] != []
    response = notify_edge.sla_report(func.HttpRequest("GET", "/api/sla", body=b"", params={"days": "366"}))
    body = json.loads(response.get_body())
    assert response.status_code == 200 and body["overall"]["incidents"] == 2
    assert body["by_team"]["data-platform"]["incidents"] == 1


def test_a_resolution_right_after_the_escalation_still_closes_the_jira_issue(svc: Services, caps: Captures) -> None:
    incident_id = open_incident(svc)
    drain(svc)
    svc.lifecycle.apply(incident_id, Event.ESCALATED, actor="remediation", reason="no attempts left")
    svc.lifecycle.apply(incident_id, Event.RESOLVED, actor="bob", reason="fixed", resolution="by_hand")
    # Both events are fanned out before the issue exists; the resolution waits for the key (15 s, once).
    drain(svc, settle=17, limit=60)
    assert len(creates(caps)) == 1
    issue = caps.jira.issues["OPS-1"]
    assert len(issue["comments"]) == 1 and issue["status"] == "Done"


def test_jira_webhook_resolves_only_the_incident_whose_issue_it_is_and_a_replay_changes_nothing(
        svc: Services, caps: Captures) -> None:
    victim = open_incident(svc)
    # An issue this app never created, labelled with the victim's id by anyone who can edit labels.
    forged = json.dumps({"webhookEvent": "jira:issue_updated", "timestamp": 1, "issue": {"key": "OTHER-9", "fields": {
        "labels": [f"incident-{victim}"], "status": {"name": "Done", "statusCategory": {"key": "done"}}}}}).encode()
    response = webhook(forged, sign("whsec-test", forged))
    assert response.status_code == 200 and "ignored" in json.loads(response.get_body())
    assert svc.incidents.get(victim).status == "open"  # type: ignore[union-attr]
    # The real issue resolves it; after a reopen, replaying that signed body must not resolve it again.
    svc.lifecycle.apply(victim, Event.ESCALATED, actor="remediation", reason="no attempts left")
    drain(svc)
    done = json.dumps({"webhookEvent": "jira:issue_updated", "timestamp": 2, "issue": {"key": "OPS-1", "fields": {
        "labels": [], "status": {"name": "Done", "statusCategory": {"key": "done"}}}}}).encode()
    assert json.loads(webhook(done, sign("whsec-test", done)).get_body())["status"] == "resolved"
    svc.lifecycle.apply(victim, Event.REOPENED, actor="bob", reason="still failing")
    replay = webhook(done, sign("whsec-test", done))
    assert replay.status_code == 200 and "ignored" in json.loads(replay.get_body())
    assert svc.incidents.get(victim).status == "open"  # type: ignore[union-attr]
