"""SIMULATED Azure Data Factory (and Synapse pipelines) REST API for tests and the local demo.

Not Azure: a small threaded stdlib HTTP server on 127.0.0.1 that answers the real request and
response shapes over an in-memory model that tests fill:

  POST {arm}/subscriptions/{s}/resourceGroups/{g}/providers/Microsoft.DataFactory/factories/{f}
       /queryPipelineRuns                              (filters, orderBy, continuationToken paging)
       /pipelineruns/{runId}/queryActivityruns         (filters, continuationToken paging)
  GET  .../pipelineruns/{runId}
  POST .../pipelines/{pipeline}/createRun              (referencePipelineRunId, isRecovery, ...)
  Synapse (SYNAPSE_ENDPOINT = "{url}/synapse/{workspace}"), api-version 2020-12-01:
  POST /synapse/{ws}/queryPipelineRuns, POST /synapse/{ws}/pipelines/{p}/pipelineruns/{id}/queryActivityruns,
  GET  /synapse/{ws}/pipelineruns/{id}, POST /synapse/{ws}/pipelines/{p}/createRun

It counts requests per endpoint (`counts`), and injects faults (`inject`: 401, 429 with
Retry-After, slow answers). `SimServer` is the generic part, reused by the Databricks simulator.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from shared.timeutil import parse_iso, to_iso, utc_now

Response = tuple[int, dict[str, str], Any]
ADF_API_VERSION = "2018-06-01"
SYNAPSE_API_VERSION = "2020-12-01"


@dataclass
class Fault:
    endpoint: str | None  # None: any endpoint
    status: int | None = None  # None: answer normally (after `delay`)
    retry_after: float | None = None
    delay: float = 0.0
    times: int = 1
    body: Any = None


@dataclass
class Seen:
    endpoint: str
    method: str
    path: str
    at: float  # time.monotonic()
    status: int


class SimServer:
    """Threaded loopback HTTP server: routing, request counts, fault injection. Subclasses add routes."""

    def __init__(self, port: int = 0) -> None:
        self.counts: Counter[str] = Counter()
        self.seen: list[Seen] = []
        self.faults: list[Fault] = []
        self.lock = threading.RLock()
        self._port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- to override ---------------------------------------------------------------------
    def route(self, method: str, path: str) -> tuple[str, Any, tuple[str, ...]] | None:
        for m, pattern, name, attr in self._compiled:
            match = pattern.match(path)
            if m == method and match:
                synapse = pattern.pattern.startswith(_SYN)
                return name, getattr(self, attr), ("synapse" if synapse else "adf", *match.groups())
        return None

    # --- shared behaviour ----------------------------------------------------------------
    def _check(self, kind: str, name: str, q: dict[str, str]) -> tuple[SimFactory | None, Response | None]:
        version = SYNAPSE_API_VERSION if kind == "synapse" else ADF_API_VERSION
        factory = (self.workspaces if kind == "synapse" else self.factories).get(name.lower())
        if q.get("api-version") != version:
            return None, (400, {}, self.error_body(400, "InvalidApiVersionParameter", f"api-version must be {version}"))
        if factory is None:
            return None, (404, {}, self.error_body(404, "ResourceNotFound", "no such factory / workspace here"))
        return factory, None

    def _page(self, items: list[dict[str, Any]], body: dict[str, Any], fields: dict[str, str]) -> Response:
        order = (body.get("orderBy") or [{}])[0] if isinstance(body.get("orderBy"), list) else {}
        key = fields.get(str(order.get("orderBy", "")).lower(), "lastUpdated" if "runId" in fields.values()
                         else "activityRunStart")
        items.sort(key=lambda i: str(i.get(key) or ""), reverse=str(order.get("order", "DESC")).upper() == "DESC")
        token = body.get("continuationToken")
        offset = int(base64.b64decode(token).decode()) if token else 0
        page = items[offset:offset + self.page_size]
        nxt = offset + self.page_size
        more = base64.b64encode(str(nxt).encode()).decode() if nxt < len(items) else None
        return 200, {}, {"value": page, "continuationToken": more}

    def _window(self, body: dict[str, Any]) -> tuple[datetime, datetime] | None:
        try:
            return parse_iso(str(body["lastUpdatedAfter"])), parse_iso(str(body["lastUpdatedBefore"]))
        except (KeyError, ValueError):
            return None

    def _runs_page(self, q: dict[str, str], body: dict[str, Any], kind: str, name: str) -> Response:
        factory, problem = self._check(kind, name, q)
        window = self._window(body)
        if problem or factory is None:
            return problem or (500, {}, None)
        if window is None:
            return 400, {}, self.error_body(400, "BadRequest", "lastUpdatedAfter and lastUpdatedBefore are required")
        with self.lock:
            runs = [r.as_json() for r in factory.runs.values() if window[0] <= r.last_updated <= window[1]]
        runs = [r for r in runs if _matches(r, body.get("filters") or [], _RUN_FIELDS)]
        return self._page(runs, body, _RUN_FIELDS)

    def _activities_page(self, q: dict[str, str], body: dict[str, Any], kind: str, name: str,
                         run_id: str) -> Response:
        factory, problem = self._check(kind, name, q)
        window = self._window(body)
        if problem or factory is None:
            return problem or (500, {}, None)
        if window is None:
            return 400, {}, self.error_body(400, "BadRequest", "lastUpdatedAfter and lastUpdatedBefore are required")
        run = factory.runs.get(run_id)
        if run is None:
            return 404, {}, self.error_body(404, "PipelineRunNotFound", f"pipeline run {run_id} not found")
        items = [run.activity_json(a) for a in run.activities]
        items = [a for a in items if window[0] <= parse_iso(a["activityRunEnd"]) <= window[1]
                 and _matches(a, body.get("filters") or [], _ACTIVITY_FIELDS)]
        return self._page(items, body, _ACTIVITY_FIELDS)

    def _one_run(self, q: dict[str, str], body: dict[str, Any], kind: str, name: str, run_id: str) -> Response:
        factory, problem = self._check(kind, name, q)
        if problem or factory is None:
            return problem or (500, {}, None)
        run = factory.runs.get(run_id)
        if run is None:
            return 404, {}, self.error_body(404, "PipelineRunNotFound", f"pipeline run {run_id} not found")
        return 200, {}, run.as_json()

    def _new_run(self, q: dict[str, str], body: dict[str, Any], kind: str, name: str, pipeline: str) -> Response:
        factory, problem = self._check(kind, name, q)
        if problem or factory is None:
            return problem or (500, {}, None)
        if pipeline not in factory.pipelines:
            return 404, {}, self.error_body(404, "PipelineNotFound", f"pipeline {pipeline} not found")
        with self.lock:
            run = factory.add_run(pipeline, "InProgress", start=utc_now())
            run.parameters = body
            factory.created_runs.append({"pipeline": pipeline, "run_id": run.run_id, "parameters": body, **q})
        return 200, {}, {"runId": run.run_id}


# ------------------------------------------------------------------------------------------
# Demo (`make run`) and a PipelineFailedRuns alert to post at it
# ------------------------------------------------------------------------------------------
# Real activity error texts (project corpus errors-train.jsonl: adf-odata-unauthorized,
# adf-required-blob-missing-late, adf-df-oom, adf-adls2-task-canceled-timeout).
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


def start_demo_factory(port: int = 0) -> tuple[AdfSimulator, str, str]:
    """Start a SIMULATED factory with a few failed runs in the last half hour (and some that
    succeeded). Returns (server, factory resource id, ARM endpoint). Stop it with server.stop()."""
    sim = AdfSimulator(port=port)
    sim.start()
    factory = sim.add_factory("demo-factory", resource_group="demo-rg")
    now = utc_now()
    for i, (pipeline, activity, code, kind, message) in enumerate(DEMO_ERRORS):
        factory.add_run(pipeline, start=now - timedelta(minutes=40 - i))
        factory.add_failed_run(pipeline, message, code=code, failure_type=kind, activity=activity,
                               start=now - timedelta(minutes=25 - 5 * i))
    factory.add_execute_pipeline_failure(
        "NightlyLoad", "LoadWarehouse",
        "Operation on target Copy_sks failed: Failure happened on 'Sink' side. ErrorCode=SqlFailedToConnect,"
        "'Type=Microsoft.DataTransfer.Common.Shared.HybridDeliveryException,Message=Cannot connect to SQL Database."
        "'", code="SqlFailedToConnect", child_activity="Copy_sks", start=now - timedelta(minutes=12))
    return sim, factory.resource_id, sim.url


def pipeline_failed_runs_alert(factory_id: str, pipeline: str, window_start: datetime, window_end: datetime, *,
                               failed: int = 1, alert_id: str | None = None, resolved: bool = False,
                               metric: str = "PipelineFailedRuns") -> dict[str, Any]:
    """A common-schema metric alert as Azure Monitor sends it for an ADF failure metric (built from
    the documented shape; ADF publishes no sample of its own)."""
    name_dim = "PipelineName" if metric == "ActivityFailedRuns" else "Name"
    alert = alert_id or f"/subscriptions/{factory_id.split('/')[2]}/providers/Microsoft.AlertsManagement/alerts/" \
        f"{uuid.uuid4()}"
    essentials: dict[str, Any] = {
        "alertId": alert, "alertRule": f"{pipeline}-failed", "severity": "Sev2", "signalType": "Metric",
        "monitorCondition": "Resolved" if resolved else "Fired", "monitoringService": "Platform",
        "alertTargetIDs": [factory_id.lower()], "configurationItems": [factory_id.rsplit("/", 1)[-1]],
        "originAlertId": uuid.uuid4().hex, "firedDateTime": to_iso(window_end), "description": "",
        "essentialsVersion": "1.0", "alertContextVersion": "1.0"}
    if resolved:
        essentials["resolvedDateTime"] = to_iso(window_end + timedelta(minutes=5))
    criterion = {"metricName": metric, "metricNamespace": "Microsoft.DataFactory/factories",
                 "operator": "GreaterThan", "threshold": "0", "timeAggregation": "Total",
                 "dimensions": [{"name": name_dim, "value": pipeline}, {"name": "FailureType", "value": "UserError"}],
                 "metricValue": failed, "webTestName": None}
    return {"schemaId": "azureMonitorCommonAlertSchema", "data": {
        "essentials": essentials,
        "alertContext": {"properties": None, "conditionType": "SingleResourceMultipleMetricCriteria",
                         "condition": {"windowSize": "PT5M", "allOf": [criterion],
                                       "windowStartTime": to_iso(window_start), "windowEndTime": to_iso(window_end)}},
        "customProperties": None}}
