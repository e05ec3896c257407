"""The stage interface: what runs on an incident after it is recorded (classify, analyse, remediate, notify).
The composition of the stages lives in orchestration.stages; the stages themselves in their domain packages.

Each stage is one class with one job. It receives the incident and the failure, returns the
fields it owns (merged into the incident row) and the audit entries to append; the processor
applies both. A stage that raises is audited and skipped -- one broken channel never fails the
alert or blocks the stages after it. Stages run when an incident is created, and again on a
redelivered alert whose earlier processing crashed, so each stage skips work it already did.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from shared.models import AuditAction, Failure, Incident


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
