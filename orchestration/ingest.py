"""Accept a webhook body: validate, enqueue, acknowledge. No analysis happens here.

One storage round trip for a normal body (the queue message), two for a large one (blob, then
the message that references it). The processor archives inline bodies; a claim-checked body
already sits in the archive container, so every accepted alert ends up archived.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from azure.core.exceptions import AzureError

from orchestration.runtime import Services
from shared.models import Envelope
from shared.redaction import redact
from shared.timeutil import utc_now_iso

QUEUE_MESSAGE_LIMIT = 64 * 1024  # bytes of message text, after base64
RETRY_AFTER_S = 10
MAX_DEPTH = 64  # real alert bodies nest < 10 levels; recursion (redaction, JSON) must stay far from the limit


@dataclass
class IngestResult:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def _error(status: int, error: str, detail: str, headers: dict[str, str] | None = None) -> IngestResult:
    return IngestResult(status, {"error": error, "detail": detail}, headers or {})


def _depth(value: Any) -> int:
    """Nesting depth of a JSON value, computed without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item)
    return deepest


def base64_length(raw_length: int) -> int:
    return 4 * ((raw_length + 2) // 3)


def raw_blob_name(source: str, alert_id: str, received_at: str) -> str:
    return f"{received_at[:10]}/{source}/{alert_id}.json"


def accept(services: Services, source: str, body: bytes) -> IngestResult:
    limit = services.settings.max_body_bytes
    if len(body) > limit:
        return _error(413, "payload_too_large", f"body is {len(body)} bytes; the limit is {limit} bytes")
    if not body.strip():
        return _error(400, "empty_body", "expected a JSON object, got an empty body")
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        return _error(400, "invalid_json", f"body is not valid JSON: {exc}")
    except RecursionError:
        return _error(400, "too_deeply_nested", "the JSON nests too deeply to be an alert")
    if not isinstance(payload, dict):
        return _error(400, "not_an_object", f"expected a JSON object, got {type(payload).__name__}")

    if _depth(payload) > MAX_DEPTH:
        return _error(400, "too_deeply_nested", f"the JSON nests more than {MAX_DEPTH} levels deep")
    try:
        alert_id = enqueue(services, source, payload)
    except (AzureError, ValueError) as exc:
        # ValueError: storage settings missing. Either way the sender should retry later.
        return _error(503, "storage_unavailable", f"could not queue the alert, retry later ({type(exc).__name__})",
                      {"Retry-After": str(RETRY_AFTER_S)})
    return IngestResult(202, {"id": alert_id, "status_url": f"/api/alerts/{alert_id}"})


def _path(payload: Any, *keys: str) -> Any:
    for key in keys:
        payload = payload.get(key) if isinstance(payload, dict) else None
    return payload


def source_key(source: str, payload: dict[str, Any]) -> list[Any] | None:
    """The sender's own identity of this notification, when it has one.

    Azure Monitor: the alert instance, its condition and the time of this firing (a new firing of the same rule
    has a new firedDateTime, a Resolved its resolvedDateTime). Databricks: event, workspace, run and task.
    Airflow: instance, DAG, DAG run, task, map index and try. None: the body itself is the identity.
    """
    if source == "azure-monitor":
        essentials = _path(payload, "data", "essentials")
        if isinstance(essentials, dict) and essentials.get("alertId"):
            return [essentials.get(k) for k in ("alertId", "monitorCondition", "firedDateTime", "resolvedDateTime")]
    elif source == "databricks":
        if _path(payload, "run", "run_id") is not None:
            return [payload.get("event_type"), payload.get("workspace_id"), _path(payload, "run", "run_id"),
                    _path(payload, "run", "parent_run_id"), _path(payload, "task", "task_key"),
                    _path(payload, "task", "run_id")]
    elif source == "airflow" and payload.get("dag_id") and payload.get("task_id"):
        return [payload.get(k) for k in ("instance", "dag_id", "run_id", "task_id", "map_index", "try_number",
                                         "state")]
    return None


def delivery_id(source: str, payload: dict[str, Any]) -> str:
    """The alert id: derived from what was sent, so a sender's retry (after a 503 whose message had in fact
    been queued) gets the same id and is recognised downstream instead of counted again."""
    key = source_key(source, payload)
    basis = ["key", source, key] if key is not None else ["body", source, payload]
    canonical = json.dumps(basis, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()[:32]


def enqueue(services: Services, source: str, payload: dict[str, Any]) -> str:
    """Put one envelope on the alerts queue (claim-checking a large body); returns the alert id.

    The same body (or the same source id) always gets the same alert id, and it is enqueued again: whether an
    earlier attempt landed is unknown after a timeout, and processing counts each alert id once.

    The payload is redacted first; the archive keeps the redacted body.

    Raises AzureError when storage is unreachable. Used by ingest and by the sweep.
    """
    # Nothing downstream (queue, archive, tables, prompts, notifications) ever sees a secret.
    payload = redact(payload)
    alert_id = delivery_id(source, payload)
    received_at = utc_now_iso()
    envelope = Envelope(id=alert_id, source=source, received_at=received_at, payload=payload)
    message = json.dumps(envelope.to_dict(), separators=(",", ":"))
    services.ensure_ready()
    if base64_length(len(message.encode("utf-8"))) > QUEUE_MESSAGE_LIMIT:
        container = services.settings.raw_container
        blob = raw_blob_name(source, alert_id, received_at)
        body = json.dumps(payload).encode("utf-8")
        services.storage.container(container).upload_blob(blob, body, overwrite=True)
        envelope = Envelope(id=alert_id, source=source, received_at=received_at, payload_ref=f"{container}/{blob}")
        message = json.dumps(envelope.to_dict(), separators=(",", ":"))
    services.storage.queue(services.settings.alerts_queue).send_message(message)
    return alert_id
