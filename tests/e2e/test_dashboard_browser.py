"""The dashboard in a real headless Chromium (Debian's, through Playwright), served by the local host with function
keys enforced, over demo incidents written by the app's own stores."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from orchestration.runtime import Services
from shared.config import Settings
from shared.models import Failure
from shared.timeutil import to_iso
from tests.conftest import http, storage_values
from tests.support.azurite import Azurite, DevHostProcess
from tools.dashboard_demo import DEMO, seed

CHROMIUM = "/usr/bin/chromium"
KEY = "browser-test-key"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard"
XSS_PIPELINE = '<script>window.__xss = 1</script>'
XSS_MESSAGE = '"><img src=x onerror="window.__xss = 2; alert(1)"> and <script>alert(2)</script>'
NOW = datetime.now(UTC).replace(microsecond=0)

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (requirements-dev)")
pytestmark = [pytest.mark.e2e, pytest.mark.browser,
              pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK),
                                 reason=f"{CHROMIUM} is missing: `make browser` installs Debian's chromium")]


@pytest.fixture(scope="module")
def site(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    values = storage_values(azurite.connection_string, f"dash{os.getpid()}")
    svc = Services.from_settings(Settings.from_mapping(values))
    ids = seed(svc, NOW, rounds=3)
    hostile = Failure(source="airflow", platform="airflow", resource="https://airflow.example", pipeline=XSS_PIPELINE,
                      run_id="xss-1", message=XSS_MESSAGE, links={"run": "javascript:alert(3)"})
    xss_id = svc.incidents.record(hostile, "alert-xss", to_iso(NOW)).incident.id
    host = DevHostProcess(env={**values, "DEVHOST_FUNCTION_KEYS": KEY},
                          log_path=tmp_path_factory.mktemp("dash") / "devhost.log").start()
    yield {"url": host.url, "ids": ids, "xss_id": xss_id, "services": svc}
    host.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--no-first-run", "--disable-sync"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    tab = context.new_page()
    tab.dialogs = []  # type: ignore[attr-defined]
    tab.on("dialog", lambda d: (tab.dialogs.append(d.message), d.dismiss()))
    yield tab
    context.close()


def _rows(page: Any) -> list[str]:
    return [str(r.get_attribute("data-incident")) for r in page.locator("tr[data-incident]").all()]


def test_list_shows_the_incidents_newest_first(site: dict[str, Any], page: Any) -> None:
    page.goto(f"{site['url']}/api/dashboard?code={KEY}")
    ids = _rows(page)
    assert ids == [site["xss_id"], *site["ids"]]
    times = [page.locator(f"tr[data-incident='{i}']").get_attribute("data-first-seen") for i in ids]
    assert times == sorted(times, reverse=True)
    counts = {t.get_attribute("data-status"): int(t.locator(".count").inner_text())
              for t in page.locator(".tile").all()}
    assert sum(counts.values()) == len(ids) and counts["escalated"] == 3


@pytest.mark.parametrize(("field", "value"), [
    ("status", "resolved"), ("platform", "databricks"), ("source", "sweep"), ("category", None),
    ("retry_safe", "true"), ("pipeline", "INGEST"), ("team", "data platform"), ("owner", "ingestorders-owner"),
    ("from", "today"), ("to", "two days ago")])
def test_each_filter_narrows_the_list(site: dict[str, Any], page: Any, field: str, value: str | None) -> None:
    page.goto(f"{site['url']}/api/dashboard?code={KEY}")
    everything = _rows(page)
    if field == "category":
        value = page.locator("tr[data-incident]").nth(1).locator("td").nth(5).inner_text()
    if field == "from":
        value = NOW.strftime("%Y-%m-%d")
    if field == "to":
        value = (NOW - timedelta(days=2)).strftime("%Y-%m-%d")
    locator = page.locator(f"form.filters [name='{field}']")
    if locator.evaluate("e => e.tagName") == "SELECT":
        locator.select_option(value)
    else:
        locator.fill(str(value))
    page.locator("form.filters button[type=submit]").click()
    page.wait_for_load_state()
    narrowed = _rows(page)
    assert 0 < len(narrowed) < len(everything), (field, value)
    assert set(narrowed) <= set(everything)
    if field == "status":
        assert {b.inner_text() for b in page.locator("tr[data-incident] .badge").all()} == {"resolved"}


def test_incident_page_shows_error_verdict_links_and_timeline(site: dict[str, Any], page: Any) -> None:
    page.goto(f"{site['url']}/api/dashboard?code={KEY}")
    adf_row = page.locator("tr[data-incident]", has_text="IngestOrders").first
    adf_row.locator("a.incident-link").click()
    page.wait_for_load_state()
    assert "code=" in page.url  # the key travelled with the link (added by the page's script, not rendered)
    assert "ErrorCode=" in page.locator("#error pre.message").inner_text()
    assert page.locator("#verdict dd").count() >= 4
    run_link = page.locator("#where ul.links a")
    assert run_link.get_attribute("href").startswith("https://adf.azure.com/")
    assert run_link.get_attribute("rel") == "noopener noreferrer"
    assert page.locator("#timeline li[data-action='incident_created']").count() == 1
    status, _, served = http("GET", page.url)  # as the server sent it (the live DOM has the script's links)
    assert status == 200 and KEY not in served  # the function key is never rendered by the server


def test_acknowledge_and_resolve_change_status_and_audit(site: dict[str, Any], page: Any) -> None:
    target = site["ids"][len(DEMO) - 1]  # the newest "open" demo incident of the first round
    page.goto(f"{site['url']}/api/dashboard/incidents/{target}?code={KEY}")
    page.locator("#actor").fill("dana")
    page.locator("#actor").dispatch_event("change")
    page.locator("form.action[data-action='acknowledge'] button").click()
    page.wait_for_selector(".ack")
    assert "acknowledged by dana" in page.locator(".ack").inner_text()
    assert page.locator("#timeline li[data-action='incident_acknowledged']").count() == 1
    page.locator("form.action[data-action='resolve'] input[name='reason']").fill("restarted the API")
    page.locator("form.action[data-action='resolve'] button").click()
    page.wait_for_selector("p .badge-resolved")
    assert page.locator("#timeline li[data-action='incident_resolved']").inner_text().endswith("restarted the API")
    incident = site["services"].incidents.get(target)
    assert incident.status == "resolved" and incident.resolved_by == "dana"


def test_trends_charts_render_with_data(site: dict[str, Any], page: Any) -> None:
    page.goto(f"{site['url']}/api/dashboard/trends?code={KEY}")
    charts = page.locator("figure.chart")
    names = [c.get_attribute("data-chart") for c in charts.all()]
    assert names == ["by-category", "by-pipeline", "opened-vs-auto", "mttr", "signatures"]
    for name in names:
        bars = page.locator(f"figure[data-chart='{name}'] rect.bar")
        assert bars.count() > 0, name
        assert any(float(b.get_attribute("data-value")) > 0 for b in bars.all()), name
        assert max(b.bounding_box()["height"] for b in bars.all()) > 2, name  # drawn, not just in the DOM
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "trends.png"), full_page=True)
    page.goto(f"{site['url']}/api/dashboard/health?code={KEY}")
    assert page.locator("tr[data-check='storage'] .ok").count() == 1
    assert "rules" in page.locator("tr[data-check='llm']").inner_text()
    page.screenshot(path=str(ARTIFACTS / "health.png"), full_page=True)


def test_hostile_pipeline_and_error_render_as_text(site: dict[str, Any], page: Any) -> None:
    page.goto(f"{site['url']}/api/dashboard?code={KEY}")
    row = page.locator(f"tr[data-incident='{site['xss_id']}']")
    assert row.locator("a.incident-link").inner_text() == XSS_PIPELINE
    assert XSS_MESSAGE[:40] in row.locator("td.error").inner_text()
    row.locator("a.incident-link").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text().startswith(XSS_PIPELINE)
    assert page.locator("#error pre.message").inner_text() == XSS_MESSAGE
    assert page.locator("img").count() == 0 and page.locator("#where ul.links a").count() == 0
    page.screenshot(path=str(ARTIFACTS / "hostile-incident.png"), full_page=True)
    assert page.evaluate("() => window.__xss") is None
    assert page.dialogs == []
