"""The dashboard's read model on Azurite: newest-first index kept up to date by the incident writes, filters served
by the index, counters behind the trends, and GET /api/incidents on top of it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import azure.functions as func
import pytest

from dashboard import listing
from orchestration import api, runtime
from orchestration.runtime import Services
from shared.lifecycle import Event
from shared.models import Failure
from shared.readmodel import ListQuery
from shared.timeutil import to_iso
from tools.dashboard_demo import DEMO, seed

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def _page(services: Services, **params: str) -> list[dict[str, object]]:
    assert services.index is not None
    return listing.list_page(services.index, params).items


def test_index_lists_newest_first_and_each_filter_narrows(services: Services) -> None:
    ids = seed(services, NOW, rounds=2)
    items = _page(services, limit="100")
    assert [i["id"] for i in items] == ids  # seed creates them oldest-last
    firsts = [str(i["first_seen"]) for i in items]
    assert firsts == sorted(firsts, reverse=True)
    total = len(items)
    for params in ({"status": "resolved"}, {"platform": "databricks"}, {"source": "sweep"},
                   {"category": str(items[0]["category"])}, {"retry_safe": "false"}, {"pipeline": "ingest"},
                   {"from": to_iso(NOW - timedelta(hours=30))}, {"to": to_iso(NOW - timedelta(hours=30))}):
        narrowed = _page(services, limit="100", **params)
        assert 0 < len(narrowed) < total, params
    # pipeline prefix is case-insensitive: "ingest" finds IngestOrders and ingest_customers
    assert {i["pipeline"] for i in _page(services, pipeline="INGEST", limit="100")} == {"IngestOrders",
                                                                                      "ingest_customers"}
    assert all(i["status"] == "resolved" for i in _page(services, status="resolved", limit="100"))


def test_index_follows_transitions_and_paging_is_stable(services: Services) -> None:
    ids = seed(services, NOW, rounds=1)
    target = ids[-1]  # DEMO's last one is left open
    services.lifecycle.apply(target, Event.RESOLVED, actor="carol", reason="fixed upstream", resolution="by_hand")
    [row] = [i for i in _page(services, limit="100") if i["id"] == target]
    assert row["status"] == "resolved" and row["resolution"] == "by_hand"
    assert services.index is not None
    seen, token = [], None
    while True:
        page = listing.list_page(services.index, {"limit": "3", **({"continuation": token} if token else {})})
        seen += [i["id"] for i in page.items]
        token = page.continuation
        if not token:
            break
    assert seen == ids


def test_counters_feed_the_trends(services: Services) -> None:
    seed(services, NOW, rounds=2)
    assert services.stats is not None
    counts = services.stats.status_counts()
    assert sum(counts.values()) == 2 * len(DEMO)
    expected_resolved = 2 * sum(1 for d in DEMO if d.outcome in ("auto_remediated", "by_hand"))
    assert counts["resolved"] == expected_resolved and counts["escalated"] == 2
    trends = listing.trends(services.stats, 14, today=NOW)
    assert sum(trends.opened) == 2 * len(DEMO)
    assert sum(sum(v) for v in trends.by_category.values()) == 2 * len(DEMO)
    assert sum(trends.auto_resolved) == 2 * sum(1 for d in DEMO if d.outcome == "auto_remediated")
    assert any(m > 0 for m in trends.mttr_minutes)
    retried = [s for s in trends.signatures if s["retries"]]
    assert retried and all(s["retry_success_rate"] == 1.0 for s in retried)


def test_a_redelivered_alert_and_a_rerun_stage_count_once(services: Services) -> None:
    failure = Failure(source="airflow", platform="airflow", resource="https://airflow.example", pipeline="dag",
                      run_id="r1", message="boom")
    first = services.incidents.record(failure, "alert-1", to_iso(NOW))
    services.incidents.record(failure, "alert-1", to_iso(NOW))  # the same queue message again
    services.incidents.update_fields(first.incident.id, verdict={"category": "transient", "retryable": True})
    services.incidents.update_fields(first.incident.id, verdict={"category": "transient", "retryable": True})
    assert services.stats is not None
    [day] = services.stats.days("2026-12-03", "2026-12-03")
    assert day["opened"] == 1 and day["by_category"] == {"transient": 1}
    assert services.stats.status_counts()["open"] == 1


def test_list_api_is_newest_first_with_case_insensitive_prefix(services: Services,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # The handlers use the process-wide services; point it at this test's storage (test wiring, not the code).
    monkeypatch.setattr(runtime, "_services", services)
    ids = seed(services, NOW, rounds=1)
    req = func.HttpRequest("GET", "http://localhost/api/incidents", params={"pipeline": "ingestorders"}, body=b"")
    resp = api.list_incidents(req)
    assert resp.status_code == 200
    items = json.loads(resp.get_body())["items"]
    assert [i["id"] for i in items] == [i for i in ids if i in {x["id"] for x in items}]
    assert {i["pipeline"] for i in items} == {"IngestOrders"} and len(items) == 2
    bad = api.list_incidents(func.HttpRequest("GET", "http://x/api/incidents", params={"status": "x"}, body=b""))
    assert bad.status_code == 400 and json.loads(bad.get_body())["error"] == "invalid_status"


def test_query_time_bounds_are_key_ranges() -> None:
    odata = ListQuery(first_from="2026-12-01T00:00:00Z", first_to="2026-12-02T00:00:00Z").odata()
    assert "RowKey ge" in odata and "RowKey lt" in odata and "first_seen" not in odata
