"""SIMULATED Azure Data Factory (and Synapse pipelines) REST API for tests and the local demo.

Not Azure: a threaded stdlib HTTP server on 127.0.0.1 that answers the real request / response
shapes over an in-memory model that tests fill:

  {arm}/subscriptions/{s}/resourceGroups/{g}/providers/Microsoft.DataFactory/factories/{f}  (2018-06-01)
    POST /queryPipelineRuns                       filters, orderBy, continuationToken paging
    POST /pipelineruns/{runId}/queryActivityruns  filters, continuationToken paging
    GET  /pipelineruns/{runId}
    POST /pipelines/{pipeline}/createRun          referencePipelineRunId, isRecovery, startFromFailure, ...
  Synapse, SYNAPSE_ENDPOINT = "{url}/synapse/{workspace}" (2020-12-01): /queryPipelineRuns,
    /pipelines/{p}/pipelineruns/{id}/queryActivityruns, /pipelineruns/{id}, /pipelines/{p}/createRun

`counts` holds the requests per endpoint; `inject` makes requests fail (401, 429 + Retry-After)
or answer slowly (the generic server is tools.simulators.base).

Remediation: createRun with referencePipelineRunId + isRecovery makes a rerun in the same run group
(`runGroupId`, filterable as RunGroupId) that reruns from the failed activity (startFromFailure) or from
startActivityName; it is InProgress for `rerun_seconds`, then ends as the pipeline's next scripted outcome
(`rerun_outcomes[pipeline]`, e.g. ["Failed", "Succeeded"]). `fail_after_start = n` makes the next n createRun
calls start the run and answer 500; `created_runs` records each createRun with its query flags.
"""

from __future__ import annotations

import base64
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from shared.timeutil import parse_iso, to_iso, utc_now
from tools.simulators.base import Fault, Response, Seen, SimServer

__all__ = ["DEMO_ERRORS", "AdfSimulator", "Fault", "Response", "Seen", "SimActivity", "SimFactory", "SimRun",
           "SimServer", "activity_error", "pipeline_failed_runs_alert", "start_demo_factory"]

ADF_API_VERSION = "2018-06-01"
SYNAPSE_API_VERSION = "2020-12-01"


# ------------------------------------------------------------------------------------------
# In-memory Data Factory model
# ------------------------------------------------------------------------------------------
@dataclass
class SimActivity:
    name: str
    type: str = "Copy"
    status: str = "Succeeded"
    error: dict[str, Any] | None = None
    output: dict[str, Any] = field(default_factory=dict)
    activity_run_id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass
class SimRun:
    run_id: str
    pipeline: str
    status: str
    run_start: datetime
    run_end: datetime | None
    message: str = ""
    activities: list[SimActivity] = field(default_factory=list)
    invoked_by: dict[str, Any] = field(default_factory=lambda: {"name": "Manual", "id": uuid.uuid4().hex,
                                                                 "invokedByType": "Manual"})
    parameters: dict[str, Any] = field(default_factory=dict)
    run_group_id: str = ""  # reruns (isRecovery) share the group of the run they rerun
    # A rerun in progress ends at `finish_at` with `final_status` (and `final_error` on the failed activity).
    finish_at: datetime | None = None
    final_status: str = "Succeeded"
    final_error: dict[str, Any] | None = None

    @property
    def last_updated(self) -> datetime:
        return self.run_end or self.run_start

    def refresh(self, now: datetime) -> None:
        """Finish a scripted rerun whose time has come."""
        if self.finish_at is None or now < self.finish_at or self.status not in ("InProgress", "Queued"):
            return
        self.status, self.run_end = self.final_status, self.finish_at
        for activity in self.activities:
            activity.status = "Succeeded"
        if self.final_status == "Failed" and self.activities:
            self.activities[-1].status = "Failed"
            self.activities[-1].error = self.final_error
            self.message = f"Operation on target {self.activities[-1].name} failed: " + \
                str((self.final_error or {}).get("message", ""))

    def as_json(self) -> dict[str, Any]:
        duration = int((self.run_end - self.run_start).total_seconds() * 1000) if self.run_end else None
        return {"runId": self.run_id, "runGroupId": self.run_group_id or self.run_id, "pipelineName": self.pipeline,
                "parameters": self.parameters, "invokedBy": self.invoked_by, "runStart": to_iso(self.run_start),
                "runEnd": to_iso(self.run_end) if self.run_end else None, "durationInMs": duration,
                "status": self.status, "message": self.message, "lastUpdated": to_iso(self.last_updated),
                "annotations": [], "runDimension": {}}

    def activity_json(self, index: int, a: SimActivity) -> dict[str, Any]:
        start = self.run_start + timedelta(seconds=5 * index)
        end = max(start, (self.run_end or start) - timedelta(seconds=5 * (len(self.activities) - 1 - index)))
        error = a.error or {"errorCode": "", "message": "", "failureType": "", "target": a.name}
        return {"activityRunEnd": to_iso(end), "activityName": a.name, "activityRunStart": to_iso(start),
                "activityType": a.type, "durationInMs": int((end - start).total_seconds() * 1000),
                "retryAttempt": None, "error": error, "activityRunId": a.activity_run_id, "input": {},
                "linkedServiceName": "", "output": a.output, "userProperties": {}, "pipelineName": self.pipeline,
                "pipelineRunId": self.run_id, "status": a.status}


def activity_error(message: str, code: str = "2200", failure_type: str = "UserError", target: str = "",
                   details: list[Any] | None = None) -> dict[str, Any]:
    """An ActivityRun.error object as Data Factory returns it."""
    return {"errorCode": code, "message": message, "failureType": failure_type, "target": target,
            "details": details or []}


@dataclass
class SimFactory:
    """A factory (or Synapse workspace) with its pipeline runs."""

    subscription: str
    resource_group: str
    name: str
    provider: str = "Microsoft.DataFactory/factories"
    runs: dict[str, SimRun] = field(default_factory=dict)
    pipelines: set[str] = field(default_factory=set)
    created_runs: list[dict[str, Any]] = field(default_factory=list)  # what createRun was asked
    # Scripted reruns: per pipeline, the outcome of each next rerun ("Failed" / "Succeeded"; default Succeeded),
    # reached `rerun_seconds` after createRun.
    rerun_outcomes: dict[str, list[str]] = field(default_factory=dict)
    rerun_seconds: float = 1.0
    # Fault: the next N createRun calls start the run and then answer 500 (the caller cannot know it started).
    fail_after_start: int = 0
    # Fault: the next N createRun calls answer 500 WITHOUT starting a run (reconcile finds nothing).
    fail_before_start: int = 0

    def refresh(self, now: datetime) -> None:
        for run in self.runs.values():
            run.refresh(now)

    @property
    def resource_id(self) -> str:
        return (f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
                f"/providers/{self.provider}/{self.name}")

    def add_run(self, pipeline: str, status: str = "Succeeded", *, start: datetime | None = None,
                duration: timedelta = timedelta(minutes=3), activities: list[SimActivity] | None = None,
                run_id: str | None = None, message: str = "") -> SimRun:
        start = start or utc_now() - duration
        end = None if status in ("InProgress", "Queued") else start + duration
        run = SimRun(run_id or str(uuid.uuid4()), pipeline, status, start, end, message,
                     activities if activities is not None else [SimActivity("Copy data")])
        self.runs[run.run_id] = run
        self.pipelines.add(pipeline)
        return run

    def add_failed_run(self, pipeline: str, message: str, *, code: str = "2200", failure_type: str = "UserError",
                       activity: str = "Copy data", activity_type: str = "Copy", start: datetime | None = None,
                       run_id: str | None = None, error: dict[str, Any] | None = None,
                       duration: timedelta = timedelta(minutes=3)) -> SimRun:
        """A run whose second activity failed with `message` (or with the given error object)."""
        error = error or activity_error(message, code, failure_type, activity)
        acts = [SimActivity("Lookup watermark", "Lookup"), SimActivity(activity, activity_type, "Failed", error)]
        return self.add_run(pipeline, "Failed", start=start, activities=acts, run_id=run_id, duration=duration,
                            message=f"Operation on target {activity} failed: {error.get('message', '')}")

    def add_execute_pipeline_failure(self, parent: str, child: str, message: str, *, code: str = "2200",
                                     child_activity: str = "Copy data", start: datetime | None = None
                                     ) -> tuple[SimRun, SimRun]:
        """A parent run whose Execute Pipeline activity failed because its child run failed."""
        start = start or utc_now() - timedelta(minutes=10)
        parent_id = str(uuid.uuid4())
        child_run = self.add_failed_run(child, message, code=code, activity=child_activity,
                                        start=start + timedelta(seconds=30))
        child_run.invoked_by = {"name": "Run child", "id": uuid.uuid4().hex, "invokedByType": "PipelineActivity",
                                "pipelineName": parent, "pipelineRunId": parent_id}
        outer = f"Operation on target {child_activity} failed: {message}"
        act = SimActivity("Run child", "ExecutePipeline", "Failed",
                          activity_error(outer, code, "UserError", "Run child"),
                          output={"pipelineName": child, "pipelineRunId": child_run.run_id})
        parent_run = self.add_run(parent, "Failed", start=start, duration=timedelta(minutes=5), run_id=parent_id,
                                  activities=[act], message=f"Operation on target Run child failed: {outer}")
        return parent_run, child_run


_ARM = r"^/subscriptions/[^/]+/resourcegroups/[^/]+/providers/microsoft\.datafactory/factories/([^/]+)"
_SYN = r"^/synapse/([^/]+)"
# (method, path pattern, endpoint name, handler); group 1 names the factory / workspace.
_ROUTES: list[tuple[str, str, str, str]] = [
    ("POST", r"/querypipelineruns$", "queryPipelineRuns", "_runs_page"),
    ("GET", r"/pipelineruns/([^/]+)$", "getPipelineRun", "_one_run"),
    ("POST", r"/pipelines/([^/]+)/createrun$", "createRun", "_new_run"),
]
_ACTIVITY_ROUTES = {"adf": r"/pipelineruns/([^/]+)/queryactivityruns$",
                    "synapse": r"/pipelines/[^/]+/pipelineruns/([^/]+)/queryactivityruns$"}
_RUN_FIELDS = {"pipelinename": "pipelineName", "status": "status", "runid": "runId", "rungroupid": "runGroupId",
               "runstart": "runStart", "runend": "runEnd", "lastupdated": "lastUpdated"}
_ACTIVITY_FIELDS = {"activityname": "activityName", "activitytype": "activityType", "status": "status",
                    "activityrunid": "activityRunId", "activityrunstart": "activityRunStart",
                    "activityrunend": "activityRunEnd", "pipelinename": "pipelineName"}


def _matches(item: dict[str, Any], filters: list[dict[str, Any]], fields: dict[str, str]) -> bool:
    for f in filters:
        name = fields.get(str(f.get("operand", "")).lower())
        if name is None:
            continue
        hit = str(item.get(name) or "").lower() in {str(v).lower() for v in f.get("values") or []}
        operator = str(f.get("operator", "Equals")).lower()
        if (operator in ("equals", "in") and not hit) or (operator in ("notequals", "notin") and hit):
            return False
    return True


class AdfSimulator(SimServer):
    """SIMULATED Data Factory / Synapse pipelines. Fill it with `add_factory` / `add_workspace`."""

    def __init__(self, port: int = 0, page_size: int = 100) -> None:
        super().__init__(port)
        self.page_size = page_size
        self.factories: dict[str, SimFactory] = {}
        self.workspaces: dict[str, SimFactory] = {}
        self._routes: list[tuple[str, re.Pattern[str], str, str, str]] = []
        for kind, prefix in (("adf", _ARM), ("synapse", _SYN)):
            for method, suffix, name, attr in [*_ROUTES, ("POST", _ACTIVITY_ROUTES[kind], "queryActivityRuns",
                                                          "_activities_page")]:
                self._routes.append((method, re.compile(prefix + suffix, re.IGNORECASE), name, attr, kind))

    def add_factory(self, name: str = "sim-factory", subscription: str = "00000000-0000-0000-0000-000000000000",
                    resource_group: str = "sim-rg") -> SimFactory:
        factory = SimFactory(subscription, resource_group, name)
        self.factories[name.lower()] = factory
        return factory

    def add_workspace(self, name: str = "sim-synapse", subscription: str = "00000000-0000-0000-0000-000000000000",
                      resource_group: str = "sim-rg") -> SimFactory:
        workspace = SimFactory(subscription, resource_group, name, "Microsoft.Synapse/workspaces")
        self.workspaces[name.lower()] = workspace
        return workspace

    def synapse_endpoint_template(self) -> str:
        """The SYNAPSE_ENDPOINT setting that points at this simulator."""
        return f"{self.url}/synapse/{{workspace}}"

    def route(self, method: str, path: str) -> tuple[str, Any, tuple[str, ...]] | None:
        for m, pattern, name, attr, kind in self._routes:
            match = pattern.match(path)
            if m == method and match:
                return name, getattr(self, attr), (kind, *match.groups())
        return None

    def _find(self, kind: str, name: str, q: dict[str, str]) -> tuple[SimFactory | None, Response | None]:
        version = SYNAPSE_API_VERSION if kind == "synapse" else ADF_API_VERSION
        factory = (self.workspaces if kind == "synapse" else self.factories).get(name.lower())
        if q.get("api-version") != version:
            return None, (400, {}, self.error_body(400, "InvalidApiVersionParameter", f"api-version must be {version}"))
        if factory is None:
            return None, (404, {}, self.error_body(404, "ResourceNotFound", f"no factory / workspace {name}"))
        return factory, None

    def _page(self, items: list[dict[str, Any]], body: dict[str, Any], fields: dict[str, str]) -> Response:
        order = (body.get("orderBy") or [{}])[0] if isinstance(body.get("orderBy"), list) else {}
        default = "lastUpdated" if "runId" in fields.values() else "activityRunStart"
        key = fields.get(str(order.get("orderBy", "")).lower(), default)
        items.sort(key=lambda i: str(i.get(key) or ""), reverse=str(order.get("order", "DESC")).upper() == "DESC")
        token = body.get("continuationToken")
        offset = int(base64.b64decode(str(token)).decode()) if token else 0
        nxt = offset + self.page_size
        more = base64.b64encode(str(nxt).encode()).decode() if nxt < len(items) else None
        return 200, {}, {"value": items[offset:nxt], "continuationToken": more}

    def _window(self, body: dict[str, Any]) -> tuple[datetime, datetime] | None:
        try:
            return parse_iso(str(body["lastUpdatedAfter"])), parse_iso(str(body["lastUpdatedBefore"]))
        except (KeyError, ValueError):
            return None

    def _find_fresh(self, kind: str, name: str, q: dict[str, str]) -> tuple[SimFactory | None, Response | None]:
        factory, problem = self._find(kind, name, q)
        if factory is not None:
            with self.lock:
                factory.refresh(utc_now())
        return factory, problem

    def _runs_page(self, q: dict[str, str], body: dict[str, Any], kind: str, name: str) -> Response:
        factory, problem = self._find_fresh(kind, name, q)
        window = self._window(body)
        if factory is None or window is None:
            return problem or (400, {}, self.error_body(400, "BadRequest", "lastUpdatedAfter/Before are required"))
        with self.lock:
            runs = [r.as_json() for r in factory.runs.values() if window[0] <= r.last_updated <= window[1]]
        return self._page([r for r in runs if _matches(r, body.get("filters") or [], _RUN_FIELDS)], body, _RUN_FIELDS)

    def _activities_page(self, q: dict[str, str], body: dict[str, Any], kind: str, name: str,
                         run_id: str) -> Response:
        factory, problem = self._find_fresh(kind, name, q)
        window = self._window(body)
        if factory is None or window is None:
            return problem or (400, {}, self.error_body(400, "BadRequest", "lastUpdatedAfter/Before are required"))
        run = factory.runs.get(run_id)
        if run is None:
            return 404, {}, self.error_body(404, "PipelineRunNotFound", f"pipeline run {run_id} not found")
        items = [run.activity_json(i, a) for i, a in enumerate(run.activities)]
        items = [a for a in items if window[0] <= parse_iso(a["activityRunEnd"]) <= window[1]
                 and _matches(a, body.get("filters") or [], _ACTIVITY_FIELDS)]
        return self._page(items, body, _ACTIVITY_FIELDS)

    def _one_run(self, q: dict[str, str], body: dict[str, Any], kind: str, name: str, run_id: str) -> Response:
        factory, problem = self._find_fresh(kind, name, q)
        if factory is None:
            return problem or (500, {}, None)
        run = factory.runs.get(run_id)
        if run is None:
            return 404, {}, self.error_body(404, "PipelineRunNotFound", f"pipeline run {run_id} not found")
        return 200, {}, run.as_json()

    def _new_run(self, q: dict[str, str], body: dict[str, Any], kind: str, name: str, pipeline: str) -> Response:
        factory, problem = self._find(kind, name, q)
        if factory is None:
            return problem or (500, {}, None)
        if pipeline not in factory.pipelines:
            return 404, {}, self.error_body(404, "PipelineNotFound", f"pipeline {pipeline} not found")
        reference = q.get("referencePipelineRunId")
        recovery = str(q.get("isRecovery", "")).lower() == "true"
        with self.lock:
            ref = factory.runs.get(reference) if reference else None
            if reference and ref is None:
                return 404, {}, self.error_body(404, "PipelineRunNotFound", f"pipeline run {reference} not found")
            if factory.fail_before_start > 0:
                factory.fail_before_start -= 1
                return 500, {}, self.error_body(500, "InternalServerError", "simulated 500, no run started")
            run = factory.add_run(pipeline, "InProgress", start=utc_now())
            run.parameters = dict(ref.parameters) if ref is not None else body
            if ref is not None and recovery:
                self._script_rerun(factory, run, ref, q)
            factory.created_runs.append({"pipeline": pipeline, "run_id": run.run_id, "parameters": body, **q})
            if factory.fail_after_start > 0:
                factory.fail_after_start -= 1
                return 500, {}, self.error_body(500, "InternalServerError", "simulated 500 after starting the run")
        return 200, {}, {"runId": run.run_id}

    @staticmethod
    def _script_rerun(factory: SimFactory, run: SimRun, ref: SimRun, q: dict[str, str]) -> None:
        """A recovery run: same run group; it reruns from the failed activity (startFromFailure) or from
        startActivityName, and ends as the pipeline's next scripted outcome."""
        run.run_group_id = ref.run_group_id or ref.run_id
        failed = next((a for a in ref.activities if a.status == "Failed"), None)
        start_name = q.get("startActivityName") or (failed.name if failed and q.get("startFromFailure") == "true"
                                                    else None)
        names = [a.name for a in ref.activities]
        keep = names[names.index(start_name):] if start_name in names else names
        run.activities = [SimActivity(a.name, a.type, "InProgress") for a in ref.activities if a.name in keep]
        outcomes = factory.rerun_outcomes.get(run.pipeline) or []
        run.final_status = outcomes.pop(0) if outcomes else "Succeeded"
        run.final_error = (failed.error if failed else None) or activity_error("simulated failure")
        run.finish_at = run.run_start + timedelta(seconds=factory.rerun_seconds)


# ------------------------------------------------------------------------------------------
# Demo (`make run`) and a PipelineFailedRuns alert to post at it
# ------------------------------------------------------------------------------------------
# Real activity error texts from the project corpus (errors-train.jsonl: adf-odata-unauthorized,
# adf-required-blob-missing-late, adf-df-oom, adf-pipe-csv-more-columns-folder).
DEMO_ERRORS = [
    ("IngestOrders", "Copy Statements", "2200", "UserError",
     "Failure happened on 'Source' side. 'Type=Microsoft.DataTransfer.Common.Shared.HybridDeliveryException,"
     "Message=Requesting response from path Statements and query $filter=RowChangedDatetime gt "
     "2021-06-30T15:59:57.0000000Z failed with status code Unauthorized.'"),
    ("IngestOrders", "GetPDDMetadata", "BadRequest", "UserError",
     "The required Blob is missing. ContainerName: https://dasdsadds.blob.core.windows.net/inbound, "
     "ContainerExist: True, BlobPrefix: PDDMaster/, BlobCount: 0."),
    ("TransformSales", "Aggregate sales", "DF-Executor-OutOfMemoryError", "UserError",
     "Cluster ran into out of memory issue during execution, please retry using an integration runtime with "
     "bigger core count and/or memory optimized compute type"),
]
DEMO_CHILD_ERROR = ("Failure happened on 'Sink' side. ErrorCode=DelimitedTextMoreColumnsThanDefined,"
                    "'Type=Microsoft.DataTransfer.Common.Shared.HybridDeliveryException,Message=Error found when "
                    "processing 'Csv/Tsv Format Text' source with more columns than defined.'")


def start_demo_factory(port: int = 0) -> tuple[AdfSimulator, str, str]:
    """Start a SIMULATED factory with failed runs in the last half hour (and some that succeeded).
    Returns (server, factory resource id, ARM endpoint); stop it with server.stop()."""
    sim = AdfSimulator(port=port)
    sim.start()
    factory = sim.add_factory("demo-factory", resource_group="demo-rg")
    now = utc_now()
    for i, (pipeline, activity, code, kind, message) in enumerate(DEMO_ERRORS):
        factory.add_run(pipeline, start=now - timedelta(minutes=40 - i))
        factory.add_failed_run(pipeline, message, code=code, failure_type=kind, activity=activity,
                               start=now - timedelta(minutes=25 - 5 * i))
    factory.add_execute_pipeline_failure("NightlyLoad", "LoadWarehouse", DEMO_CHILD_ERROR,
                                         code="DelimitedTextMoreColumnsThanDefined", child_activity="Copy_sks",
                                         start=now - timedelta(minutes=12))
    return sim, factory.resource_id, sim.url


def pipeline_failed_runs_alert(factory_id: str, pipeline: str, window_start: datetime, window_end: datetime, *,
                               failed: int = 1, alert_id: str | None = None, resolved: bool = False,
                               metric: str = "PipelineFailedRuns") -> dict[str, Any]:
    """A common-schema metric alert as Azure Monitor sends it for an ADF failure metric, built from
    the documented schema (ADF publishes no sample of its own)."""
    subscription = factory_id.strip("/").split("/")[1]
    essentials: dict[str, Any] = {
        "alertId": alert_id or f"/subscriptions/{subscription}/providers/Microsoft.AlertsManagement/alerts/"
                               f"{uuid.uuid4()}",
        "alertRule": f"{pipeline}-failed", "severity": "Sev2", "signalType": "Metric",
        "monitorCondition": "Resolved" if resolved else "Fired", "monitoringService": "Platform",
        "alertTargetIDs": [factory_id.lower()], "configurationItems": [factory_id.rsplit("/", 1)[-1]],
        "originAlertId": uuid.uuid4().hex, "firedDateTime": to_iso(window_end), "description": "",
        "essentialsVersion": "1.0", "alertContextVersion": "1.0"}
    if resolved:
        essentials["resolvedDateTime"] = to_iso(window_end + timedelta(minutes=5))
    name_dim = "PipelineName" if metric == "ActivityFailedRuns" else "Name"
    criterion = {"metricName": metric, "metricNamespace": "Microsoft.DataFactory/factories",
                 "operator": "GreaterThan", "threshold": "0", "timeAggregation": "Total",
                 "dimensions": [{"name": name_dim, "value": pipeline}, {"name": "FailureType", "value": "UserError"}],
                 "metricValue": failed, "webTestName": None}
    condition = {"windowSize": "PT5M", "allOf": [criterion], "windowStartTime": to_iso(window_start),
                 "windowEndTime": to_iso(window_end)}
    return {"schemaId": "azureMonitorCommonAlertSchema", "data": {
        "essentials": essentials, "customProperties": None,
        "alertContext": {"properties": None, "conditionType": "SingleResourceMultipleMetricCriteria",
                         "condition": condition}}}
