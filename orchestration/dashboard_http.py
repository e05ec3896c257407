"""HTTP glue for the dashboard (issue 11): reads the stores, hands plain data to dashboard/ for HTML, checks CSRF
before an action and then calls the same action handlers as the JSON API (orchestration.actions).

Every route here has the FUNCTION auth level, like the read API, except the static assets (no data in them).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import azure.functions as func
from azure.core.exceptions import AzureError

from dashboard import csrf, listing, pages
from dashboard.html import headers as page_headers
from orchestration import actions
from orchestration import remediation as remediation_http
from orchestration.api import json_response, read_storage
from orchestration.runtime import Services
from orchestration.sweep import WATERMARK_PARTITION

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent.parent / "dashboard" / "static"
ASSET_TYPES = {"dashboard.css": "text/css", "dashboard.js": "text/javascript"}
ACTIONS = ("acknowledge", "resolve", "approve", "reject")


def _error(status: int, code: str, detail: str) -> func.HttpResponse:
    return json_response(status, {"error": code, "detail": detail})


def _html(body: str, set_cookie: str | None = None, status: int = 200) -> func.HttpResponse:
    return func.HttpResponse(body, status_code=status, headers=page_headers(set_cookie), mimetype="text/html",
                             charset="utf-8")


def _refresh(svc: Services) -> int:
    return max(0, svc.settings.int_setting("DASHBOARD_REFRESH_SECONDS"))


def _read_model(svc: Services) -> tuple[Any, Any]:
    if svc.index is None or svc.stats is None:
        raise RuntimeError("the read model is not configured")
    return svc.index, svc.stats


def list_page(req: func.HttpRequest) -> func.HttpResponse:
    def query(svc: Services) -> func.HttpResponse:
        index, stats = _read_model(svc)
        try:
            page = listing.list_page(index, req.params)
        except listing.BadQuery as exc:
            return _error(400, exc.error, str(exc))
        return _html(pages.list_page(page.items, req.params, stats.status_counts(), page.continuation,
                                     _refresh(svc)))

    return read_storage(query)


def _storable_key(value: str) -> bool:
    """Table Storage refuses keys with / \\ # ? or control characters (a 400 that would read as "storage down")."""
    return 0 < len(value) <= 512 and not any(c in "/\\#?" or ord(c) < 32 or 127 <= ord(c) < 160 for c in value)


def incident_page(req: func.HttpRequest) -> func.HttpResponse:
    incident_id = req.route_params.get("id", "")
    token, cookie = csrf.session_token(req.headers)

    def query(svc: Services) -> func.HttpResponse:
        incident = svc.incidents.get(incident_id) if _storable_key(incident_id) else None
        if incident is None:
            return _html(pages.page_not_found(incident_id), status=404)
        return _html(pages.incident_page(incident, svc.audit.trail(incident_id), token), cookie)

    return read_storage(query)


def trends_page(req: func.HttpRequest) -> func.HttpResponse:
    def query(svc: Services) -> func.HttpResponse:
        _, stats = _read_model(svc)
        trends = listing.trends(stats, svc.settings.int_setting("DASHBOARD_TREND_DAYS"))
        if req.params.get("format") == "json":
            return json_response(200, trends.to_api())
        return _html(pages.trends_page(trends))

    return read_storage(query)


def health_report(svc: Services) -> dict[str, Any]:
    ok, detail = svc.storage.healthy()
    report: dict[str, Any] = {"storage": {"ok": ok, "detail": detail}}
    queues: dict[str, Any] = {}
    for name in svc.settings.queues():
        try:
            queues[name] = svc.storage.queue(name).get_queue_properties().approximate_message_count
        except AzureError as exc:
            queues[name] = f"unreadable ({type(exc).__name__})"
    poison = sum(v for k, v in queues.items() if k.endswith("-poison") and isinstance(v, int))
    report["queues"] = {"ok": poison == 0, "poison_messages": poison, "depth": queues}
    sweeps = []
    state = svc.storage.table(svc.settings.state_table)
    for e in state.query_entities(f"PartitionKey eq '{WATERMARK_PARTITION}'"):
        sweeps.append({"target": e.get("target"), "watermark": e.get("watermark"), "last_run": e.get("updated_at")})
    report["sweep"] = {"schedule": svc.settings.get("SWEEP_SCHEDULE"), "targets": sweeps or "no sweep has run yet"}
    s = svc.settings
    flavour = "azure-openai" if s.get("AZURE_OPENAI_ENDPOINT") else ("openai" if s.get("OPENAI_BASE_URL") else "none")
    report["llm"] = {"mode": s.get("ANALYSIS_MODE"), "endpoint": flavour, "model": s.get("OPENAI_MODEL")
                     if flavour != "none" else None}
    return report


def health_page(req: func.HttpRequest) -> func.HttpResponse:
    def query(svc: Services) -> func.HttpResponse:
        report = health_report(svc)
        if req.params.get("format") == "json":
            return json_response(200, report)
        return _html(pages.health_page(report, _refresh(svc)))

    return read_storage(query)


def asset(req: func.HttpRequest) -> func.HttpResponse:
    name = req.route_params.get("name", "")
    if name not in ASSET_TYPES:
        return _error(404, "not_found", "no such asset")
    return func.HttpResponse((STATIC / name).read_bytes(), mimetype=ASSET_TYPES[name], charset="utf-8",
                             headers={"Cache-Control": "max-age=300", "X-Content-Type-Options": "nosniff"})


HANDLERS: dict[str, Callable[[func.HttpRequest], func.HttpResponse]] = {
    "acknowledge": actions.acknowledge, "resolve": actions.resolve,
    "approve": remediation_http.approve, "reject": remediation_http.reject,
}


def _handler(action: str) -> Callable[[func.HttpRequest], func.HttpResponse] | None:
    return HANDLERS.get(action)


def action(req: func.HttpRequest) -> func.HttpResponse:
    name = req.route_params.get("action", "")
    handler = _handler(name) if name in ACTIONS else None
    if handler is None:
        return _error(404, "not_found", f"no action {name!r}")
    host = req.headers.get("host") or ""
    refused = csrf.check(req.headers, host, req.headers.get(csrf.HEADER) or "")
    if refused:
        log.warning("dashboard %s refused: %s", name, refused)
        return _error(403, "csrf", refused)
    media_type = (req.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        return _error(415, "unsupported_media_type", "send the action as application/json")
    forwarded = func.HttpRequest("POST", req.url, headers=dict(req.headers.items()), params={},
                                 route_params={"id": req.route_params.get("id", "")}, body=req.get_body())
    return handler(forwarded)
