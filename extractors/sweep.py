"""Failures the sweep found itself: already normalized, enqueued as {"failures": [...]}.

The sweep only lists failed runs (one API call per page of runs); the processor's `enrich` then
fetches each run's failed-activity error (Data Factory / Synapse: queryActivityRuns, following
Execute Pipeline into the child) or failed-task output (Databricks: runs/get + runs/get-output).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from extractors.base import Extractor
from extractors.databricks import enrich_job_run
from extractors.pipeline_runs import PIPELINE_PLATFORMS, api_for, enrich_run, needs_root_cause
from shared.config import Settings
from shared.models import Extraction, Failure, Platform, Source

if TYPE_CHECKING:
    from shared.platforms.databricks import DatabricksWorkspace

_REQUIRED_TEXT = ("source", "platform", "resource")
_OPTIONAL_TEXT = ("pipeline", "run_id", "activity", "error_code", "failure_type", "message", "start", "end")
_MAPPINGS = ("links", "origin", "fingerprint_parts")


def _failure(item: dict[str, Any]) -> tuple[Failure | None, str]:
    """A Failure from one queued item, or why it cannot be one (types are checked, never trusted)."""
    data: dict[str, Any] = {}
    for key in _REQUIRED_TEXT:
        value = item.get(key)
        if not isinstance(value, str) or not value.strip():
            return None, f"{key} is missing or not text"
        data[key] = value
    for key in _OPTIONAL_TEXT:
        value = item.get(key)
        if value is None or isinstance(value, str):
            data[key] = value
        elif isinstance(value, int | float) and not isinstance(value, bool):
            data[key] = str(value)
        else:
            return None, f"{key} is not text"
    for key in _MAPPINGS:
        value = item.get(key)
        if value is not None and not isinstance(value, dict):
            return None, f"{key} is not an object"
        data[key] = dict(value or {})
    level = item.get("level")
    data["level"] = level if isinstance(level, str) and level else "error"
    return Failure(**data), ""


class SweepExtractor(Extractor):
    source = Source.SWEEP.value

    def parse(self, payload: Any) -> Extraction:
        items = payload.get("failures") if isinstance(payload, dict) else None
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            return Extraction(ignored_reason="sweep message without a failures list")
        failures: list[Failure] = []
        problems: list[str] = []
        for index, item in enumerate(items):
            failure, problem = _failure(item)
            if failure is not None:
                failures.append(failure)
            else:
                problems.append(f"failure {index}: {problem}")
        if not failures:
            return Extraction(ignored_reason="sweep message without a valid failure" +
                              (f" ({'; '.join(problems)[:500]})" if problems else ""))
        return Extraction(failures=failures, enrichment_errors=[f"sweep {p} (skipped)" for p in problems])

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
                from shared.platforms.databricks import DatabricksWorkspace  # the SDK loads when it is asked

                databricks = databricks or DatabricksWorkspace(settings)
                enrich_job_run(failure, databricks, extraction.enrichment_errors)
        return extraction
