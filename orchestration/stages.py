"""Composition of the incident stages, in the order they run."""

from __future__ import annotations

from analysis.stages import AnalyzeStage, ClassifyStage
from notify.console import ConsoleNotifier
from remediation.service import RemediationService
from remediation.stage import RemediationStage
from shared.config import Settings
from shared.stages import IncidentStage
from shared.storage import StorageClients


def default_stages(settings: Settings, storage: StorageClients | None = None, *,
                   remediation: RemediationService | None = None) -> list[IncidentStage]:
    """The stages in order; `storage` is for stages that keep state (e.g. an analysis cache)."""
    stages: list[IncidentStage] = [ClassifyStage(), AnalyzeStage(settings, storage)]
    if remediation is not None:
        stages.append(RemediationStage(remediation))
    if "console" in settings.csv_setting("NOTIFY_CHANNELS"):
        stages.append(ConsoleNotifier())
    return stages
