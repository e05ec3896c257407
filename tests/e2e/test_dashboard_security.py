"""Dashboard security over HTTP through the local host with function keys enforced: 401 without a key on every
page and JSON route but health, the key accepted as ?code= or x-functions-key, CSRF on the dashboard's buttons."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestration.runtime import Services
from shared.models import Failure
from shared.timeutil import utc_now_iso
from tests.conftest import http
from tests.support.azurite import DevHostProcess

pytestmark = pytest.mark.e2e
KEY = "sec-test-key"
GETS = ["/api/dashboard", "/api/dashboard/incidents/{id}", "/api/dashboard/trends", "/api/dashboard/health",
        "/api/dashboard/trends?format=json", "/api/dashboard/health?format=json", "/api/incidents",
        "/api/incidents/{id}", "/api/alerts/nope"]
POSTS = ["/api/dashboard/incidents/{id}/acknowledge", "/api/dashboard/incidents/{id}/resolve",
         "/api/incidents/{id}/acknowledge", "/api/incidents/{id}/resolve"]


@pytest.fixture
def keyed(app_values: dict[str, str], services: Services, tmp_path: Path) -> Iterator[tuple[str, str]]:
    failure = Failure(source="airflow", platform="airflow", resource="https://airflow.example", pipeline="dag",
                      run_id="r1", message="boom")
    incident_id = services.incidents.record(failure, "alert-1", utc_now_iso()).incident.id
    host = DevHostProcess(env={**app_values, "DEVHOST_FUNCTION_KEYS": f"other,{KEY}"},
                          log_path=tmp_path / "devhost.log").start()
    yield host.url, incident_id
    host.stop()


def test_without_a_key_everything_but_health_is_401(keyed: tuple[str, str]) -> None:
    url, incident_id = keyed
    for path in GETS:
        status, _, _ = http("GET", url + path.format(id=incident_id))
        assert status == 401, path
        status, _, _ = http("GET", url + path.format(id=incident_id), headers={"x-functions-key": "wrong"})
        assert status == 401, path
    for path in POSTS:
        status, _, _ = http("POST", url + path.format(id=incident_id), {"by": "mallory", "reason": "x"})
        assert status == 401, path
    assert http("GET", f"{url}/api/health")[0] == 200
    assert http("GET", f"{url}/api/dashboard/assets/dashboard.js")[0] == 200
    for path in GETS[:-1]:
        sep = "&" if "?" in path else "?"
        assert http("GET", url + path.format(id=incident_id) + f"{sep}code={KEY}")[0] == 200, path
        assert http("GET", url + path.format(id=incident_id), headers={"x-functions-key": KEY})[0] == 200, path


def _session(url: str, incident_id: str) -> tuple[str, str]:
    status, headers, page = http("GET", f"{url}/api/dashboard/incidents/{incident_id}?code={KEY}")
    assert status == 200
    cookie = next(v for k, v in headers.items() if k.lower() == "set-cookie")
    assert "SameSite=Strict" in cookie and "HttpOnly" in cookie
    match = re.search(r'<meta name="csrf-token" content="([^"]+)">', page)
    assert match is not None
    return cookie.split(";", 1)[0], match.group(1)


def test_dashboard_actions_need_the_session_token_and_same_origin(keyed: tuple[str, str]) -> None:
    url, incident_id = keyed
    cookie, token = _session(url, incident_id)
    action = f"{url}/api/dashboard/incidents/{incident_id}/acknowledge?code={KEY}"
    body = {"by": "dana"}
    json_type = {"Content-Type": "application/json"}
    refused = [
        {**json_type},  # a cross-site form or fetch: no cookie, no token
        {**json_type, "Cookie": cookie},  # the browser sent the cookie but the page could not read the token
        {**json_type, "Cookie": cookie, "X-CSRF-Token": "x" * 43},
        {**json_type, "Cookie": cookie, "X-CSRF-Token": token, "Origin": "http://evil.example"},
        {**json_type, "Cookie": cookie, "X-CSRF-Token": token, "Sec-Fetch-Site": "cross-site"},
    ]
    for headers in refused:
        status, _, answer = http("POST", action, body, headers)
        assert status == 403 and answer["error"] == "csrf", headers
    status, _, incident = http("GET", f"{url}/api/incidents/{incident_id}?code={KEY}")
    assert incident["acknowledged_at"] is None and not any(a["action"] == "incident_acknowledged"
                                                           for a in incident["audit"])
    origin = url
    status, _, answer = http("POST", action, body, {**json_type, "Cookie": cookie, "X-CSRF-Token": token,
                                                   "Origin": origin, "Sec-Fetch-Site": "same-origin"})
    assert status == 200 and answer["acknowledged_by"] == "dana"
    status, _, answer = http("POST", f"{url}/api/dashboard/incidents/{incident_id}/launch?code={KEY}", body,
                             {**json_type, "Cookie": cookie, "X-CSRF-Token": token})
    assert status == 404


def test_an_id_table_storage_cannot_hold_is_404_not_503(keyed: tuple[str, str]) -> None:
    url, _ = keyed
    for raw in ("a%2Fb", "a%5Cb", "a%3Fb", "%7F"):
        status, _, _ = http("GET", f"{url}/api/dashboard/incidents/{raw}?code={KEY}")
        assert status == 404, raw


def test_a_post_that_is_not_json_is_refused_even_with_the_token(keyed: tuple[str, str]) -> None:
    url, incident_id = keyed
    cookie, token = _session(url, incident_id)
    action = f"{url}/api/dashboard/incidents/{incident_id}/acknowledge?code={KEY}"
    for content_type in ("text/plain; application/json", "application/x-www-form-urlencoded; x=application/json"):
        status, _, _ = http("POST", action, b'{"by": "dana"}', {"Content-Type": content_type, "Cookie": cookie,
                                                                "X-CSRF-Token": token, "Origin": url})
        assert status == 415, content_type
