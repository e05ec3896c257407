"""SIMULATED Databricks workspace (Jobs API 2.1/2.2, Clusters, Libraries) for tests and demos.

Not Databricks: a loopback HTTP server (tools.simulators.base) answering what the databricks-sdk calls:

  GET  /.well-known/databricks-config          host metadata the SDK probes at start (workspace_id)
  GET  /api/2.0/preview/scim/v2/Me             X-Databricks-Org-Id header (WorkspaceClient.get_workspace_id)
  GET  /api/2.{1,2}/jobs/runs/get              tasks paged by 100 (next_page_token)
  GET  /api/2.{1,2}/jobs/runs/get-output       error, error_trace, logs, metadata
  GET  /api/2.{1,2}/jobs/runs/list             completed_only, start_time_from/to, limit, page_token
  POST /api/2.{1,2}/jobs/runs/repair           recorded in `repairs`
  POST /api/2.{0,1}/clusters/events            event_types, order, limit, next_page
  GET  /api/2.0/libraries/cluster-status

Requests need `Authorization: Bearer <token>` (default `dapi-simulated`). Runs are plain REST JSON
dicts, so the vendor samples (runs/get, runs/get-output) load as they are.
"""

from __future__ import annotations

import base64
import re
import uuid
from typing import Any

from shared.timeutil import utc_now
from tools.simulators.base import Response, SimServer

SIM_TOKEN = "dapi-simulated"
_V = r"/api/2\.[0-2]"
_ROUTES: list[tuple[str, str, str, str]] = [
    ("GET", r"^/\.well-known/databricks-config$", "host-metadata", "_metadata"),
    ("GET", r"^/api/2\.0/preview/scim/v2/me$", "scim/me", "_me"),
    ("GET", rf"^{_V}/jobs/runs/get$", "runs/get", "_get_run"),
    ("GET", rf"^{_V}/jobs/runs/get-output$", "runs/get-output", "_get_output"),
    ("GET", rf"^{_V}/jobs/runs/list$", "runs/list", "_list_runs"),
    ("POST", rf"^{_V}/jobs/runs/repair$", "runs/repair", "_repair"),
    ("POST", rf"^{_V}/clusters/events$", "clusters/events", "_events"),
    ("GET", rf"^{_V}/libraries/cluster-status$", "libraries/cluster-status", "_libraries"),
]
_UNAUTHENTICATED = {"host-metadata"}


def _token(offset: int) -> str:
    return base64.b64encode(str(offset).encode()).decode()


def _offset(token: Any) -> int:
    return int(base64.b64decode(str(token)).decode()) if token else 0


class DatabricksSimulator(SimServer):
    """SIMULATED Databricks workspace; fill it with `add_run` / `add_failed_job_run`."""

    def __init__(self, port: int = 0, token: str = SIM_TOKEN, workspace_id: str = "1234567890123456",
                 tasks_page_size: int = 100) -> None:
        super().__init__(port)
        self.token = token
        self.workspace_id = workspace_id
        self.tasks_page_size = tasks_page_size
        self.runs: dict[int, dict[str, Any]] = {}
        self.outputs: dict[int, dict[str, Any]] = {}  # by task run id
        self.cluster_events: dict[str, list[dict[str, Any]]] = {}
        self.libraries: dict[str, list[dict[str, Any]]] = {}
        self.repairs: list[dict[str, Any]] = []
        self._compiled = [(m, re.compile(p, re.IGNORECASE), n, a) for m, p, n, a in _ROUTES]

    def route(self, method: str, path: str) -> tuple[str, Any, tuple[str, ...]] | None:
        for m, pattern, name, attr in self._compiled:
            if m == method and pattern.match(path):
                return name, getattr(self, attr), ()
        return None

    def authorized(self, headers: dict[str, str]) -> bool:
        return headers.get("authorization", "") == f"Bearer {self.token}"

    def error_body(self, status: int, code: str, message: str) -> Any:
        codes = {401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "RESOURCE_DOES_NOT_EXIST",
                 429: "TOO_MANY_REQUESTS", 400: "INVALID_PARAMETER_VALUE"}
        return {"error_code": codes.get(status, "INTERNAL_ERROR"), "message": message}

    def _answer(self, found: tuple[str, Any, tuple[str, ...]] | None, method: str, query: dict[str, str],
                headers: dict[str, str], raw: bytes) -> Response:
        if found is not None and found[0] in _UNAUTHENTICATED:
            headers = {**headers, "authorization": f"Bearer {self.token}"}
        return super()._answer(found, method, query, headers, raw)

    # --- model ---------------------------------------------------------------------------
    def add_run(self, run: dict[str, Any], outputs: dict[int, dict[str, Any]] | None = None) -> dict[str, Any]:
        """Add a runs/get JSON as it is (e.g. the vendor sample) and the get-output of its task runs."""
        self.runs[int(run["run_id"])] = run
        for task_run_id, output in (outputs or {}).items():
            self.outputs[int(task_run_id)] = output
        return run

    def add_failed_job_run(self, job_name: str, failed_task: str, error: str, *, trace: str = "",
                           state_message: str = "Workload failed, see run output for details",
                           other_tasks: tuple[str, ...] = ("ingest",), cluster_id: str = "0923-164208-sim1",
                           job_id: int = 11223344, run_id: int | None = None, start_ms: int | None = None,
                           code: str = "RUN_EXECUTION_ERROR", kind: str = "CLIENT_ERROR") -> dict[str, Any]:
        """A job run whose task `failed_task` failed with `error` (get-output) after `other_tasks` succeeded."""
        run_id = run_id or 400_000_000 + len(self.runs) * 10
        start = start_ms or int(utc_now().timestamp() * 1000) - 600_000
        tasks = []
        for i, key in enumerate([*other_tasks, failed_task]):
            failed = key == failed_task
            task_run_id = run_id + 1 + i
            tasks.append({
                "task_key": key, "run_id": task_run_id, "start_time": start + i * 60_000,
                "end_time": start + (i + 1) * 60_000, "attempt_number": 0,
                "cluster_instance": {"cluster_id": cluster_id, "spark_context_id": "1"},
                "run_page_url": f"{self.url_or_placeholder()}/#job/{job_id}/run/{task_run_id}",
                "state": {"life_cycle_state": "TERMINATED", "result_state": "FAILED" if failed else "SUCCESS",
                          "state_message": state_message if failed else "", "user_cancelled_or_timedout": False},
                "status": {"state": "TERMINATED", "termination_details": {
                    "code": code if failed else "SUCCESS", "type": kind if failed else "SUCCESS",
                    "message": state_message if failed else ""}},
            })
            self.outputs[task_run_id] = ({"error": error, "error_trace": trace, "metadata": tasks[-1]} if failed
                                         else {"notebook_output": {"result": "ok"}, "metadata": tasks[-1]})
        run = {"job_id": job_id, "run_id": run_id, "run_name": job_name, "number_in_job": run_id,
               "start_time": start, "end_time": start + len(tasks) * 60_000, "run_type": "JOB_RUN",
               "trigger": "PERIODIC", "run_page_url": f"{self.url_or_placeholder()}/#job/{job_id}/run/{run_id}",
               "state": {"life_cycle_state": "TERMINATED", "result_state": "FAILED", "state_message": state_message},
               "status": {"state": "TERMINATED", "termination_details": {"code": code, "type": kind,
                                                                        "message": state_message}},
               "tasks": tasks}
        self.runs[run_id] = run
        return run

    def url_or_placeholder(self) -> str:
        return self.url if self._server is not None else "https://adb-sim.azuredatabricks.net"

    # --- handlers ------------------------------------------------------------------------
    def _metadata(self, q: dict[str, str], body: Any) -> Response:
        return 200, {}, {"workspace_id": self.workspace_id, "oidc_endpoint": ""}

    def _me(self, q: dict[str, str], body: Any) -> Response:
        return 200, {"X-Databricks-Org-Id": self.workspace_id}, {"userName": "simulated@example.com"}

    def _get_run(self, q: dict[str, str], body: Any) -> Response:
        run = self.runs.get(int(q.get("run_id") or 0))
        if run is None:
            return 400, {}, self.error_body(400, "", f"Run {q.get('run_id')} does not exist.")
        offset = _offset(q.get("page_token"))
        tasks = run.get("tasks") or []
        page = {**run, "tasks": tasks[offset:offset + self.tasks_page_size]}
        if offset + self.tasks_page_size < len(tasks):
            page["next_page_token"] = _token(offset + self.tasks_page_size)
        return 200, {}, page

    def _get_output(self, q: dict[str, str], body: Any) -> Response:
        task_run_id = int(q.get("run_id") or 0)
        if task_run_id in self.runs and len(self.runs[task_run_id].get("tasks") or []) > 1:
            return 400, {}, self.error_body(400, "", "Retrieving the output of runs with multiple tasks is not "
                                            "supported. Please retrieve the output of each individual task run.")
        output = self.outputs.get(task_run_id)
        if output is None:
            return 400, {}, self.error_body(400, "", f"Run {task_run_id} does not exist.")
        return 200, {}, output

    def _list_runs(self, q: dict[str, str], body: Any) -> Response:
        runs = sorted(self.runs.values(), key=lambda r: -int(r.get("start_time") or 0))
        if q.get("completed_only", "").lower() == "true":
            runs = [r for r in runs if (r.get("state") or {}).get("life_cycle_state") in
                    ("TERMINATED", "SKIPPED", "INTERNAL_ERROR")]
        low, high = int(q.get("start_time_from") or 0), int(q.get("start_time_to") or 0)
        runs = [r for r in runs if int(r.get("start_time") or 0) >= low and (not high or
                                                                               int(r.get("start_time") or 0) <= high)]
        if q.get("job_id"):
            runs = [r for r in runs if str(r.get("job_id")) == q["job_id"]]
        limit = min(int(q.get("limit") or 20), 25)
        offset = _offset(q.get("page_token"))
        page = [{k: v for k, v in r.items() if k != "tasks" or q.get("expand_tasks") == "true"}
                for r in runs[offset:offset + limit]]
        more = offset + limit < len(runs)
        answer: dict[str, Any] = {"runs": page, "has_more": more}
        if more:
            answer["next_page_token"] = _token(offset + limit)
        return 200, {}, answer

    def _repair(self, q: dict[str, str], body: dict[str, Any]) -> Response:
        if int(body.get("run_id") or 0) not in self.runs:
            return 400, {}, self.error_body(400, "", f"Run {body.get('run_id')} does not exist.")
        repair_id = 700_000 + len(self.repairs)
        self.repairs.append({**body, "repair_id": repair_id, "request_id": uuid.uuid4().hex})
        return 200, {}, {"repair_id": repair_id}

    def _events(self, q: dict[str, str], body: dict[str, Any]) -> Response:
        events = list(self.cluster_events.get(str(body.get("cluster_id")), []))
        if body.get("event_types"):
            events = [e for e in events if e.get("type") in body["event_types"]]
        if body.get("start_time"):
            events = [e for e in events if int(e.get("timestamp") or 0) >= int(body["start_time"])]
        if body.get("end_time"):
            events = [e for e in events if int(e.get("timestamp") or 0) <= int(body["end_time"])]
        events.sort(key=lambda e: int(e.get("timestamp") or 0), reverse=body.get("order", "DESC") == "DESC")
        offset, limit = int(body.get("offset") or 0), int(body.get("limit") or 50)
        answer: dict[str, Any] = {"events": events[offset:offset + limit], "total_count": len(events)}
        if offset + limit < len(events):
            answer["next_page"] = {**body, "offset": offset + limit}
        return 200, {}, answer

    def _libraries(self, q: dict[str, str], body: Any) -> Response:
        cluster_id = q.get("cluster_id", "")
        return 200, {}, {"cluster_id": cluster_id, "library_statuses": self.libraries.get(cluster_id, [])}
