"""The ownership stage: team, owner and FinOps tags from the platform's tags and the routing file."""

from __future__ import annotations

from notify.routing import Rules, ownership
from shared.models import AuditAction, Failure, Incident
from shared.stages import IncidentStage, StageResult


class OwnershipStage(IncidentStage):
    name = "ownership"
    owns = "ownership"
    failure_action = AuditAction.NOTIFICATION_FAILED

    def __init__(self, rules: Rules) -> None:
        self.rules = rules

    def run(self, incident: Incident, failure: Failure) -> StageResult:
        tags = ownership(self.rules, incident)
        return StageResult(fields={"ownership": tags, "team": tags.get("team"), "owner": tags.get("owner")})
