"""Pure parts of the dashboard: CSRF decisions, link and secret hygiene, query parsing, chart output."""

from __future__ import annotations

import pytest

from dashboard import charts, csrf, html
from dashboard.listing import BadQuery, parse_query


def test_csrf_needs_matching_cookie_and_token_from_the_same_origin() -> None:
    token, cookie = csrf.session_token({})
    assert cookie is not None and "SameSite=Strict" in cookie
    jar = {"Cookie": f"{csrf.COOKIE}={token}", "Host": "app.example"}
    assert csrf.check(jar, "app.example", token) is None
    assert csrf.check({**jar, "Origin": "https://app.example"}, "app.example", token) is None
    assert csrf.check(jar, "app.example", "") is not None
    assert csrf.check(jar, "app.example", token[:-1] + ("A" if token[-1] != "A" else "B")) is not None
    assert csrf.check({"Host": "app.example"}, "app.example", token) is not None
    assert csrf.check({**jar, "Origin": "https://evil.example"}, "app.example", token) is not None
    assert csrf.check({**jar, "Origin": "null"}, "app.example", token) is not None
    assert csrf.check({**jar, "Sec-Fetch-Site": "cross-site"}, "app.example", token) is not None
    assert csrf.session_token(jar) == (token, None)  # an existing session keeps its token


def test_only_http_links_and_no_secret_properties() -> None:
    assert html.link("javascript:alert(1)", "x") == "x"
    assert html.link("https://adf.azure.com/run?a=1&b=\"2\"", "<run>") == (
        '<a href="https://adf.azure.com/run?a=1&amp;b=&quot;2&quot;" target="_blank" rel="noopener noreferrer">'
        "&lt;run&gt;</a>")
    shown = html.json_block({"state": "waiting_approval", "approval_url": "https://x/approve?sig=abc",
                             "ticket": {"key": "OPS-1", "api_token": "t0ps3cret"}, "note": "password=hunter2"})
    assert "approval_url" not in shown and "t0ps3cret" not in shown and "hunter2" not in shown
    assert "OPS-1" in shown and "waiting_approval" in shown


def test_query_parsing_validates_and_maps_to_keys() -> None:
    query, limit = parse_query({"pipeline": "Ingest", "retry_safe": "true", "to": "2026-12-01", "limit": "20"})
    assert limit == 20 and query.retry_safe is True and query.first_to.startswith("2026-12-01T23:59:59.999")
    odata = query.odata()
    assert "pipeline_lc ge 'ingest' and pipeline_lc lt 'ingesu'" in odata and "PartitionKey ge" in odata
    for bad in ({"status": "done"}, {"retry_safe": "maybe"}, {"limit": "0"}, {"from": "yesterday"}):
        with pytest.raises(BadQuery):
            parse_query(bad)
    assert "''" in parse_query({"owner": "o'brien"})[0].odata()  # quotes are doubled, not injected


def test_charts_escape_labels_and_draw_one_bar_per_value() -> None:
    svg = charts.stacked_bars("c", "t", ["2026-12-01", "2026-12-02"], {"<b>x</b>": [1, 0], "y": [2, 3]})
    assert svg.count('class="bar"') == 3 and "<b>" not in svg and "&lt;b&gt;" in svg
