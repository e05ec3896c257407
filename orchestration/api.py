"""HTTP edge: func.HttpRequest in, func.HttpResponse out. Each handler is a thin adapter
over ingest / the stores; function_app.py only routes to these."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import azure.functions as func
from azure.core.exceptions import AzureError

from analysis.view import seed_fields
from orchestration import ingest, processing
from orchestration.runtime import Services, request_services, services
from shared.hostconfig import max_dequeue_count
from shared.incidents import FILTERABLE
from shared.keys import impossible_key_reason
from shared.lifecycle import IncidentStatus
from shared.models import Incident, Platform, Source
from shared.timeutil import parse_iso, to_iso

log = logging.getLogger(__name__)
DEFAULT_PAGE = 50
MAX_PAGE = 1000
# Filters whose values are a closed set: anything else is a typo that would silently match nothing.
ALLOWED_FILTER_VALUES: dict[str, tuple[str, ...]] = {
    "status": tuple(s.value for s in IncidentStatus),
    "source": tuple(s.value for s in Source),
    "platform": tuple(p.value for p in Platform),
}
MAX_FILTER_LENGTH = 1024


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body, default=str), status_code=status, headers=headers or {},
                             mimetype="application/json")


def _error(status: int, error: str, detail: str, headers: dict[str, str] | None = None) -> func.HttpResponse:
    return json_response(status, {"error": error, "detail": detail}, headers)


def _unavailable(exc: Exception) -> func.HttpResponse:
    log.warning("storage unavailable: %s", type(exc).__name__)
    return _error(503, "storage_unavailable", f"storage is not reachable ({type(exc).__name__}); retry later",
                  {"Retry-After": str(ingest.RETRY_AFTER_S)})


def _services_or_503() -> Services | func.HttpResponse:
    try:
        return request_services()
    except ValueError as exc:  # storage not configured
        return _error(503, "storage_not_configured", str(exc), {"Retry-After": str(ingest.RETRY_AFTER_S)})


def incident_view(incident: Incident) -> dict[str, Any]:
    """The incident as the API returns it, with the seed-000 analysis fields derived from verdict + analysis."""
    body = incident.to_api()
    body["analysis_fields"] = seed_fields(incident.verdict, incident.analysis) if incident.verdict else None
    return body


def receive_alert(source: str, req: func.HttpRequest) -> func.HttpResponse:
    svc = _services_or_503()
    if isinstance(svc, func.HttpResponse):
        return svc
    try:
        result = ingest.accept(svc, source, req.get_body())
    except Exception:
        # A 500 is never retried by Action Groups and the alert would be lost; 503 is retried.
        log.exception("ingest of a %s alert failed unexpectedly", source)
        return _error(503, "ingest_failed", "the alert could not be accepted; retry later",
                      {"Retry-After": str(ingest.RETRY_AFTER_S)})
    if result.status == 202:
        log.info("accepted %s alert %s", source, result.body["id"])
    return json_response(result.status, result.body, result.headers)


def read_storage(query: Callable[[Services], func.HttpResponse]) -> func.HttpResponse:
    """Run a read against storage: 503 when storage is not configured or not reachable."""
    svc = _services_or_503()
    if isinstance(svc, func.HttpResponse):
        return svc
    try:
        svc.ensure_ready()
        return query(svc)
    except AzureError as exc:
        return _unavailable(exc)


def list_incidents(req: func.HttpRequest) -> func.HttpResponse:
    params = req.params
    filters = {name: params[name] for name in FILTERABLE if params.get(name)}
    for name, value in filters.items():
        allowed = ALLOWED_FILTER_VALUES.get(name)
        if allowed and value not in allowed:
            return _error(400, f"invalid_{name}", f"{name} must be one of {', '.join(allowed)}; got {value[:100]!r}")
        if len(value) > MAX_FILTER_LENGTH:
            return _error(400, f"invalid_{name}", f"{name} is longer than {MAX_FILTER_LENGTH} characters")
    since = params.get("since")
    if since:
        try:
            since = to_iso(parse_iso(since))
        except (ValueError, OverflowError):  # OverflowError: a valid time that cannot be expressed in UTC
            return _error(400, "invalid_since", f"since must be an ISO-8601 time between years 1 and 9999 UTC, "
                          f"got {since[:100]!r}")
    try:
        limit = int(params.get("limit") or DEFAULT_PAGE)
    except ValueError:
        return _error(400, "invalid_limit", "limit must be an integer")
    if not 1 <= limit <= MAX_PAGE:
        return _error(400, "invalid_limit", f"limit must be between 1 and {MAX_PAGE}")

    def query(svc: Services) -> func.HttpResponse:
        try:
            items, token = svc.incidents.list(filters, since, limit, params.get("continuation"))
        except ValueError as exc:
            return _error(400, "invalid_continuation", str(exc))
        return json_response(200, {"items": [incident_view(i) for i in items], "continuation": token})

    return read_storage(query)


def get_incident(req: func.HttpRequest) -> func.HttpResponse:
    incident_id = req.route_params.get("id", "")
    if impossible_key_reason(incident_id):
        return _error(404, "not_found", f"no incident {incident_id[:100]!r}: {impossible_key_reason(incident_id)}")

    def query(svc: Services) -> func.HttpResponse:
        incident = svc.incidents.get(incident_id)
        if incident is None:
            return _error(404, "not_found", f"no incident {incident_id!r}")
        body = incident_view(incident)
        body["audit"] = [entry.to_api() for entry in svc.audit.trail(incident_id)]
        return json_response(200, body)

    return read_storage(query)


def get_alert(req: func.HttpRequest) -> func.HttpResponse:
    alert_id = req.route_params.get("id", "")
    if impossible_key_reason(alert_id):
        return _error(404, "not_found", f"no alert {alert_id[:100]!r}: {impossible_key_reason(alert_id)}")

    def query(svc: Services) -> func.HttpResponse:
        record = svc.alerts.get(alert_id)
        if record is None:
            return _error(404, "not_found", f"alert {alert_id!r} is unknown or not processed yet")
        return json_response(200, record.to_api())

    return read_storage(query)


def health(req: func.HttpRequest) -> func.HttpResponse:
    svc = _services_or_503()
    if isinstance(svc, func.HttpResponse):
        return svc
    try:
        svc.ensure_ready()
    except AzureError as exc:
        ok, detail = False, type(exc).__name__
    else:
        ok, detail = svc.storage.healthy()
    return json_response(200 if ok else 503, {"status": "ok" if ok else "unavailable", "storage": detail},
                         None if ok else {"Retry-After": str(ingest.RETRY_AFTER_S)})


def process_message(msg: func.QueueMessage) -> None:
    """Queue trigger body. Raises to let the host retry; marks the alert failed on the last try."""
    body = msg.get_body()
    dequeue_count = int(getattr(msg, "dequeue_count", None) or 1)
    svc = services()
    last_try = dequeue_count >= max_dequeue_count()
    if last_try:
        # Written first, so a crash or timeout of this last attempt still leaves the alert marked failed;
        # a successful run overwrites it.
        processing.record_final_failure(svc, body, RuntimeError("the last delivery started and did not finish"),
                                        dequeue_count, provisional=True)
    try:
        envelope = processing.decode_envelope(body)
        outcome = processing.process_envelope(svc, envelope)
        log.info("alert %s %s -> %s", outcome.alert_id, outcome.status.value, outcome.incident_ids)
    except Exception as exc:
        if last_try:
            processing.record_final_failure(svc, body, exc, dequeue_count)
        raise
