"""Data Factory (and Synapse) pipelines: rerun a failed run from its failure, in the same run group.

ADF:     pipelines.create_run(reference_pipeline_run_id=<failed run>, is_recovery=True, start_from_failure=True)
Synapse: no start_from_failure in its API: the failed activity is found through the run's activity runs and
         passed as start_activity_name.
The start call is never resent (retries off for it, shared.platforms.adf / synapse): a 5xx, 429 or a timeout
raises UnknownOutcome, and `reconcile` looks for a run of the same run group started since the claim.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, ClassVar

from azure.core.exceptions import HttpResponseError, ServiceResponseError

from remediation.executors.base import Executor, Observation, Outcome, RunCheck, Seen, Submission, UnknownOutcome
from shared.config import Settings
from shared.models import Incident
from shared.platforms.adf import AdfFactory
from shared.platforms.runs import PipelineRunsApi, activity_runs, moment
from shared.timeutil import to_iso, utc_now

RUNNING = frozenset({"InProgress", "Queued", "Canceling"})
SLACK = timedelta(minutes=2)
MAX_RUNS = 500  # runs read per look (a guard against a pipeline with thousands of runs in the window)


def known_runs(incident: Incident) -> set[str]:
    """The failed run and every run remediation already started or adopted for this incident."""
    runs = {str(r) for r in (incident.remediation or {}).get("known_runs", [])}
    return runs | {str(incident.run_id)}


class PipelineExecutor(Executor):
    platform: ClassVar[str] = "adf"
    actions: ClassVar[tuple[str, ...]] = ("adf.rerun_from_failure",)

    def __init__(self, open_api: Callable[[str], PipelineRunsApi]) -> None:
        self.open_api = open_api

    def api(self, incident: Incident) -> PipelineRunsApi:
        return self.open_api(incident.resource)

    def _runs(self, api: PipelineRunsApi, pipeline: str, after: Any, group: str | None = None) -> list[dict[str, Any]]:
        filters: list[dict[str, Any]] = [{"operand": "PipelineName", "operator": "Equals", "values": [pipeline]}]
        if group:
            filters.append({"operand": "RunGroupId", "operator": "Equals", "values": [group]})
        body: dict[str, Any] = {"lastUpdatedAfter": to_iso(after), "lastUpdatedBefore": to_iso(utc_now() + SLACK),
                                "filters": filters, "orderBy": [{"orderBy": "RunStart", "order": "DESC"}]}
        found: list[dict[str, Any]] = []
        tokens: set[str] = set()
        while len(found) < MAX_RUNS:
            page = api.query_pipeline_runs(body)
            found += [r for r in page.get("value") or [] if isinstance(r, dict)]
            token = page.get("continuationToken")
            if not token or not isinstance(token, str) or token in tokens:
                break
            tokens.add(token)
            body = {**body, "continuationToken": token}
        return found

    def look(self, incident: Incident, action: str) -> Observation:
        api = self.api(incident)
        failed = api.get_pipeline_run(str(incident.run_id))
        group = str(failed.get("runGroupId") or incident.run_id)
        started = moment(failed.get("runStart")) or utc_now() - timedelta(days=1)
        known = known_runs(incident)
        others = [r for r in self._runs(api, str(incident.pipeline), started - SLACK)
                  if str(r.get("runId")) not in known]
        for run in others:
            if str(run.get("runGroupId")) == group and run.get("status") in RUNNING:
                return Observation(Seen.ADOPT, f"rerun {run['runId']} of the same run group is already "
                                   f"{run['status']} (made by hand): verifying it instead", {"run_id": run["runId"]})
        for run in others:
            if run.get("status") in RUNNING:
                return Observation(Seen.IN_PROGRESS, f"run {run['runId']} of pipeline {incident.pipeline} is "
                                   f"{run['status']}", {"run_id": run["runId"]})
        for run in others:
            run_start = moment(run.get("runStart"))
            if run.get("status") == "Succeeded" and run_start is not None and run_start > started:
                return Observation(Seen.SUPERSEDED, f"a later run {run['runId']} of pipeline {incident.pipeline} "
                                   f"succeeded at {run.get('runEnd')}", {"run_id": run["runId"]})
        return Observation(Seen.CLEAR, f"no run of pipeline {incident.pipeline} is running or succeeded since the "
                           "failure")

    def rerun_options(self, api: PipelineRunsApi, incident: Incident) -> dict[str, Any]:
        return {"start_from_failure": True}

    def submit(self, incident: Incident, action: str, attempt: int) -> Submission:
        api = self.api(incident)
        options = {"reference_pipeline_run_id": str(incident.run_id), "is_recovery": True,
                   **self.rerun_options(api, incident)}
        call = {"method": "createRun", "pipeline": incident.pipeline, **options}
        try:
            run_id = api.create_run(str(incident.pipeline), **options)
        except HttpResponseError as exc:
            status = getattr(exc, "status_code", None) or 0
            if status >= 500 or status in (408, 429):
                raise UnknownOutcome(f"createRun answered {status}") from exc
            raise
        except ServiceResponseError as exc:  # sent, but no (complete) answer: it may have started
            raise UnknownOutcome(f"createRun got no answer ({type(exc).__name__})") from exc
        return Submission(action, {"run_id": run_id, "run_link": api.run_link(run_id)},
                          [{**call, "result": {"run_id": run_id}}])

    def reconcile(self, incident: Incident, action: str, attempt: int, since: str) -> Submission | None:
        api = self.api(incident)
        failed = api.get_pipeline_run(str(incident.run_id))
        group = str(failed.get("runGroupId") or incident.run_id)
        after = (moment(since) or utc_now()) - SLACK
        known = known_runs(incident)
        for run in self._runs(api, str(incident.pipeline), after, group):
            run_start = moment(run.get("runStart"))
            if str(run.get("runId")) not in known and run_start is not None and run_start >= after:
                run_id = str(run["runId"])
                return Submission(action, {"run_id": run_id, "run_link": api.run_link(run_id)},
                                  [{"method": "queryPipelineRuns", "run_group": group, "result": {"run_id": run_id}}])
        return None

    def check(self, incident: Incident, run_ref: dict[str, Any]) -> RunCheck:
        api = self.api(incident)
        run = api.get_pipeline_run(str(run_ref["run_id"]))
        status = str(run.get("status"))
        if status in RUNNING:
            return RunCheck(Outcome.RUNNING, f"run {run_ref['run_id']} is {status}")
        if status == "Succeeded":
            return RunCheck(Outcome.SUCCEEDED, f"run {run_ref['run_id']} succeeded")
        failed = activity_runs(api, run, status="Failed")
        error = (failed[0].get("error") if failed else None) or {}
        return RunCheck(Outcome.FAILED, f"run {run_ref['run_id']} is {status}",
                        error_code=str(error.get("errorCode") or "") or None,
                        error_message=str(error.get("message") or run.get("message") or ""),
                        activity=str(failed[0].get("activityName")) if failed else None)


class SynapseExecutor(PipelineExecutor):
    platform: ClassVar[str] = "synapse"
    actions: ClassVar[tuple[str, ...]] = ("synapse.rerun_from_activity",)

    def rerun_options(self, api: PipelineRunsApi, incident: Incident) -> dict[str, Any]:
        run = api.get_pipeline_run(str(incident.run_id))
        failed = sorted(activity_runs(api, run, status="Failed"), key=lambda a: str(a.get("activityRunStart") or ""))
        if not failed:
            raise ValueError(f"run {incident.run_id} has no failed activity to rerun from")
        return {"start_activity_name": str(failed[0]["activityName"])}


def create(settings: Settings) -> Executor:
    return PipelineExecutor(lambda resource: AdfFactory(resource, settings))
