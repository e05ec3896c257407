"""HTTP actions a person takes on an incident: acknowledge and resolve (approve / reject live with remediation).

Who acted: App Service authentication's `X-MS-CLIENT-PRINCIPAL-NAME` header when the app sits behind it, else the
`by` field of the JSON body (function keys identify no person). Every action goes through the lifecycle
(shared.transitions), so it is audited and published like any other state change.
"""

from __future__ import annotations

import json
from typing import Any

import azure.functions as func

from orchestration.api import incident_view, json_response, read_storage, unknown_key
from orchestration.runtime import Services
from shared.lifecycle import Event, Resolution, TransitionError

MAX_TEXT = 500
PRINCIPAL_HEADER = "X-MS-CLIENT-PRINCIPAL-NAME"


class BadRequest(ValueError):
    def __init__(self, error: str, detail: str) -> None:
        super().__init__(detail)
        self.error = error


def error(status: int, code: str, detail: str) -> func.HttpResponse:
    return json_response(status, {"error": code, "detail": detail})


def action_body(req: func.HttpRequest, *, reason_required: bool) -> tuple[str, str]:
    """(actor, reason) from the request; BadRequest when they are missing or malformed."""
    raw = req.get_body() or b"{}"
    if len(raw) > 16_384:
        raise BadRequest("body_too_large", "the action body is limited to 16 KB")
    try:
        data: Any = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("invalid_json", "the body must be a JSON object") from exc
    if not isinstance(data, dict):
        raise BadRequest("invalid_json", "the body must be a JSON object")
    actor = (req.headers.get(PRINCIPAL_HEADER) or "").strip() or data.get("by")
    reason = data.get("reason") or ""
    if not isinstance(actor, str) or not actor.strip():
        raise BadRequest("missing_actor", "say who acts: a non-empty \"by\" field (or sign in via App Service auth)")
    if not isinstance(reason, str):
        raise BadRequest("invalid_reason", "\"reason\" must be a string")
    if reason_required and not reason.strip():
        raise BadRequest("missing_reason", "say why: a non-empty \"reason\" field")
    return actor.strip()[:MAX_TEXT], reason.strip()[:MAX_TEXT]


def apply_action(req: func.HttpRequest, event: Event, *, reason_required: bool,
                 default_reason: str, **kwargs: Any) -> func.HttpResponse:
    incident_id = req.route_params.get("id", "")
    if refused := unknown_key("incident", incident_id):
        return refused
    try:
        actor, reason = action_body(req, reason_required=reason_required)
    except BadRequest as exc:
        return error(400, exc.error, str(exc))

    def act(svc: Services) -> func.HttpResponse:
        try:
            done = svc.lifecycle.apply(incident_id, event, actor=actor, reason=reason or default_reason,
                                       details={"via": "api"}, **kwargs)
        except TransitionError as exc:
            return error(409, "conflict", str(exc))
        if done is None:
            return error(404, "not_found", f"no incident {incident_id!r}")
        return json_response(200, incident_view(done.incident))

    return read_storage(act)


def acknowledge(req: func.HttpRequest) -> func.HttpResponse:
    return apply_action(req, Event.ACKNOWLEDGED, reason_required=False, default_reason="acknowledged")


def resolve(req: func.HttpRequest) -> func.HttpResponse:
    return apply_action(req, Event.RESOLVED, reason_required=True, default_reason="",
                        resolution=Resolution.BY_HAND.value)
