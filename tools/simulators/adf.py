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
        """(endpoint name, handler, path args) or None for 404."""
        raise NotImplementedError

    def authorized(self, headers: dict[str, str]) -> bool:
        return headers.get("authorization", "").lower().startswith("bearer ")

    def error_body(self, status: int, code: str, message: str) -> Any:
        return {"error": {"code": code, "message": message}}

    # --- lifecycle -----------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None, "start() the simulator first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> SimServer:
        sim = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                sim._serve(self, "GET")

            def do_POST(self) -> None:
                sim._serve(self, "POST")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name=type(self).__name__, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- observation and faults ----------------------------------------------------------
    def inject(self, endpoint: str | None = None, *, status: int | None = None, retry_after: float | None = None,
               delay: float = 0.0, times: int = 1, body: Any = None) -> Fault:
        fault = Fault(endpoint, status, retry_after, delay, times, body)
        with self.lock:
            self.faults.append(fault)
        return fault

    def reset_counts(self) -> None:
        with self.lock:
            self.counts.clear()
            self.seen.clear()

    def times_of(self, endpoint: str) -> list[float]:
        with self.lock:
            return [s.at for s in self.seen if s.endpoint == endpoint]

    def _take_fault(self, endpoint: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.times > 0 and fault.endpoint in (None, endpoint):
                    fault.times -= 1
                    return fault
        return None

    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        path = unquote(parts.path).rstrip("/")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        headers = {k.lower(): v for k, v in handler.headers.items()}
        length = int(headers.get("content-length") or 0)
        raw = handler.rfile.read(length) if length else b""
        found = self.route(method, path)
        endpoint = found[0] if found else "unknown"
        status, out_headers, body = self._answer(found, method, query, headers, raw)
        with self.lock:
            self.counts[endpoint] += 1
            self.seen.append(Seen(endpoint, method, path, time.monotonic(), status))
        data = b"" if body is None else json.dumps(body).encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            for name, value in out_headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(data)
        except OSError:
            pass  # the client gave up (timeout test)

    def _answer(self, found: tuple[str, Any, tuple[str, ...]] | None, method: str, query: dict[str, str],
                headers: dict[str, str], raw: bytes) -> Response:
        if found is None:
            return 404, {}, self.error_body(404, "NotFound", f"no such {method} endpoint in the simulator")
        endpoint, handler, args = found
        fault = self._take_fault(endpoint)
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.status is not None:
                extra = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
                body = fault.body if fault.body is not None else self.error_body(
                    fault.status, {401: "InvalidAuthenticationToken", 429: "TooManyRequests"}.get(fault.status, "Error"),
                    f"simulated HTTP {fault.status}")
                return fault.status, extra, body
        if not self.authorized(headers):
            return 401, {}, self.error_body(401, "AuthenticationFailed", "the Authorization header is missing")
        try:
            payload = json.loads(raw) if raw.strip() else {}
        except ValueError:
            return 400, {}, self.error_body(400, "BadRequest", "body is not JSON")
        result: Response = handler(query, payload, *args)
        return result


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
    start: datetime | None = None
    end: datetime | None = None
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

    @property
    def last_updated(self) -> datetime:
        return self.run_end or self.run_start

    def as_json(self) -> dict[str, Any]:
        return {
            "runId": self.run_id, "runGroupId": self.run_id, "pipelineName": self.pipeline,
            "parameters": self.parameters, "invokedBy": self.invoked_by, "runStart": to_iso(self.run_start),
            "runEnd": to_iso(self.run_end) if self.run_end else None,
            "durationInMs": int((self.run_end - self.run_start).total_seconds() * 1000) if self.run_end else None,
            "status": self.status, "message": self.message, "lastUpdated": to_iso(self.last_updated),
            "annotations": [], "runDimension": {},
        }

    def activity_json(self, a: SimActivity) -> dict[str, Any]:
        start = a.start or self.run_start
        end = a.end or self.run_end or start
        error = a.error or {"errorCode": "", "message": "", "failureType": "", "target": a.name}
        return {
            "activityRunEnd": to_iso(end), "activityName": a.name, "activityRunStart": to_iso(start),
            "activityType": a.type, "durationInMs": int((end - start).total_seconds() * 1000), "retryAttempt": None,
            "error": error, "activityRunId": a.activity_run_id, "input": {}, "linkedServiceName": "",
            "output": a.output, "userProperties": {}, "pipelineName": self.pipeline, "pipelineRunId": self.run_id,
            "status": a.status,
        }


def activity_error(message: str, code: str = "2200", failure_type: str = "UserError", target: str = "",
                   details: list[Any] | None = None) -> dict[str, Any]:
    """An ActivityRun.error object as Data Factory returns it."""
    return {"errorCode": code, "message": message, "failureType": failure_type, "target": target,
            "details": details or []}


@dataclass
class SimFactory:
    subscription: str
    resource_group: str
    name: str
    provider: str = "Microsoft.DataFactory/factories"
    runs: dict[str, SimRun] = field(default_factory=dict)
    pipelines: set[str] = field(default_factory=set)
    created_runs: list[dict[str, Any]] = field(default_factory=list)  # what createRun was asked

    @property
    def resource_id(self) -> str:
        return (f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
                f"/providers/{self.provider}/{self.name}")

    def add_run(self, pipeline: str, status: str = "Succeeded", *, start: datetime | None = None,
                duration: timedelta = timedelta(minutes=3), activities: list[SimActivity] | None = None,
                run_id: str | None = None, message: str = "", invoked_by: dict[str, Any] | None = None) -> SimRun:
        start = start or utc_now() - duration
        end = None if status in ("InProgress", "Queued") else start + duration
        run = SimRun(run_id or str(uuid.uuid4()), pipeline, status, start, end, message, activities or [])
        if invoked_by:
            run.invoked_by = invoked_by
        self.runs[run.run_id] = run
        self.pipelines.add(pipeline)
        return run

    def add_failed_run(self, pipeline: str, message: str, *, code: str = "2200", failure_type: str = "UserError",
                       activity: str = "Copy data", activity_type: str = "Copy", start: datetime | None = None,
                       run_id: str | None = None, error: dict[str, Any] | None = None) -> SimRun:
        """A run whose one activity failed with `message` (or the given error object)."""
        error = error or activity_error(message, code, failure_type, activity)
        acts = [SimActivity("Lookup watermark", "Lookup"), SimActivity(activity, activity_type, "Failed", error)]
        return self.add_run(pipeline, "Failed", start=start, activities=acts, run_id=run_id,
                            message=f"Operation on target {activity} failed: {error.get('message', '')}")

    def add_execute_pipeline_failure(self, parent: str, child: str, message: str, *, code: str = "2200",
                                     child_activity: str = "Copy data", start: datetime | None = None
                                     ) -> tuple[SimRun, SimRun]:
        """A parent run whose Execute Pipeline activity failed because the child run failed."""
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


_ARM = r"^/subscriptions/([^/]+)/resourcegroups/([^/]+)/providers/microsoft\.datafactory/factories/([^/]+)"
_SYN = r"^/synapse/([^/]+)"
_ROUTES: list[tuple[str, str, str, str]] = [
    ("POST", _ARM + r"/querypipelineruns$", "queryPipelineRuns", "_query_runs"),
    ("POST", _ARM + r"/pipelineruns/([^/]+)/queryactivityruns$", "queryActivityRuns", "_query_activities"),
    ("GET", _ARM + r"/pipelineruns/([^/]+)$", "getPipelineRun", "_get_run"),
    ("POST", _ARM + r"/pipelines/([^/]+)/createrun$", "createRun", "_create_run"),
    ("POST", _SYN + r"/querypipelineruns$", "queryPipelineRuns", "_syn_query_runs"),
    ("POST", _SYN + r"/pipelines/[^/]+/pipelineruns/([^/]+)/queryactivityruns$", "queryActivityRuns",
     "_syn_query_activities"),
    ("GET", _SYN + r"/pipelineruns/([^/]+)$", "getPipelineRun", "_syn_get_run"),
    ("POST", _SYN + r"/pipelines/([^/]+)/createrun$", "createRun", "_syn_create_run"),
]
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
        values = {str(v).lower() for v in f.get("values") or []}
        hit = str(item.get(name) or "").lower() in values
        if str(f.get("operator", "Equals")).lower() in ("equals", "in") and not hit:
            return False
        if str(f.get("operator", "")).lower() in ("notequals", "notin") and hit:
            return False
    return True


class AdfSimulator(SimServer):
    """SIMULATED Data Factory / Synapse pipelines. Fill it with `add_factory` / `add_workspace`."""

    def __init__(self, port: int = 0, page_size: int = 100) -> None:
        super().__init__(port)
        self.page_size = page_size
        self.factories: dict[str, SimFactory] = {}
        self.workspaces: dict[str, SimFactory] = {}
        self._compiled = [(m, re.compile(p, re.IGNORECASE), name, attr) for m, p, name, attr in _ROUTES]

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
        return f"{self.url}/synapse/{{workspace}}"

    def route(self, method: str, path: str) -> tuple[str, Any, tuple[str, ...]] | None:
        for m, pattern, name, attr in self._compiled:
            match = pattern.match(path)
            if m == method and match:
                return name, getattr(self, attr), match.groups()
        return None

    # --- Data Factory --------------------------------------------------------------------
    def _factory(self, name: str) -> SimFactory | None:
        return self.factories.get(name.lower())

    def _query_runs(self, q: dict[str, str], body: dict[str, Any], sub: str, rg: str, f: str) -> Response:
        return self._runs_page(self._factory(f), q, body, ADF_API_VERSION)

    def _query_activities(self, q: dict[str, str], body: dict[str, Any], sub: str, rg: str, f: str,
                          run_id: str) -> Response:
        return self._activities_page(self._factory(f), q, body, run_id, ADF_API_VERSION)

    def _get_run(self, q: dict[str, str], body: dict[str, Any], sub: str, rg: str, f: str, run_id: str) -> Response:
        return self._one_run(self._factory(f), q, run_id, ADF_API_VERSION)

    def _create_run(self, q: dict[str, str], body: dict[str, Any], sub: str, rg: str, f: str,
                    pipeline: str) -> Response:
        return self._new_run(self._factory(f), q, body, pipeline, ADF_API_VERSION)

    # --- Synapse -------------------------------------------------------------------------
    def _syn_query_runs(self, q: dict[str, str], body: dict[str, Any], ws: str) -> Response:
        return self._runs_page(self.workspaces.get(ws.lower()), q, body, SYNAPSE_API_VERSION)

    def _syn_query_activities(self, q: dict[str, str], body: dict[str, Any], ws: str, run_id: str) -> Response:
        return self._activities_page(self.workspaces.get(ws.lower()), q, body, run_id, SYNAPSE_API_VERSION)

    def _syn_get_run(self, q: dict[str, str], body: dict[str, Any], ws: str, run_id: str) -> Response:
        return self._one_run(self.workspaces.get(ws.lower()), q, run_id, SYNAPSE_API_VERSION)

    def _syn_create_run(self, q: dict[str, str], body: dict[str, Any], ws: str, pipeline: str) -> Response:
        return self._new_run(self.workspaces.get(ws.lower()), q, body, pipeline, SYNAPSE_API_VERSION)

    # --- shared behaviour ----------------------------------------------------------------
    def _check(self, factory: SimFactory | None, q: dict[str, str], version: str) -> Response | None:
        if q.get("api-version") != version:
            return 400, {}, self.error_body(400, "InvalidApiVersionParameter", f"api-version must be {version}")
        if factory is None:
            return 404, {}, self.error_body(404, "ResourceNotFound", "no such factory / workspace in the simulator")
        return None

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

    def _runs_page(self, factory: SimFactory | None, q: dict[str, str], body: dict[str, Any],
                   version: str) -> Response:
        problem = self._check(factory, q, version)
        window = self._window(body)
        if problem or factory is None:
            return problem or (500, {}, None)
        if window is None:
            return 400, {}, self.error_body(400, "BadRequest", "lastUpdatedAfter and lastUpdatedBefore are required")
        with self.lock:
            runs = [r.as_json() for r in factory.runs.values() if window[0] <= r.last_updated <= window[1]]
        runs = [r for r in runs if _matches(r, body.get("filters") or [], _RUN_FIELDS)]
        return self._page(runs, body, _RUN_FIELDS)

    def _activities_page(self, factory: SimFactory | None, q: dict[str, str], body: dict[str, Any], run_id: str,
                         version: str) -> Response:
        problem = self._check(factory, q, version)
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

    def _one_run(self, factory: SimFactory | None, q: dict[str, str], run_id: str, version: str) -> Response:
        problem = self._check(factory, q, version)
        if problem or factory is None:
            return problem or (500, {}, None)
        run = factory.runs.get(run_id)
        if run is None:
            return 404, {}, self.error_body(404, "PipelineRunNotFound", f"pipeline run {run_id} not found")
        return 200, {}, run.as_json()

    def _new_run(self, factory: SimFactory | None, q: dict[str, str], body: dict[str, Any], pipeline: str,
                 version: str) -> Response:
        problem = self._check(factory, q, version)
        if problem or factory is None:
            return problem or (500, {}, None)
        if pipeline not in factory.pipelines:
            return 404, {}, self.error_body(404, "PipelineNotFound", f"pipeline {pipeline} not found")
        with self.lock:
            run = factory.add_run(pipeline, "InProgress", start=utc_now(), parameters_from(body))
            factory.created_runs.append({"pipeline": pipeline, "run_id": run.run_id, "parameters": body, **q})
        return 200, {}, {"runId": run.run_id}
