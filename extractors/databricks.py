"""Databricks job / task notification webhooks -> failures.

The webhook carries ids only (event type, workspace, run, job, task); the error text comes
from the Jobs API during enrichment.
"""

from __future__ import annotations

from typing import Any

from extractors.base import Extractor
from shared.models import Extraction, Failure, Platform, Source

FAILURE_EVENTS = {"jobs.on_failure"}
WARNING_EVENTS = {"jobs.on_duration_warning_threshold_exceeded"}
IGNORED_EVENTS = {
    "jobs.on_start": "a job start notification, not a failure",
    "jobs.on_success": "a job success notification, not a failure",
}


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


class DatabricksExtractor(Extractor):
    source = Source.DATABRICKS.value

    def parse(self, payload: Any) -> Extraction:
        if not isinstance(payload, dict) or not isinstance(payload.get("event_type"), str):
            return Extraction(ignored_reason="not a Databricks job notification: no event_type "
                              "(configure an HTTP webhook destination on the job's notifications)")
        event = payload["event_type"]
        run: dict[str, Any] = payload["run"] if isinstance(payload.get("run"), dict) else {}
        job: dict[str, Any] = payload["job"] if isinstance(payload.get("job"), dict) else {}
        task: dict[str, Any] = payload["task"] if isinstance(payload.get("task"), dict) else {}
        if event in IGNORED_EVENTS:
            return Extraction(ignored_reason=IGNORED_EVENTS[event])
        if event not in FAILURE_EVENTS | WARNING_EVENTS:
            return Extraction(ignored_reason=f"unsupported Databricks event type {event!r}")
        # A task event's own run id is the task run; the job run is its parent. The incident is the job run.
        job_run = _text(run.get("parent_run_id")) or _text(run.get("run_id"))
        workspace = _text(payload.get("workspace_id")) or "databricks"
        failure = Failure(
            source=self.source,
            platform=Platform.DATABRICKS.value,
            resource=workspace,
            pipeline=_text(job.get("name")) or _text(job.get("job_id")),
            run_id=job_run,
            activity=_text(task.get("task_key")),
            message=("run exceeded its duration warning threshold" if event in WARNING_EVENTS else None),
            origin={"event_type": event, "job_id": _text(job.get("job_id")), "run_id": _text(run.get("run_id")),
                    "parent_run_id": _text(run.get("parent_run_id")), "workspace_id": workspace},
            fingerprint_parts={"event": event, "job": job, "run": run, "task": task, "workspace": workspace},
            level="warning" if event in WARNING_EVENTS else "error",
        )
        return Extraction(failures=[failure], alert_key=None)
