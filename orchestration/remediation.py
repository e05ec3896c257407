"""HTTP and queue edges of remediation: approve / reject (function key), the signed approval link (no key),
the learning figures, and the REMEDIATION_QUEUE trigger body. Logic lives in remediation/."""

from __future__ import annotations

import html
import logging
from typing import Any
from urllib.parse import parse_qs

import azure.functions as func

from orchestration.actions import PRINCIPAL_HEADER, BadRequest, action_body, error
from orchestration.api import incident_view, json_response, read_storage, unknown_key
from orchestration.runtime import Services, services
from remediation import steps
from remediation.approval import TokenError, verify
from remediation.service import RemediationService
from shared.lifecycle import TransitionError
from shared.timeutil import utc_now

log = logging.getLogger(__name__)


def _service(svc: Services) -> RemediationService:
    assert svc.remediation is not None
    return svc.remediation


def _decide(req: func.HttpRequest, approve: bool) -> func.HttpResponse:
    incident_id = req.route_params.get("id", "")
    if refused := unknown_key("incident", incident_id):
        return refused
    try:
        actor, reason = action_body(req, reason_required=not approve)
    except BadRequest as exc:
        return error(400, exc.error, str(exc))

    def act(svc: Services) -> func.HttpResponse:
        service = _service(svc)
        try:
            done = (service.approve if approve else service.reject)(incident_id, actor, reason or "approved")
        except TransitionError as exc:
            return error(409, "conflict", str(exc))
        if done is None:
            if svc.incidents.get(incident_id) is None:
                return error(404, "not_found", f"no incident {incident_id!r}")
            return error(409, "no_waiting_plan", "no remediation plan of this incident waits for approval")
        return json_response(200, incident_view(done.incident))

    return read_storage(act)


def approve(req: func.HttpRequest) -> func.HttpResponse:
    return _decide(req, approve=True)


def reject(req: func.HttpRequest) -> func.HttpResponse:
    return _decide(req, approve=False)


def _page(status: int, title: str, body: str) -> func.HttpResponse:
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<meta name='robots' content='noindex'></head><body><h1>{html.escape(title)}</h1>{body}</body></html>")
    return func.HttpResponse(page, status_code=status, mimetype="text/html",
                             headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


def _token(req: func.HttpRequest) -> str:
    if req.method == "POST":
        raw = (req.get_body() or b"")[:8192].decode("utf-8", errors="replace")
        return (parse_qs(raw).get("token") or [""])[0]
    return str(req.params.get("token") or "")


def approval_link(req: func.HttpRequest) -> func.HttpResponse:
    """GET shows what would be approved and a button (link unfurlers only GET); POST approves, once."""
    token = _token(req)

    def act(svc: Services) -> func.HttpResponse:
        try:
            claim = verify(svc.settings.get("REMEDIATION_APPROVAL_SECRET"), token, utc_now())
        except TokenError as exc:
            return _page(403, "Approval link not valid", f"<p>{html.escape(str(exc))}</p>")
        incident = svc.incidents.get(claim.incident_id)
        rem: dict[str, Any] = (incident.remediation or {}) if incident else {}
        if incident is None or rem.get("plan_id") != claim.plan_id or rem.get("state") != "waiting_approval":
            return _page(410, "Nothing to approve", "<p>This plan was already approved, rejected, expired or "
                         "replaced. The link works once.</p>")
        what = (f"<p>Incident <code>{html.escape(incident.id)}</code>: {html.escape(incident.platform)} "
                f"{html.escape(incident.pipeline or '')} run {html.escape(incident.run_id or '-')}</p>"
                f"<p>{html.escape(str(rem.get('reason', '')))}</p>")
        if req.method != "POST":
            return _page(200, "Approve remediation?", what + "<form method='post'><input type='hidden' name='token' "
                         f"value='{html.escape(token, quote=True)}'><button type='submit'>Approve</button></form>")
        try:
            # The link identifies no person; App Service authentication does, when the app sits behind it.
            actor = (req.headers.get(PRINCIPAL_HEADER) or "").strip()[:200] or "approval link"
            done = _service(svc).approve(incident.id, actor, "approved through the signed link",
                                         plan_id=claim.plan_id)
        except TransitionError as exc:
            return _page(409, "Cannot approve", f"<p>{html.escape(str(exc))}</p>")
        if done is None:
            return _page(410, "Nothing to approve", "<p>This plan is no longer waiting. The link works once.</p>")
        return _page(200, "Approved", what + "<p>The action was started.</p>")

    return read_storage(act)


def stats(req: func.HttpRequest) -> func.HttpResponse:
    def query(svc: Services) -> func.HttpResponse:
        return json_response(200, {"items": _service(svc).store.all_stats()})

    return read_storage(query)


def process_step(msg: func.QueueMessage) -> None:
    """REMEDIATION_QUEUE trigger body. Raises to let the host retry (then `<queue>-poison`)."""
    svc = services()
    svc.ensure_ready()
    outcome = steps.handle(_service(svc), msg.get_body())
    log.info("remediation step: %s", outcome)
