"""The exact error of Data Factory / Synapse failures, from the pipeline-run APIs.

- A failure without a run id (a metric alert such as PipelineFailedRuns: only a pipeline name and
  a window) becomes one failure per failed run in the window (queryPipelineRuns, Status=Failed,
  the pipeline, the window plus ENRICHMENT_WINDOW_SLACK_MINUTES; continuationToken followed).
- A failure with a run id gets its failed activity's error (queryActivityRuns -> error
  {errorCode, message, failureType, target}); an Execute Pipeline failure is followed into the
  child run (activity output pipelineRunId), where the root cause is.
Every produced failure keeps the alert's origin (origin["alert_id"]: a Resolved alert finds its
incidents by it). Any API problem is recorded in `enrichment_errors` and the failure is kept as
it was: nothing is lost.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from shared.config import Settings
from shared.models import Extraction, Failure, Platform
from shared.platforms.adf import AdfFactory
from shared.platforms.common import error_text, optional_setting
from shared.platforms.runs import PipelineRunsApi, activity_runs, iter_run_pages, moment, reported_by_parent
from shared.platforms.synapse import SynapseWorkspace
from shared.scope import out_of_scope_reason
from shared.timeutil import to_iso

log = logging.getLogger(__name__)
MAX_CHILD_DEPTH = 5
PIPELINE_PLATFORMS = (Platform.ADF.value, Platform.SYNAPSE.value)
# Metrics about triggers: no pipeline, no run -- looking up "failed runs in the window" would report
# unrelated pipeline runs instead of the trigger failure.
TRIGGER_METRICS = frozenset({"triggerfailedruns", "integrationtriggerrunsended"})
# At most this many failures come out of one alert (at least ENRICHMENT_MAX_RUNS); the rest is
# recorded in enrichment_errors (the sweep reports them one by one).
MAX_FAILURES_PER_ALERT = 100


def api_for(failure: Failure, settings: Settings) -> PipelineRunsApi:
    if failure.platform == Platform.SYNAPSE.value:
        return SynapseWorkspace(failure.resource, settings)
    return AdfFactory(failure.resource, settings)


def needs_root_cause(failure: Failure) -> bool:
    return not (failure.message and failure.error_code and failure.activity)


def enrich_pipeline_failures(extraction: Extraction, settings: Settings) -> Extraction:
    """Replace / complete the ADF and Synapse failures of an alert with what the APIs say."""
    out: list[Failure] = []
    apis: dict[tuple[str, str], PipelineRunsApi] = {}
    for failure in extraction.failures:
        if failure.platform not in PIPELINE_PLATFORMS or failure.level != "error":
            out.append(failure)
            continue
        refused = out_of_scope_reason(settings, failure.resource)
        if refused:  # the alert names the resource: only those the operator allowed are ever called
            extraction.enrichment_errors.append(f"did not fetch the error of {failure.pipeline or 'the pipeline'}: "
                                                f"{refused}")
            out.append(failure)
            continue
        try:
            key = (failure.platform, failure.resource.lower())
            api = apis[key] if key in apis else apis.setdefault(key, api_for(failure, settings))
        except ValueError as exc:
            extraction.enrichment_errors.append(f"cannot fetch the error of {failure.pipeline or 'the pipeline'}: "
                                                f"{exc} (the alert does not name the factory / workspace)")
            out.append(failure)
            continue
        if not failure.run_id and str(failure.origin.get("metric") or "").lower() in TRIGGER_METRICS:
            out.append(failure)  # a trigger failure is not a pipeline run: keep it as the alert said
            continue
        if failure.run_id:
            if needs_root_cause(failure):
                enrich_run(failure, api, extraction.enrichment_errors)
            out.append(failure)
        else:
            out += failed_runs_of_alert(failure, api, settings, extraction.enrichment_errors)
    for api in apis.values():
        calls = {k: v for k, v in api.calls.items() if v}
        for failure in out:
            if failure.resource.lower() == api.resource_id.lower() and failure.platform == api.platform:
                failure.origin["enrichment"] = {"api": api.platform, "calls": calls}
    extraction.failures = out
    return extraction


def failed_runs_of_alert(template: Failure, api: PipelineRunsApi, settings: Settings,
                         errors: list[str]) -> list[Failure]:
    """One failure per failed run of the alert's pipeline in its window (or the template, unchanged)."""
    start = moment(template.origin.get("window_start") or template.start)
    end = moment(template.origin.get("window_end") or template.end or template.origin.get("fired"))
    if end is None:
        errors.append("the alert has no time window, so its failed runs cannot be looked up")
        return [template]
    slack = timedelta(minutes=int(settings.get("ENRICHMENT_WINDOW_SLACK_MINUTES") or 5))
    after, before = (start or end - timedelta(hours=1)) - slack, end + slack
    max_runs = int(optional_setting(settings, "ENRICHMENT_MAX_RUNS", "25"))
    cap = max(MAX_FAILURES_PER_ALERT, max_runs)
    runs: list[dict[str, Any]] = []
    overflow = False
    try:
        for page in iter_run_pages(api, after, before, pipeline=template.pipeline, status="Failed"):
            runs += page
            if len(runs) > cap:
                overflow = True
                break
    except Exception as exc:  # keep what was found; the rest is recorded
        errors.append(error_text(exc, f"queryPipelineRuns for {template.pipeline or 'all pipelines'}"))
    failed_ids = {str(r.get("runId")) for r in runs}
    found: list[Failure] = []
    for run in runs:
        if reported_by_parent(run, failed_ids):
            continue  # a child run whose parent failed too: the parent reports the child's error
        if len(found) >= cap:
            overflow = True
            break
        failure = failure_from_run(template, api, run)
        if len(found) < max_runs:
            enrich_run(failure, api, errors, run=run)
        found.append(failure)
    if overflow:
        errors.append(f"more than {cap} failed runs in the window; only the first {cap} became failures of this "
                      "alert (the others are not reported by this alert; the sweep, when enabled, finds them)")
    if len(found) > max_runs:
        errors.append(f"{len(found)} failed runs in the window; the activity errors of the first {max_runs} were "
                      "fetched (ENRICHMENT_MAX_RUNS), the others keep the run's own message")
    if found:
        return found
    if not any("queryPipelineRuns" in e for e in errors):
        errors.append(f"no failed run of {template.pipeline or 'any pipeline'} was found between {to_iso(after)} and "
                      f"{to_iso(before)}; the incident keeps what the alert carried")
    return [template]


def failure_from_run(template: Failure, api: PipelineRunsApi, run: dict[str, Any]) -> Failure:
    data = template.to_dict()
    data.update(origin=dict(template.origin), links=dict(template.links),
                fingerprint_parts=dict(template.fingerprint_parts))
    failure = Failure.from_dict(data)
    failure.run_id = str(run.get("runId"))
    failure.pipeline = str(run.get("pipelineName") or template.pipeline or "") or None
    failure.start = _iso(run.get("runStart")) or template.start
    failure.end = _iso(run.get("runEnd") or run.get("lastUpdated")) or template.end
    failure.message = str(run.get("message") or "") or template.message
    failure.links["run"] = api.run_link(failure.run_id)
    failure.origin["run_status"] = run.get("status")
    invoked = run.get("invokedBy")
    if isinstance(invoked, dict) and invoked.get("pipelineRunId"):
        failure.origin["parent_run_id"] = invoked.get("pipelineRunId")
    return failure


def enrich_run(failure: Failure, api: PipelineRunsApi, errors: list[str], *, run: dict[str, Any] | None = None) -> None:
    """Fill activity, error code, failure type and the complete message from the failed activity."""
    try:
        if run is None:
            run = api.get_pipeline_run(str(failure.run_id))
            failure.pipeline = failure.pipeline or run.get("pipelineName")
            failure.start = _iso(run.get("runStart")) or failure.start
            failure.end = _iso(run.get("runEnd") or run.get("lastUpdated")) or failure.end
            failure.message = failure.message or run.get("message") or None
            failure.links.setdefault("run", api.run_link(str(failure.run_id)))
        _root_cause(failure, api, run, [], errors)
    except Exception as exc:
        errors.append(error_text(exc, f"activity runs of run {failure.run_id}"))


def _root_cause(failure: Failure, api: PipelineRunsApi, run: dict[str, Any], chain: list[dict[str, Any]],
                errors: list[str]) -> None:
    failed = [a for a in activity_runs(api, run, status="Failed") if str(a.get("status")) == "Failed"]
    if not failed:
        return
    failed.sort(key=lambda a: str(a.get("activityRunEnd") or ""))
    wanted = [a for a in failed if not chain and failure.activity and a.get("activityName") == failure.activity]
    root = (wanted or failed)[0]
    output: dict[str, Any] = root["output"] if isinstance(root.get("output"), dict) else {}
    child_id = output.get("pipelineRunId") if str(root.get("activityType")) == "ExecutePipeline" else None
    if child_id and len(chain) < MAX_CHILD_DEPTH:
        step = {"pipeline": run.get("pipelineName"), "run_id": run.get("runId"), "activity": root.get("activityName"),
                "child_pipeline": output.get("pipelineName"), "child_run_id": child_id}
        child = {"runId": child_id, "pipelineName": output.get("pipelineName"),
                 "runStart": root.get("activityRunStart"), "runEnd": root.get("activityRunEnd")}
        failure.origin["execute_pipeline"] = [*chain, step]
        failure.links[f"child_run_{len(chain) + 1}"] = api.run_link(str(child_id))
        before = failure.activity
        failure.activity = None
        try:
            _root_cause(failure, api, child, [*chain, step], errors)
        except Exception as exc:  # report the Execute Pipeline activity's own error instead
            errors.append(error_text(exc, f"child run {child_id} of {root.get('activityName')}"))
        if failure.activity:
            return
        failure.activity = before  # the child had no failed activity: report the Execute Pipeline one
    error: dict[str, Any] = root["error"] if isinstance(root.get("error"), dict) else {}
    failure.activity = str(root.get("activityName") or "") or failure.activity
    failure.error_code = str(error.get("errorCode") or "") or failure.error_code
    failure.failure_type = str(error.get("failureType") or "") or failure.failure_type
    failure.message = str(error.get("message") or "") or failure.message
    failure.origin.update({"activity_type": root.get("activityType"), "activity_run_id": root.get("activityRunId"),
                           "error_target": error.get("target")})
    if error.get("details"):
        failure.origin["error_details"] = error.get("details")
    others = [{"activity": a.get("activityName"), "error_code": (a.get("error") or {}).get("errorCode"),
               "message": str((a.get("error") or {}).get("message") or "")[:500]} for a in failed if a is not root]
    if others:
        failure.origin["other_failed_activities"] = others


def _iso(value: Any) -> str | None:
    found = moment(value)
    return to_iso(found) if found else None
