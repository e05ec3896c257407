"""Timer entry point of the sweep for failures no alert reported."""

from __future__ import annotations

import logging
from typing import Any

from shared.runtime import services

log = logging.getLogger(__name__)


def run_sweep(past_due: bool = False) -> dict[str, Any]:
    settings = services().settings
    sources = [*settings.sweep_factories, *settings.sweep_synapse_workspaces]
    if settings.sweep_databricks:
        sources.append("databricks")
    if not sources:
        log.info("sweep: no factory or workspace configured (SWEEP_FACTORIES); nothing to do")
        return {"enqueued": 0, "sources": 0}
    log.warning("sweep: %d sources configured but the sweep is not implemented in this build", len(sources))
    return {"enqueued": 0, "sources": len(sources)}
