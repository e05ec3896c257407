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
from dashboard import listing
from notify.ledger import NotificationLedger
from orchestration import ingest, processing
from orchestration.runtime import Services, request_services, services
from shared.hostconfig import max_dequeue_count
from shared.keys import impossible_key_reason
from shared.models import Incident

log = logging.getLogger(__name__)


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
    """Newest first from the incident index (shared.readmodel); list items carry a summary, the detail route the
    full texts. Filters: status, platform, source, category, run_id, retry_safe, pipeline (prefix, any case),
    team, owner, from / to (first seen), since (last seen)."""
    try:
        listing.parse_query(req.params)
    except listing.BadQuery as exc:
        return _error(400, exc.error, str(exc))

    def query(svc: Services) -> func.HttpResponse:
        if svc.index is None:
            return _error(503, "index_not_configured", "the incident index is not configured")
        try:
            page = listing.list_page(svc.index, req.params)
        except listing.BadQuery as exc:
            return _error(400, exc.error, str(exc))
        return json_response(200, {"items": page.items, "continuation": page.continuation})

    return read_storage(query)


def unknown_key(kind: str, key: str) -> func.HttpResponse | None:
    """404 for an id no Table Storage key can hold (storage would refuse the request, which reads as a 503)."""
    reason = impossible_key_reason(key)
    return _error(404, "not_found", f"no {kind} {key[:100]!r}: {reason}") if reason else None


def get_incident(req: func.HttpRequest) -> func.HttpResponse:
    incident_id = req.route_params.get("id", "")
    if refused := unknown_key("incident", incident_id):
        return refused

    def query(svc: Services) -> func.HttpResponse:
        incident = svc.incidents.get(incident_id)
        if incident is None:
            return _error(404, "not_found", f"no incident {incident_id!r}")
        body = incident_view(incident)
        body["audit"] = [entry.to_api() for entry in svc.audit.trail(incident_id)]
        body["notifications_log"] = NotificationLedger(svc.storage.table(svc.settings.notifications_table)).log_for(
            incident_id)
        return json_response(200, body)

    return read_storage(query)


def get_alert(req: func.HttpRequest) -> func.HttpResponse:
    alert_id = req.route_params.get("id", "")
    if refused := unknown_key("alert", alert_id):
        return refused

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
