"""Stages that run on an incident after it is recorded: classify, analyse, remediate, notify.

Each stage is one class with one job. It receives the incident and the failure, returns the
fields it owns (merged into the incident row) and the audit entries to append; the processor
applies both. A stage that raises is audited and skipped -- one broken channel never fails the
alert or blocks the stages after it. Stages run when an incident is created, and again on a
redelivered alert whose earlier processing crashed, so each stage skips work it already did.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from shared.config import Settings
from shared.models import AuditAction, Failure, Incident
from shared.redaction import redact_text
from shared.storage import StorageClients

log = logging.getLogger(__name__)


@dataclass
class StageResult:
    fields: dict[str, Any] = field(default_factory=dict)
    audit: list[tuple[AuditAction, str, dict[str, Any]]] = field(default_factory=list)


class IncidentStage(ABC):
    name: ClassVar[str]
    # The incident field this stage owns; a stage whose field is already set is not run again.
    owns: ClassVar[str | None] = None
    # What the audit trail says when the stage raises.
    failure_action: ClassVar[AuditAction] = AuditAction.ANALYSIS_FAILED

    @abstractmethod
    def run(self, incident: Incident, failure: Failure) -> StageResult | None:
        """Do the stage's work; return what to store and audit."""


class ConsoleNotifier(IncidentStage):
    """The embedded default channel: one line per new incident on the app's log."""

    name = "console"
    owns = "notifications"
    failure_action = AuditAction.NOTIFICATION_FAILED

    def run(self, incident: Incident, failure: Failure) -> StageResult:
        where = " / ".join(p for p in (incident.pipeline, incident.activity) if p) or "?"
        text = (f"[incident {incident.id}] {incident.platform} {where} run={incident.run_id or '-'}: "
                f"{incident.error_code or ''} {(incident.error_message or 'no error text yet')[:300]}")
        log.warning("%s", redact_text(text))
        note = {"channel": "console", "status": "sent"}
        return StageResult(fields={"notifications": [note]},
                           audit=[(AuditAction.NOTIFIED, "incident written to the console log", note)])


def default_stages(settings: Settings, storage: StorageClients | None = None) -> list[IncidentStage]:
    """The stages in order; `storage` is for stages that keep state (e.g. an analysis cache)."""
    from analysis.stages import AnalyzeStage, ClassifyStage  # analysis imports this module

    stages: list[IncidentStage] = [ClassifyStage(), AnalyzeStage(settings, storage)]
    if "console" in settings.csv_setting("NOTIFY_CHANNELS"):
        stages.append(ConsoleNotifier())
    return stages
