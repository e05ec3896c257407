"""Turn one queued alert into incidents: archive, extract, enrich, record, run the stages.

Storage errors propagate, so the host retries the message (host.json maxDequeueCount) and then
moves it to the poison queue; `record_final_failure` marks the alert `failed` on the last try.
Recording is idempotent per alert id, so a redelivered message never counts twice.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, replace
from dataclasses import fields as dataclass_fields
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from extractors import extractor_for
from extractors.routes import misrouted_reason
from orchestration.ingest import raw_blob_name
from orchestration.runtime import Services
from shared.config import Settings
from shared.identity import incident_identity
from shared.lifecycle import Event, Resolution
from shared.models import AlertRecord, AlertStatus, AuditAction, AuditEntry, Envelope, Extraction, Failure, Incident
from shared.redaction import redact, redact_text
from shared.stages import StageResult
from shared.timeutil import utc_now_iso
from shared.transitions import EventMessage, watch_transitions

log = logging.getLogger(__name__)
ACTOR = "processor"
_INCIDENT_FIELDS = frozenset(f.name for f in dataclass_fields(Incident))


@dataclass(frozen=True)
class Outcome:
    alert_id: str
    status: AlertStatus
    incident_ids: list[str]
    reason: str | None = None


class PermanentMessageError(ValueError):
    """The message can never be processed (not an envelope); retrying will not help."""


def decode_envelope(text: str | bytes) -> Envelope:
    try:
        return Envelope.from_dict(json.loads(text))
    except (ValueError, UnicodeDecodeError) as exc:
        raise PermanentMessageError(f"queue message is not an alert envelope: {exc}") from exc


def load_payload(services: Services, envelope: Envelope) -> Any:
    if envelope.payload_ref is None:
        return envelope.payload
    container, _, blob = envelope.payload_ref.partition("/")
    try:
        data = services.storage.container(container).download_blob(blob).readall()
    except ResourceNotFoundError as exc:
        raise FileNotFoundError(f"claim-checked body {envelope.payload_ref} is missing") from exc
    return json.loads(data)


def archive(services: Services, envelope: Envelope) -> None:
    if envelope.payload_ref is not None:
        return  # the claim-checked blob is the archive
    name = raw_blob_name(envelope.source, envelope.id, envelope.received_at)
    # The payload was redacted before it was queued (ingest.enqueue writes every message), so it is archived as is.
    body = json.dumps(envelope.payload, indent=1).encode("utf-8")
    services.storage.container(services.settings.raw_container).upload_blob(name, body, overwrite=True)


def extract(services: Services, envelope: Envelope, payload: Any) -> Extraction:
    return extract_bounded(services, envelope, payload)[0]


def _cap(failures: list[Failure], limit: int) -> tuple[list[Failure], list[Failure]]:
    distinct = _distinct(failures)
    return distinct[:limit], distinct[limit:]


def extract_bounded(services: Services, envelope: Envelope, payload: Any) -> tuple[Extraction, list[Failure]]:
    """Parse and enrich at most MAX_FAILURES_PER_ALERT distinct failures; returns the rest, untouched, too.

    Capped before enrichment (each failure may cost platform calls) and again after it (a metric alert
    becomes one failure per failed run)."""
    limit = max(1, services.settings.int_setting("MAX_FAILURES_PER_ALERT"))
    extractor = extractor_for(envelope.source)
    extraction = extractor.parse(payload)
    extraction.failures, dropped = _cap(extraction.failures, limit)
    if (extraction.failures and not extraction.ignored_reason and not extraction.resolved
            and services.settings.bool_setting("ENRICHMENT_ENABLED")):
        try:
            extraction = extractor.enrich(extraction, services.settings)
        except Exception as exc:  # enrichment must never lose the failure
            log.exception("enrichment of alert %s failed", envelope.id)
            extraction.enrichment_errors.append(f"{type(exc).__name__}: {exc}")
    extraction.failures, more = _cap(extraction.failures, limit)
    if extraction.enrichment_errors:
        why = "; ".join(extraction.enrichment_errors)[:1000]
        for failure in extraction.failures:
            if not failure.message:
                failure.origin["error_unavailable"] = why  # the verdict says so in words (analysis.stages)
    # Enrichment brings text from platform APIs: redact it before anything stores it.
    extraction.failures = [Failure.from_dict(redact(f.to_dict())) for f in extraction.failures]
    extraction.enrichment_errors = [redact_text(e) for e in extraction.enrichment_errors]
    return extraction, dropped + more


def process_envelope(services: Services, envelope: Envelope) -> Outcome:
    services.ensure_ready()
    try:
        extractor_for(envelope.source)
    except KeyError as exc:
        return _finish(services, envelope, AlertStatus.IGNORED, [], f"unknown source: {exc}")
    started = time.monotonic()
    archive(services, envelope)
    payload = load_payload(services, envelope)
    extraction, dropped = extract_bounded(services, envelope, payload)
    if extraction.ignored_reason:
        return _finish(services, envelope, AlertStatus.IGNORED, [], misrouted_reason(envelope.source, payload)
                       or extraction.ignored_reason)
    if extraction.resolved:
        return _resolve(services, envelope, extraction)
    failures = extraction.failures
    if not failures:
        return _finish(services, envelope, AlertStatus.IGNORED, [], "the alert describes no failure")
    deadline = started + services.settings.int_setting("PROCESSING_DEADLINE_SECONDS")
    incident_ids: list[str] = []
    for index, failure in enumerate(failures):
        if index and time.monotonic() > deadline:  # stay under functionTimeout: the rest is recorded as dropped
            dropped = failures[index:] + dropped
            break
        incident_ids.append(_record(services, envelope, failure, extraction.enrichment_errors))
    if dropped:
        incident_ids.append(_record(services, envelope, dropped_failures_notice(envelope, failures[0], dropped,
                                                                                services.settings), []))
    return _finish(services, envelope, AlertStatus.PROCESSED, incident_ids, None, dropped=len(dropped))


def dropped_failures_notice(envelope: Envelope, first: Failure, dropped: list[Failure],
                            settings: Settings) -> Failure:
    """One failure (so one incident) that says which failures of this alert were not processed, and why."""
    names = [f"{f.pipeline or '?'} run {f.run_id or '-'} ({f.resource})" for f in dropped[:20]]
    more = f" and {len(dropped) - 20} more" if len(dropped) > 20 else ""
    message = (f"This alert named {len(dropped)} more failure(s) than were processed (MAX_FAILURES_PER_ALERT="
               f"{settings.get('MAX_FAILURES_PER_ALERT')}, PROCESSING_DEADLINE_SECONDS="
               f"{settings.get('PROCESSING_DEADLINE_SECONDS')}); not recorded: {'; '.join(names)}{more}. "
               "Look at the alert's results in the portal, or narrow the alert rule.")
    return Failure(source=envelope.source, platform=first.platform, resource=first.resource,
                   pipeline=first.pipeline, error_code="AlertTruncated", failure_type="SystemError", message=message,
                   origin={"received_alert": envelope.id, "dropped": len(dropped)},
                   fingerprint_parts={"alert_id": envelope.id, "dropped_failures": True}, level="warning")


def _distinct(failures: list[Failure]) -> list[Failure]:
    seen: dict[str, Failure] = {}
    for failure in failures:
        seen.setdefault(incident_identity(failure)[0], failure)
    return list(seen.values())


def _record(services: Services, envelope: Envelope, failure: Failure, enrichment_errors: list[str]) -> str:
    now = utc_now_iso()
    recorded = services.incidents.record(failure, envelope.id, now)
    incident = recorded.incident
    created = recorded.created or recorded.counted_as_creation
    # A redelivery (the earlier attempt crashed after counting) writes only the entries that are missing.
    trail = _Trail(services, incident.id, envelope.id, repair=recorded.duplicate_delivery)
    published: list[int] = []
    if created:
        trail.add(AuditAction.INCIDENT_CREATED,
                  f"first report of {incident.platform} {incident.pipeline or ''} run {incident.run_id or '-'}",
                  {"source": envelope.source, "identity": incident.identity_basis, "event": Event.OPENED.value})
        if trail.repair:
            services.lifecycle.republish_pending(incident.id)
        elif services.lifecycle.send(EventMessage(incident.id, 1, Event.OPENED.value, incident.status, now)):
            published.append(1)  # marked published together with the stage results
        for problem in enrichment_errors:
            trail.add(AuditAction.ENRICHMENT_FAILED, "the incident was made from what the alert carried: " + problem,
                      {})
    else:
        trail.add(AuditAction.OCCURRENCE_RECORDED, f"reported again (occurrence {incident.occurrences})", {})
    fields: dict[str, Any] = {}
    current = None
    if recorded.created or recorded.duplicate_delivery:
        # A new incident is the one just written; a redelivered one is read once (its stages may have run).
        current = incident if recorded.created else services.incidents.get(incident.id)
        if current is not None:
            fields = _run_stages(services, current, failure, trail)
    # One write per partition: the stage results with the event marks, then the audit entries.
    try:
        services.incidents.store_stage_results(incident.id, fields, published, current)
    except Exception:
        # e.g. a value storage refuses: store what can be stored, audit the rest; never poison the alert.
        log.exception("storing the stage results of incident %s in one write failed", incident.id)
        _store_one_by_one(services, incident.id, fields, trail)
    trail.flush()
    return incident.id


def _store_one_by_one(services: Services, incident_id: str, fields: dict[str, Any], trail: _Trail) -> None:
    for name, value in fields.items():
        try:
            services.incidents.update_fields(incident_id, **{name: value})
        except Exception as exc:
            action, stage = trail.field_owners.get(name, (AuditAction.ANALYSIS_FAILED, "processor"))
            trail.stage(action, stage, f"stage {stage} ran but its result {name!r} could not be stored: "
                                       f"{type(exc).__name__}: {str(exc)[:500]}")


class _Trail:
    """The audit entries one alert adds to one incident, appended in one transaction at the end."""

    def __init__(self, services: Services, subject_id: str, alert_id: str, *, repair: bool) -> None:
        self.audit = services.audit
        self.subject_id = subject_id
        self.alert_id = alert_id
        self.repair = repair
        self.entries: list[AuditEntry] = []
        self._existing: set[str] | None = None
        # Which stage gave each field (its failure action and name), to audit a field that cannot be stored.
        self.field_owners: dict[str, tuple[AuditAction, str]] = {}

    def add(self, action: AuditAction, reason: str, details: dict[str, Any]) -> None:
        """An entry about this alert (`alert_id` in its details); on a repair only when not written before."""
        if self.repair:
            if self._existing is None:
                self._existing = {e.action.value for e in self.audit.trail(self.subject_id)
                                  if e.details.get("alert_id") == self.alert_id}
            if action.value in self._existing:
                return
        self.stage(action, ACTOR, reason, {"alert_id": self.alert_id, **details})

    def stage(self, action: AuditAction, actor: str, reason: str, details: dict[str, Any] | None = None) -> None:
        self.entries.append(AuditEntry(subject_id=self.subject_id, action=action, actor=actor, reason=reason,
                                       time=utc_now_iso(), details=details or {}))

    def flush(self) -> None:
        if self.entries:
            self.audit.append_many(self.subject_id, self.entries)
            self.entries = []


def _run_stages(services: Services, incident: Incident, failure: Failure, trail: _Trail) -> dict[str, Any]:
    """Run the stages on the incident as it evolves in memory (each sees the fields of the ones before it);
    returns the fields to store. A stage that raises is audited and skipped. After a stage that changed the
    incident's status through the lifecycle, the incident is read again (with the fields not yet stored)."""
    fields: dict[str, Any] = {}
    transitioned = watch_transitions()
    for stage in services.stages:
        if transitioned:
            transitioned.clear()
            fresh = services.incidents.get(incident.id)
            if fresh is None:
                break
            incident = replace(fresh, **{k: v for k, v in fields.items() if k in _INCIDENT_FIELDS})
        if stage.owns and getattr(incident, stage.owns, None) is not None:
            continue
        try:
            result = stage.run(incident, failure) or StageResult()
        except Exception as exc:
            log.exception("stage %s failed on incident %s", stage.name, incident.id)
            trail.stage(stage.failure_action, stage.name, f"stage {stage.name} failed: {type(exc).__name__}: {exc}")
            continue
        if result.fields:
            fields.update(result.fields)
            trail.field_owners.update(dict.fromkeys(result.fields, (stage.failure_action, stage.name)))
            incident = replace(incident, **{k: v for k, v in result.fields.items() if k in _INCIDENT_FIELDS})
        for action, reason, details in result.audit:
            trail.stage(action, stage.name, reason, details)
    return fields


def _resolve(services: Services, envelope: Envelope, extraction: Extraction) -> Outcome:
    if not extraction.alert_key:
        return _finish(services, envelope, AlertStatus.IGNORED, [],
                       "a Resolved notification without an alert id cannot be matched to an incident")
    now = utc_now_iso()
    resolved = []
    for incident in services.incidents.by_alert_key(extraction.alert_key):
        # Resolved by this very alert on an earlier delivery: finish its audit, count it again.
        redelivered = incident.resolved_by == envelope.id
        done = None if redelivered else services.incidents.resolve(incident.id, envelope.id, now)
        if redelivered or done:
            trail = _Trail(services, incident.id, envelope.id, repair=redelivered)
            trail.add(AuditAction.INCIDENT_RESOLVED, "Azure Monitor sent Resolved for the alert that reported this run",
                      {"event": Event.RESOLVED.value, "resolution": Resolution.BY_RESOLVE_ALERT.value})
            trail.flush()
            if done:
                services.lifecycle.publish(EventMessage(incident.id, done.seq, Event.RESOLVED.value, done.status, now))
            else:
                services.lifecycle.republish_pending(incident.id)
            resolved.append(incident.id)
    if not resolved:
        return _finish(services, envelope, AlertStatus.IGNORED, [],
                       "a Resolved notification for an alert with no open incident")
    return _finish(services, envelope, AlertStatus.PROCESSED, resolved, None)


def _finish(services: Services, envelope: Envelope, status: AlertStatus, incident_ids: list[str],
            reason: str | None, *, dropped: int = 0) -> Outcome:
    services.alerts.put(AlertRecord(
        id=envelope.id, source=envelope.source, status=status.value, received_at=envelope.received_at,
        processed_at=utc_now_iso(), incident_ids=incident_ids,
        ignored_reason=reason if status is AlertStatus.IGNORED else None, dropped_failures=dropped,
    ))
    if status is AlertStatus.IGNORED:
        services.audit.append(envelope.id, AuditAction.ALERT_IGNORED, ACTOR, reason or "ignored",
                              {"source": envelope.source})
    return Outcome(envelope.id, status, incident_ids, reason)


def record_final_failure(services: Services, message_text: str | bytes, error: BaseException,
                         dequeue_count: int, *, provisional: bool = False) -> None:
    """On the last delivery: say in the alert record that this alert failed. `provisional` records it before
    the attempt (no audit entry), so a crash of the attempt itself still leaves the alert marked failed."""
    try:
        data = json.loads(message_text)
        alert_id, source, received_at = str(data["id"]), str(data.get("source", "")), str(data.get("received_at", ""))
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        log.error("undecodable message goes to the poison queue after %d deliveries: %s", dequeue_count, error)
        return
    detail = f"{type(error).__name__}: {error} (delivery {dequeue_count}; the message goes to the poison queue)"
    services.alerts.put(AlertRecord(id=alert_id, source=source, status=AlertStatus.FAILED.value,
                                    received_at=received_at, processed_at=utc_now_iso(), error=detail))
    if provisional:
        return
    services.audit.append(alert_id, AuditAction.ALERT_FAILED, ACTOR, detail, {"source": source})
