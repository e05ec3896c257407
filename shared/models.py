"""The data the pipeline passes around: plain dataclasses, no I/O.

Envelope  -- what ingest puts on the queue.
Failure   -- one normalized pipeline failure, whatever the source (the extractors' output).
Extraction-- what an extractor made of one payload: failures, or why it was ignored.
Incident  -- one failed run, however often it was reported; later stages (classification,
             analysis, remediation, notification) each own one optional field of it.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any

from shared.lifecycle import IncidentStatus as IncidentStatus  # re-exported; the lifecycle owns it


class Source(enum.StrEnum):
    """Where an alert came in (the ingest endpoint, or the sweep)."""

    AZURE_MONITOR = "azure-monitor"
    DATABRICKS = "databricks"
    AIRFLOW = "airflow"
    SWEEP = "sweep"


class Platform(enum.StrEnum):
    ADF = "adf"
    SYNAPSE = "synapse"
    DATABRICKS = "databricks"
    AIRFLOW = "airflow"
    FUNCTIONS = "functions"


class AlertStatus(enum.StrEnum):
    PROCESSED = "processed"
    IGNORED = "ignored"
    FAILED = "failed"


class AuditAction(enum.StrEnum):
    INCIDENT_CREATED = "incident_created"
    OCCURRENCE_RECORDED = "occurrence_recorded"
    INCIDENT_RESOLVED = "incident_resolved"
    INCIDENT_REOPENED = "incident_reopened"
    INCIDENT_ACKNOWLEDGED = "incident_acknowledged"
    INCIDENT_ESCALATED = "incident_escalated"
    INCIDENT_SUPERSEDED = "incident_superseded"
    APPROVAL_REQUESTED = "approval_requested"
    REMEDIATION_APPROVED = "remediation_approved"
    REMEDIATION_REJECTED = "remediation_rejected"
    REMEDIATION_SKIPPED = "remediation_skipped"
    REMEDIATION_DRY_RUN = "remediation_dry_run"
    REMEDIATION_CALL = "remediation_call"
    SLA_BREACHED = "sla_breached"
    ALERT_IGNORED = "alert_ignored"
    ALERT_FAILED = "alert_failed"
    ENRICHMENT_FAILED = "enrichment_failed"
    ENRICHED = "enriched"
    CLASSIFIED = "classified"
    ANALYZED = "analyzed"
    ANALYSIS_FAILED = "analysis_failed"
    REMEDIATION_PLANNED = "remediation_planned"
    REMEDIATION_STARTED = "remediation_started"
    REMEDIATION_VERIFIED = "remediation_verified"
    REMEDIATION_FAILED = "remediation_failed"
    NOTIFIED = "notified"
    NOTIFICATION_FAILED = "notification_failed"


@dataclass(frozen=True)
class Envelope:
    """A received alert on its way through the queue. Exactly one of payload / payload_ref is set."""

    id: str
    source: str
    received_at: str
    payload: Any = None
    payload_ref: str | None = None  # "<container>/<blob name>" when the body was claim-checked

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "source": self.source, "received_at": self.received_at}
        if self.payload_ref is not None:
            data["payload_ref"] = self.payload_ref
        else:
            data["payload"] = self.payload
        return data

    @classmethod
    def from_dict(cls, data: Any) -> Envelope:
        if not isinstance(data, dict):
            raise ValueError("envelope is not a JSON object")
        missing = [k for k in ("id", "source", "received_at") if not isinstance(data.get(k), str)]
        if missing:
            raise ValueError(f"envelope lacks {', '.join(missing)}")
        if "payload" not in data and not isinstance(data.get("payload_ref"), str):
            raise ValueError("envelope has neither payload nor payload_ref")
        return cls(id=data["id"], source=data["source"], received_at=data["received_at"],
                   payload=data.get("payload"), payload_ref=data.get("payload_ref"))


@dataclass
class Failure:
    """One pipeline failure, normalized. `message` is the complete error text when known."""

    source: str
    platform: str
    resource: str  # factory / workspace / app ARM id, Databricks workspace, Airflow instance
    pipeline: str | None = None  # pipeline, job or DAG
    run_id: str | None = None
    activity: str | None = None  # activity or task
    error_code: str | None = None
    failure_type: str | None = None
    message: str | None = None
    start: str | None = None
    end: str | None = None
    links: dict[str, str] = field(default_factory=dict)
    # Where it came from: alert id, rule, target, dimensions, window, enrichment calls.
    origin: dict[str, Any] = field(default_factory=dict)
    # What identifies the alert when there is no run id (alert id, rule, target, dimensions).
    fingerprint_parts: dict[str, Any] = field(default_factory=dict)
    # `warning` for e.g. a Databricks duration warning; `error` otherwise.
    level: str = "error"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Failure:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class Extraction:
    """An extractor's verdict on one payload."""

    failures: list[Failure] = field(default_factory=list)
    ignored_reason: str | None = None
    # Resolved notifications close what the same alert opened.
    resolved: bool = False
    # Stable key of the alert instance (e.g. essentials.alertId), shared by Fired and Resolved.
    alert_key: str | None = None
    # Problems met while enriching; the failures are still made from what the alert had.
    enrichment_errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "failures": [f.to_dict() for f in self.failures],
            "ignored": self.ignored_reason,
            "resolved": self.resolved,
            "alert_key": self.alert_key,
            "enrichment_errors": list(self.enrichment_errors),
        }


@dataclass
class Incident:
    """One failed run. Stage results (verdict, analysis, remediation, notifications) are JSON dicts
    owned by their stage, so a new stage adds a field without touching the others."""

    id: str
    source: str
    platform: str
    resource: str
    pipeline: str | None
    run_id: str | None
    status: str
    occurrences: int
    first_seen: str
    last_seen: str
    activity: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    failure_type: str | None = None
    alert_key: str | None = None
    identity_basis: str = "run"  # "run" (platform, resource, run id) or "fingerprint"
    links: dict[str, str] = field(default_factory=dict)
    failure: dict[str, Any] = field(default_factory=dict)
    verdict: dict[str, Any] | None = None
    analysis: dict[str, Any] | None = None
    remediation: dict[str, Any] | None = None
    notifications: list[dict[str, Any]] | None = None
    resolved_at: str | None = None
    resolved_by: str | None = None  # who resolved it: a received alert's id, a user, "remediation", "jira"
    resolution: str | None = None  # shared.lifecycle.Resolution
    resolution_reason: str | None = None
    acknowledged_at: str | None = None
    acknowledged_by: str | None = None
    escalated_at: str | None = None
    event_seq: int = 0  # sequence number of the last lifecycle event (shared.lifecycle.Event)
    # Ownership and FinOps tags (team, owner, cost_center, ...) from routing data or the platform's own tags.
    team: str | None = None
    owner: str | None = None
    ownership: dict[str, Any] | None = None

    def to_api(self) -> dict[str, Any]:
        data = asdict(self)
        data["error"] = {"code": self.error_code, "message": self.error_message,
                         "failure_type": self.failure_type}
        return data


@dataclass
class AlertRecord:
    """What became of one received alert (GET /api/alerts/{id})."""

    id: str
    source: str
    status: str
    received_at: str
    processed_at: str
    incident_ids: list[str] = field(default_factory=list)
    ignored_reason: str | None = None
    error: str | None = None
    dropped_failures: int = 0  # failures past MAX_FAILURES_PER_ALERT / the processing deadline, not recorded

    def to_api(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class AuditEntry:
    subject_id: str  # incident id, or alert id for alert-level events
    action: AuditAction
    actor: str
    reason: str
    time: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_api(self) -> dict[str, Any]:
        return {"subject_id": self.subject_id, "action": str(self.action), "actor": self.actor,
                "reason": self.reason, "time": self.time, "details": self.details}
