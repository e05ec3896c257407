"""Timer entry point of the sweep for failures no alert reported (logic: orchestration.sweep)."""

from __future__ import annotations

import logging
from typing import Any

from orchestration.runtime import services

log = logging.getLogger(__name__)


def run_sweep(past_due: bool = False) -> dict[str, Any]:
    svc = services()
    settings = svc.settings
    if not (settings.sweep_factories or settings.sweep_synapse_workspaces or settings.sweep_databricks):
        log.info("sweep: nothing configured (SWEEP_FACTORIES, SWEEP_SYNAPSE_WORKSPACES, SWEEP_DATABRICKS)")
        return {"enqueued": 0, "sources": 0, "targets": []}
    if past_due:
        log.info("sweep: the timer is past due; sweeping from the stored watermarks")
    from orchestration import sweep  # platform SDKs load when a sweep has something to ask

    return sweep.run(svc).to_dict()
