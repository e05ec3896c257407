"""Approval over the HTTP handlers: approve / reject with who and why, the signed link (once, expiry, tampering),
and a plan that waits past its expiry is escalated."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import azure.functions as func
import pytest

from orchestration import remediation as remediation_api
from shared.lifecycle import PlanState
from tests.integration.remediation.conftest import TRANSIENT, Env

SECRET = "test-approval-secret-0123456789"


@pytest.fixture
def env(make_env: Callable[..., Env], monkeypatch: pytest.MonkeyPatch) -> Env:
    built = make_env(REMEDIATION_APPROVAL_SECRET=SECRET, PUBLIC_BASE_URL="https://incidents.example")
    # The handlers use the process-wide services; point it at this test's storage (test wiring, not the code).
    import orchestration.runtime as runtime
    monkeypatch.setattr(runtime, "_services", built.services)
    return built


def post(handler: Any, incident_id: str, body: dict[str, Any]) -> func.HttpResponse:
    req = func.HttpRequest("POST", f"/api/incidents/{incident_id}/x", body=json.dumps(body).encode(),
                           route_params={"id": incident_id})
    response: func.HttpResponse = handler(req)
    return response


def link(method: str, token: str) -> func.HttpResponse:
    body = f"token={token}".encode() if method == "POST" else b""
    req = func.HttpRequest(method, "/api/remediation/approval", body=body,
                           params={} if method == "POST" else {"token": token})
    response: func.HttpResponse = remediation_api.approval_link(req)
    return response


def token_of(env: Env, incident_id: str) -> str:
    url = (env.incident(incident_id).remediation or {})["approval_url"]
    assert url.startswith("https://incidents.example/api/remediation/approval?token=")
    return parse_qs(urlsplit(url).query)["token"][0]


def test_approve_through_the_api_starts_the_action(env: Env) -> None:
    incident_id = env.fail("Orders", TRANSIENT)  # not declared idempotent: waits for approval
    assert (env.incident(incident_id).remediation or {})["state"] == PlanState.WAITING_APPROVAL
    assert post(remediation_api.approve, incident_id, {"reason": "go"}).status_code == 400  # who?
    response = post(remediation_api.approve, incident_id, {"by": "alice", "reason": "safe to reload"})
    assert response.status_code == 200
    env.drain(lambda: env.incident(incident_id).status == "resolved")
    assert env.sim.counts["createRun"] == 1
    assert (env.incident(incident_id).remediation or {})["approved_by"] == "alice"
    assert post(remediation_api.approve, incident_id, {"by": "bob"}).status_code == 409
    assert post(remediation_api.approve, "nope", {"by": "bob"}).status_code == 404
    assert post(remediation_api.reject, "a/b", {"by": "bob", "reason": "x"}).status_code == 404  # not a 503


def test_reject_needs_a_reason_and_stops_the_plan(env: Env) -> None:
    incident_id = env.fail("Orders", TRANSIENT)
    assert post(remediation_api.reject, incident_id, {"by": "carol"}).status_code == 400
    assert post(remediation_api.reject, incident_id, {"by": "carol", "reason": "month-end"}).status_code == 200
    assert (env.incident(incident_id).remediation or {})["state"] == PlanState.REJECTED
    assert env.sim.counts["createRun"] == 0


def test_the_signed_link_confirms_on_get_and_approves_once_on_post(env: Env) -> None:
    incident_id = env.fail("Orders", TRANSIENT)
    token = token_of(env, incident_id)
    page = link("GET", token)  # what a link unfurler does: shows a page, approves nothing
    assert page.status_code == 200 and b"<form method='post'>" in page.get_body()
    assert (env.incident(incident_id).remediation or {})["state"] == PlanState.WAITING_APPROVAL
    body, mac = token.split(".")
    assert link("POST", body[:-1] + ("A" if body[-1] != "A" else "B") + "." + mac).status_code == 403
    assert link("POST", token).status_code == 200
    assert link("POST", token).status_code == 410  # once
    env.drain(lambda: env.incident(incident_id).status == "resolved")
    assert env.sim.counts["createRun"] == 1


def test_an_expired_link_is_refused_and_the_waiting_plan_is_escalated(make_env: Callable[..., Env],
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    env = make_env(REMEDIATION_APPROVAL_SECRET=SECRET, PUBLIC_BASE_URL="https://incidents.example",
                   REMEDIATION_APPROVAL_EXPIRY_MINUTES="0")
    import orchestration.runtime as runtime
    monkeypatch.setattr(runtime, "_services", env.services)
    incident_id = env.fail("Orders", TRANSIENT)
    response = link("POST", token_of(env, incident_id))
    assert response.status_code == 403 and b"expired" in response.get_body()
    env.drain(lambda: env.incident(incident_id).status == "escalated")
    assert "past its expiry" in (env.incident(incident_id).remediation or {})["reason"]
    assert env.sim.counts["createRun"] == 0


def test_stats_api_lists_the_learning_figures(env: Env) -> None:
    incident_id = env.fail()
    env.drain(lambda: env.incident(incident_id).status == "resolved")
    response = remediation_api.stats(func.HttpRequest("GET", "/api/remediation/stats", body=b""))
    rows = json.loads(response.get_body())["items"]
    assert {r["kind"] for r in rows} == {"signature", "pipeline"}
    assert all(r["attempts"] == 1 and r["successes"] == 1 for r in rows)
