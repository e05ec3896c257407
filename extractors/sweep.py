"""Failures the sweep found itself: already normalized, enqueued as {"failures": [...]}.

The sweep only lists failed runs (one API call per page of runs); the processor's `enrich` then
fetches each run's failed-activity error (Data Factory / Synapse: queryActivityRuns, following
Execute Pipeline into the child) or failed-task output (Databricks: runs/get + runs/get-output).
"""

from __future__ import annotations

from typing import Any

from extractors.base import Extractor
from extractors.databricks import enrich_job_run
from extractors.pipeline_runs import PIPELINE_PLATFORMS, api_for, enrich_run, needs_root_cause
from shared.config import Settings
from shared.models import Extraction, Failure, Platform, Source
from shared.platforms.databricks import DatabricksWorkspace


class SweepExtractor(Extractor):
    source = Source.SWEEP.value

    def parse(self, payload: Any) -> Extraction:
        items = payload.get("failures") if isinstance(payload, dict) else None
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            return Extraction(ignored_reason="sweep message without a failures list")
        return Extraction(failures=[Failure.from_dict(i) for i in items])

    def enrich(self, extraction: Extraction, settings: Settings) -> Extraction:
        databricks: DatabricksWorkspace | None = None
        for failure in extraction.failures:
            if not failure.run_id or not needs_root_cause(failure):
                continue
            if failure.platform in PIPELINE_PLATFORMS:
                try:
                    api = api_for(failure, settings)
                except ValueError as exc:
                    extraction.enrichment_errors.append(str(exc))
                    continue
                run = {"runId": failure.run_id, "pipelineName": failure.pipeline, "runStart": failure.start,
                       "runEnd": failure.end}
                enrich_run(failure, api, extraction.enrichment_errors, run=run)
                failure.origin["enrichment"] = {"api": api.platform, "calls": dict(api.calls)}
            elif failure.platform == Platform.DATABRICKS.value:
                databricks = databricks or DatabricksWorkspace(settings)
                enrich_job_run(failure, databricks, extraction.enrichment_errors)
        return extraction
