"""Routing and ownership from the data file, SLA figures by hand, Jira webhook signatures (all pure)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from notify import sla
from notify.jira_inbound import parse, sign, signature_ok
from notify.routing import Rules, ownership, route
from tests.unit.notify.fixtures import incident

RULES = Rules.load()


def test_routes_by_pattern_severity_and_event_and_priority_from_severity() -> None:
    sales = route(RULES, incident(), "opened")  # sales_* and severity high
    assert sales.channels == ("pagerduty", "console", "teams", "email", "jira")
    assert sales.recipients == {"email": ["sales-data-oncall@contoso.example"]} and sales.priority == "P2"
    other = route(RULES, incident(pipeline="ingest_hr", verdict={"severity": "low"}), "opened")
    assert other.channels == ("console", "teams", "teams_legacy", "slack", "email", "pagerduty", "jira")
    assert other.priority == "P4"
    # Channel event lists: nobody but PagerDuty and console hears "acknowledged"; jira everything routed.
    assert route(RULES, incident(pipeline="x", verdict={"severity": "low"}), "acknowledged").channels == (
        "console", "pagerduty", "jira")
    assert route(RULES, incident(), "approved").channels == ()


def test_ownership_from_platform_tags_first_then_patterns() -> None:
    assert ownership(RULES, incident()) == {"team": "sales-data", "owner": "sales-data-oncall@contoso.example",
                                            "cost_center": "CC-1001"}
    tagged = incident(pipeline="hr_load", failure={"origin": {"annotations": ["team:hr-data", "cost_center:CC-9"]}})
    assert ownership(RULES, tagged) == {"team": "hr-data", "cost_center": "CC-9",
                                        "owner": "data-platform-oncall@contoso.example"}
    dag = incident(platform="airflow", pipeline="etl", failure={"origin": {"owner": ["bob", "eve"]}})
    assert ownership(RULES, dag)["owner"] == "bob, eve"


def test_sla_breaches_and_mtta_mttr_by_hand() -> None:
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    young = incident(first_seen="2026-12-01T11:50:00Z")
    old = incident(first_seen="2026-12-01T09:00:00Z")
    targets_ack, targets_resolve = sla.parse_targets("P2=30"), sla.parse_targets("P2=150")
    assert sla.missed(young, "P2", now, targets_ack, targets_resolve) == []
    assert sla.missed(old, "P2", now, targets_ack, targets_resolve) == [sla.ACK, sla.RESOLVE]
    assert sla.missed(incident(first_seen="2026-12-01T11:00:00Z", acknowledged_at="2026-12-01T11:10:00Z"), "P2",
                      now, targets_ack, targets_resolve) == []
    fixture = [
        # a: acked after 10 min, resolved after 60; b: acked after 20, resolved after 120; c: open, acked after 5
        incident(id="a", pipeline="p1", team="t1", first_seen="2026-12-01T10:00:00Z",
                 acknowledged_at="2026-12-01T10:10:00Z", resolved_at="2026-12-01T11:00:00Z", status="resolved"),
        incident(id="b", pipeline="p1", team="t2", first_seen="2026-12-01T10:00:00Z",
                 acknowledged_at="2026-12-01T10:20:00Z", resolved_at="2026-12-01T12:00:00Z", status="resolved"),
        incident(id="c", pipeline="p2", team="t2", first_seen="2026-12-01T10:00:00Z",
                 acknowledged_at="2026-12-01T10:05:00Z"),
    ]
    figures = sla.metrics(fixture)
    assert figures["overall"] == {"incidents": 3, "acknowledged": 3, "resolved": 2,
                                  "mtta_seconds": round((600 + 1200 + 300) / 3, 1), "mttr_seconds": 5400.0}
    assert figures["by_pipeline"]["p1"]["mtta_seconds"] == 900.0
    assert figures["by_pipeline"]["p2"]["mttr_seconds"] is None
    assert figures["by_team"]["t2"] == {"incidents": 2, "acknowledged": 2, "resolved": 1, "mtta_seconds": 750.0,
                                        "mttr_seconds": 7200.0}


def test_jira_signature_and_status_change() -> None:
    body = json.dumps({"webhookEvent": "jira:issue_updated", "issue": {"key": "OPS-7", "fields": {
        "labels": ["pipeline-incident", "incident-abc"],
        "status": {"name": "Done", "statusCategory": {"key": "done"}}}},
        "changelog": {"items": [{"field": "status", "fromString": "To Do", "toString": "Done"}]}}).encode()
    assert signature_ok("s3cret", body, sign("s3cret", body))
    assert not signature_ok("s3cret", body, sign("other", body))
    assert not signature_ok("s3cret", body + b" ", sign("s3cret", body))
    assert not signature_ok("s3cret", body, None) and not signature_ok("", body, sign("", body))
    change = parse(body)
    assert change is not None and (change.key, change.done, change.incident_id) == ("OPS-7", True, "abc")
    assert parse(json.dumps({"webhookEvent": "comment_created"}).encode()) is None
