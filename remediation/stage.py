"""RemediationStage: after classification and analysis, plan the incident's remediation and carry the plan out
(owns `incident.remediation`). The plan's state changes go through the lifecycle inside the service, so the
stage returns no fields of its own."""

from __future__ import annotations

from typing import ClassVar

from remediation.service import RemediationService
from shared.models import AuditAction, Failure, Incident
from shared.stages import IncidentStage, StageResult


class RemediationStage(IncidentStage):
    name = "remediation"
    owns: ClassVar[str | None] = "remediation"
    failure_action = AuditAction.REMEDIATION_FAILED

    def __init__(self, service: RemediationService) -> None:
        self.service = service

    def run(self, incident: Incident, failure: Failure) -> StageResult:
        self.service.start(incident)
        return StageResult()
