"""Databricks job / task notification webhooks -> failures.

The webhook carries ids only (event_type, workspace_id, run.run_id [+ parent_run_id for a task
event], job.job_id / job.name, task.task_key). `jobs.on_failure` is a failure;
`jobs.on_duration_warning_threshold_exceeded` is recorded as a warning; on_start / on_success are
ignored. The incident is the job run (a task event's parent_run_id).

`enrich` asks the Jobs API (databricks-sdk): runs/get for the failed tasks' state_message and
termination_details, runs/get-output per failed task for error and error_trace, the cluster's
TERMINATING event reason (code, type, parameters) when the cluster is to blame, and the failed
libraries when a library installation failed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from extractors.base import Extractor
from shared.config import Settings
from shared.models import Extraction, Failure, Platform, Source
from shared.platforms.common import error_text

if TYPE_CHECKING:
    from shared.platforms.databricks import DatabricksWorkspace

FAILURE_EVENTS = {"jobs.on_failure"}
WARNING_EVENTS = {"jobs.on_duration_warning_threshold_exceeded"}
IGNORED_EVENTS = {
    "jobs.on_start": "a job start notification, not a failure",
    "jobs.on_success": "a job success notification, not a failure",
}
ROOT_RESULT_STATES = frozenset({"FAILED", "TIMEDOUT"})  # UPSTREAM_FAILED / SKIPPED tasks are victims
MAX_OUTPUTS = 5  # get-output calls per run
CLUSTER_HINTS = ("CLUSTER", "DRIVER", "CLOUD", "SPARK_STARTUP", "INSTANCE", "INIT_SCRIPT")


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _ms(value: Any) -> str | None:
    try:
        millis = int(value)
    except (TypeError, ValueError):
        return None
    return datetime.fromtimestamp(millis / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if millis > 0 else None


class DatabricksExtractor(Extractor):
    source = Source.DATABRICKS.value

    def parse(self, payload: Any) -> Extraction:
        if not isinstance(payload, dict) or not isinstance(payload.get("event_type"), str):
            api = isinstance(payload, dict) and bool({"run_id", "tasks", "events", "error_trace"} & set(payload))
            what = "a Databricks REST API response (runs/get, runs/get-output or clusters/events)" if api else \
                "not a Databricks job notification"
            return Extraction(ignored_reason=f"{what}: no event_type; this endpoint takes job notification webhooks "
                              "(add an HTTP webhook destination to the job's notifications)")
        event = payload["event_type"]
        run: dict[str, Any] = payload["run"] if isinstance(payload.get("run"), dict) else {}
        job: dict[str, Any] = payload["job"] if isinstance(payload.get("job"), dict) else {}
        task: dict[str, Any] = payload["task"] if isinstance(payload.get("task"), dict) else {}
        if event in IGNORED_EVENTS:
            return Extraction(ignored_reason=IGNORED_EVENTS[event])
        if event not in FAILURE_EVENTS | WARNING_EVENTS:
            return Extraction(ignored_reason=f"unsupported Databricks event type {event!r}")
        job_run = _text(run.get("parent_run_id")) or _text(run.get("run_id"))
        workspace = _text(payload.get("workspace_id")) or "databricks"
        warning = event in WARNING_EVENTS
        failure = Failure(
            source=self.source, platform=Platform.DATABRICKS.value, resource=workspace,
            pipeline=_text(job.get("name")) or _text(job.get("job_id")), run_id=job_run,
            activity=_text(task.get("task_key")),
            message="the run exceeded its duration warning threshold" if warning else None,
            origin={"event_type": event, "job_id": _text(job.get("job_id")), "run_id": _text(run.get("run_id")),
                    "parent_run_id": _text(run.get("parent_run_id")), "workspace_id": workspace},
            fingerprint_parts={"event": event, "job": job, "run": run, "task": task, "workspace": workspace},
            level="warning" if warning else "error",
        )
        return Extraction(failures=[failure])

    def enrich(self, extraction: Extraction, settings: Settings) -> Extraction:
        from shared.platforms.databricks import DatabricksWorkspace  # the SDK loads only when enrichment runs

        workspace = DatabricksWorkspace(settings)
        for failure in extraction.failures:
            if failure.platform == Platform.DATABRICKS.value and failure.level == "error":
                enrich_job_run(failure, workspace, extraction.enrichment_errors)
        return extraction


def enrich_job_run(failure: Failure, workspace: DatabricksWorkspace, errors: list[str]) -> None:
    """Fill the failure from runs/get, runs/get-output, cluster events and library statuses."""
    try:
        run_id = int(str(failure.run_id))
    except ValueError:
        errors.append(f"run id {failure.run_id!r} is not a Databricks run id; the error cannot be fetched")
        return
    try:
        run = workspace.get_run(run_id)
    except Exception as exc:
        errors.append(error_text(exc, f"runs/get {run_id}"))
        return
    failure.pipeline = failure.pipeline if failure.pipeline and failure.pipeline != failure.origin.get(
        "job_id") else _text(run.get("run_name")) or failure.pipeline
    failure.start, failure.end = _ms(run.get("start_time")) or failure.start, _ms(run.get("end_time")) or failure.end
    if run.get("run_page_url"):
        failure.links["run"] = str(run["run_page_url"])
    tasks = [t for t in run.get("tasks") or [] if isinstance(t, dict)] or [{**run, "task_key": None}]
    failed = [t for t in tasks if str((t.get("state") or {}).get("result_state") or "") in ROOT_RESULT_STATES
              or (t.get("state") or {}).get("life_cycle_state") == "INTERNAL_ERROR"]
    failed.sort(key=lambda t: (t.get("task_key") != failure.activity, int(t.get("end_time") or 0)))
    if not failed:
        state = run.get("state") or {}
        failure.message = failure.message or _text(state.get("state_message"))
        _termination(failure, run)
        return
    summaries = []
    for index, task in enumerate(failed[:MAX_OUTPUTS]):
        summaries.append(_task_error(task, workspace, errors, fetch=True))
        if index == 0:
            _apply(failure, task, summaries[0], run)
    summaries += [_task_error(t, workspace, errors, fetch=False) for t in failed[MAX_OUTPUTS:]]
    if len(summaries) > 1:
        failure.origin["failed_tasks"] = [{k: v for k, v in s.items() if k != "error_trace"} for s in summaries]
    _cluster_and_libraries(failure, failed[0], workspace, errors)


def _task_error(task: dict[str, Any], workspace: DatabricksWorkspace, errors: list[str], *,
                fetch: bool) -> dict[str, Any]:
    state = task.get("state") or {}
    summary: dict[str, Any] = {"task": task.get("task_key"), "run_id": task.get("run_id"),
                               "state_message": _text(state.get("state_message"))}
    if fetch and task.get("run_id") is not None:
        try:
            output = workspace.get_run_output(int(task["run_id"]))
            summary.update(error=_text(output.get("error")), error_trace=_text(output.get("error_trace")))
        except Exception as exc:
            errors.append(error_text(exc, f"runs/get-output {task.get('run_id')}"))
    return summary


def _apply(failure: Failure, task: dict[str, Any], summary: dict[str, Any], run: dict[str, Any]) -> None:
    failure.activity = _text(task.get("task_key")) or failure.activity
    failure.message = summary.get("error") or summary.get("state_message") or failure.message
    if summary.get("error") and summary.get("state_message") and summary["state_message"] not in summary["error"]:
        failure.origin["state_message"] = summary["state_message"]
    if summary.get("error_trace"):
        failure.origin["error_trace"] = summary["error_trace"]
    failure.origin["task_run_id"] = _text(task.get("run_id"))
    if task.get("run_page_url"):
        failure.links["task_run"] = str(task["run_page_url"])
    _termination(failure, task, fallback=run)


def _termination(failure: Failure, item: dict[str, Any], fallback: dict[str, Any] | None = None) -> None:
    for source in (item, fallback or {}):
        details = (source.get("status") or {}).get("termination_details") or {}
        code = _text(details.get("code"))
        if code and code != "SUCCESS":
            failure.error_code = failure.error_code or code
            failure.failure_type = failure.failure_type or _text(details.get("type"))
            if details.get("message") and not failure.message:
                failure.message = str(details["message"])
            return


def _cluster_and_libraries(failure: Failure, task: dict[str, Any], workspace: DatabricksWorkspace,
                           errors: list[str]) -> None:
    cluster_id = _text((task.get("cluster_instance") or {}).get("cluster_id")) or _text(task.get("existing_cluster_id"))
    if not cluster_id:
        return
    failure.origin["cluster_id"] = cluster_id
    text = f"{(task.get('state') or {}).get('state_message') or ''} {failure.error_code or ''}".upper()
    if "LIBRAR" in text:
        try:
            libraries = workspace.failed_libraries(cluster_id)
        except Exception as exc:
            errors.append(error_text(exc, f"libraries/cluster-status {cluster_id}"))
            libraries = []
        failure.origin["failed_libraries"] = libraries
        failure.error_code = failure.error_code or "LIBRARY_INSTALLATION_FAILED"
    internal = (task.get("state") or {}).get("life_cycle_state") == "INTERNAL_ERROR"
    if any(hint in text for hint in CLUSTER_HINTS) or (internal and "LIBRAR" not in text):
        start, end = int(task.get("start_time") or 0) or None, int(task.get("end_time") or 0) or None
        try:
            reason = workspace.cluster_termination(cluster_id, start, end + 3_600_000 if end else None)
        except Exception as exc:
            errors.append(error_text(exc, f"clusters/events {cluster_id}"))
            return
        if reason:
            failure.origin["cluster_termination"] = reason
            failure.error_code = failure.error_code or _text(reason.get("code"))
            failure.failure_type = failure.failure_type or _text(reason.get("type"))
