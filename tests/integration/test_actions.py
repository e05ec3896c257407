"""Acknowledge and resolve over the HTTP handlers: who and why recorded, 400 / 404 / 409 on bad requests."""

from __future__ import annotations

import json
from typing import Any

import azure.functions as func
import pytest

from orchestration import actions
from orchestration.runtime import Services
from shared.models import AuditAction, Failure
from shared.timeutil import utc_now_iso


@pytest.fixture
def incident_id(services: Services, monkeypatch: pytest.MonkeyPatch) -> str:
    # The handlers use the process-wide services; point it at this test's storage (test wiring, not the code).
    import orchestration.runtime as runtime
    monkeypatch.setattr(runtime, "_services", services)
    failure = Failure(source="airflow", platform="airflow", resource="https://airflow.example", pipeline="dag",
                      run_id="r1", message="boom")
    return services.incidents.record(failure, "alert-1", utc_now_iso()).incident.id


def call(handler: Any, incident_id: str, body: Any, headers: dict[str, str] | None = None) -> func.HttpResponse:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = func.HttpRequest("POST", f"/api/incidents/{incident_id}/x", body=raw, headers=headers or {},
                           route_params={"id": incident_id})
    response: func.HttpResponse = handler(req)
    return response


def test_acknowledge_then_resolve_records_who_and_why(services: Services, incident_id: str) -> None:
    response = call(actions.acknowledge, incident_id, {"by": "alice"})
    assert response.status_code == 200
    assert json.loads(response.get_body())["acknowledged_by"] == "alice"
    response = call(actions.resolve, incident_id, {"reason": "fixed the credential"},
                    {actions.PRINCIPAL_HEADER: "bob@contoso.com"})
    body = json.loads(response.get_body())
    assert response.status_code == 200 and body["status"] == "resolved" and body["resolution"] == "by_hand"
    assert body["resolved_by"] == "bob@contoso.com"
    trail = {e.action: e for e in services.audit.trail(incident_id)}
    assert trail[AuditAction.INCIDENT_RESOLVED].reason == "fixed the credential"
    assert trail[AuditAction.INCIDENT_ACKNOWLEDGED].actor == "alice"
    # Resolving twice is a conflict, not a silent success.
    assert call(actions.resolve, incident_id, {"by": "carol", "reason": "again"}).status_code == 409


@pytest.mark.parametrize("body,error", [
    (b"not json", "invalid_json"), ([1, 2], "invalid_json"), ({"reason": "x"}, "missing_actor"),
    ({"by": "  "}, "missing_actor"), ({"by": "dave"}, "missing_reason"),
    ({"by": "dave", "reason": 5}, "invalid_reason"),
])
def test_bad_bodies_get_400(incident_id: str, body: Any, error: str) -> None:
    response = call(actions.resolve, incident_id, body)
    assert response.status_code == 400 and json.loads(response.get_body())["error"] == error


def test_unknown_incident_is_404(incident_id: str) -> None:
    assert call(actions.acknowledge, "nope", {"by": "erin"}).status_code == 404
