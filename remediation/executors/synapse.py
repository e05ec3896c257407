"""Synapse pipelines: the Data Factory executor with the failed activity as start_activity_name (see adf.py)."""

from __future__ import annotations

from remediation.executors.adf import SynapseExecutor
from remediation.executors.base import Executor
from shared.config import Settings
from shared.platforms.synapse import SynapseWorkspace


def create(settings: Settings) -> Executor:
    return SynapseExecutor(lambda resource: SynapseWorkspace(resource, settings))
