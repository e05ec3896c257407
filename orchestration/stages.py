"""Composition of the incident stages, in the order they run."""

from __future__ import annotations

from analysis.stages import AnalyzeStage, ClassifyStage
from notify.routing import load_or_shipped
from notify.stages import OwnershipStage
from remediation.service import RemediationService
from remediation.stage import RemediationStage
from shared.config import Settings
from shared.stages import IncidentStage
from shared.storage import StorageClients


def default_stages(settings: Settings, storage: StorageClients | None = None, *,
                   remediation: RemediationService | None = None) -> list[IncidentStage]:
    """The stages in order; `storage` is for stages that keep state (e.g. an analysis cache).
    Notifications are not a stage: they follow the lifecycle events (orchestration.notifications)."""
    rules = load_or_shipped(settings.get("NOTIFY_ROUTING_FILE") or None)
    stages: list[IncidentStage] = [ClassifyStage(), AnalyzeStage(settings, storage), OwnershipStage(rules)]
    if remediation is not None:
        stages.append(RemediationStage(remediation))
    return stages
