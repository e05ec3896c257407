"""SIMULATED Databricks workspace (Jobs API 2.1/2.2, Clusters, Libraries) for tests and demos.

Not Databricks: a loopback HTTP server (tools.simulators.base) answering what the databricks-sdk calls:

  GET  /.well-known/databricks-config          host metadata the SDK probes at start (workspace_id)
  GET  /api/2.0/preview/scim/v2/Me             X-Databricks-Org-Id header (WorkspaceClient.get_workspace_id)
  GET  /api/2.{1,2}/jobs/runs/get              tasks paged by 100 (next_page_token)
  GET  /api/2.{1,2}/jobs/runs/get-output       error, error_trace, logs, metadata
  GET  /api/2.{1,2}/jobs/runs/list             completed_only, start_time_from/to, limit, page_token
  POST /api/2.{1,2}/jobs/runs/repair           recorded in `repairs`; refuses a run in progress, and a second
                                               repair without the right latest_repair_id (as the API does)
  GET  /api/2.{0,1}/clusters/get               POST /api/2.{0,1}/clusters/start (TERMINATED -> PENDING)
  POST /api/2.{0,1}/clusters/events            event_types, order, limit, next_page
  GET  /api/2.0/libraries/cluster-status

Requests need `Authorization: Bearer <token>` (default `dapi-simulated`). Runs are plain REST JSON
dicts, so the vendor samples (runs/get, runs/get-output) load as they are. runs/get returns
`repair_history` (ORIGINAL, then each REPAIR) only with include_history=true. A repair puts the failed
tasks (and, with rerun_dependent_tasks, the tasks depending on them) back to PENDING with new task run
ids; `finish_repair` ends it as a success or with a new error. `finish_cluster_start` makes it RUNNING.
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
    ("GET", rf"^{_V}/clusters/get$", "clusters/get", "_get_cluster"),
    ("POST", rf"^{_V}/clusters/start$", "clusters/start", "_start_cluster"),
    ("GET", rf"^{_V}/libraries/cluster-status$", "libraries/cluster-status", "_libraries"),
]
_UNAUTHENTICATED = {"host-metadata"}


ACTIVE_STATES = frozenset({"QUEUED", "PENDING", "RUNNING", "TERMINATING", "BLOCKED", "WAITING_FOR_RETRY"})


def _dependents(tasks: list[dict[str, Any]], keys: set[str]) -> set[str]:
    """Task keys that depend, directly or not, on any of `keys` (depends_on: [{task_key}])."""
    found: set[str] = set()
    changed = True
    while changed:
        changed = False
        for task in tasks:
            deps = {d.get("task_key") for d in task.get("depends_on") or []}
            if task["task_key"] not in found | keys and deps & (keys | found):
                found.add(task["task_key"])
                changed = True
    return found


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
        self.clusters: dict[str, dict[str, Any]] = {}
        self.cluster_starts: list[dict[str, Any]] = []
        self.history: dict[int, list[dict[str, Any]]] = {}  # run id -> repair_history
        # Statuses to answer *after* a repair was made (the server did the work, the client sees an error).
        self.fail_after_repair: list[int] = []
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
        if q.get("include_history", "").lower() == "true":
            page["repair_history"] = self._history(run)[offset:offset + self.tasks_page_size]
            if offset + self.tasks_page_size < len(self._history(run)):
                page["next_page_token"] = _token(offset + self.tasks_page_size)
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
        if q.get("active_only", "").lower() == "true":
            runs = [r for r in runs if (r.get("state") or {}).get("life_cycle_state") in ACTIVE_STATES]
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
        run = self.runs.get(int(body.get("run_id") or 0))
        if run is None:
            return 400, {}, self.error_body(400, "", f"Run {body.get('run_id')} does not exist.")
        if (run.get("state") or {}).get("life_cycle_state") in ACTIVE_STATES:
            return 400, {}, {"error_code": "INVALID_STATE",
                             "message": f"Run {run['run_id']} is in progress and cannot be repaired."}
        repairs = [h for h in self._history(run) if h.get("type") == "REPAIR"]
        latest = repairs[-1]["id"] if repairs else None
        given = body.get("latest_repair_id")
        if latest is not None and given is None:
            return 400, {}, self.error_body(400, "", "The latest repair ID needs to be provided in order to "
                                            "create a new repair")
        if given is not None and int(given) != latest:
            return 400, {}, self.error_body(400, "", f"Invalid latest repair ID {given}: the latest repair of run "
                                            f"{run['run_id']} is {latest}")
        failed = [t for t in run.get("tasks") or [] if (t.get("state") or {}).get("result_state") != "SUCCESS"]
        keys = set(body.get("rerun_tasks") or []) or {t["task_key"] for t in failed}
        if body.get("rerun_dependent_tasks"):
            keys |= _dependents(run.get("tasks") or [], keys)
        repair_id = 700_000 + len(self.repairs)
        now = int(utc_now().timestamp() * 1000)
        self.repairs.append({**body, "repair_id": repair_id, "request_id": uuid.uuid4().hex})
        task_run_ids = []
        for task in run.get("tasks") or []:
            if task["task_key"] in keys:
                task.update(run_id=int(task["run_id"]) + 1000, attempt_number=int(task.get("attempt_number") or 0)
                            + 1, start_time=now, end_time=0, state={"life_cycle_state": "PENDING"},
                            status={"state": "PENDING"})
                task_run_ids.append(task["run_id"])
        run["state"], run["status"] = {"life_cycle_state": "RUNNING"}, {"state": "RUNNING"}
        self._history(run).append({"type": "REPAIR", "id": repair_id, "start_time": now, "end_time": 0,
                                   "state": {"life_cycle_state": "RUNNING"}, "status": {"state": "RUNNING"},
                                   "task_run_ids": task_run_ids})
        if self.fail_after_repair:
            status = self.fail_after_repair.pop(0)
            return status, {}, {"error_code": "INTERNAL_ERROR" if status == 500 else "TEMPORARILY_UNAVAILABLE",
                                "message": "Unexpected error while repairing the run"}
        return 200, {}, {"repair_id": repair_id}

    def _history(self, run: dict[str, Any]) -> list[dict[str, Any]]:
        run_id = int(run["run_id"])
        if run_id not in self.history:
            self.history[run_id] = [{"type": "ORIGINAL", "start_time": run.get("start_time"),
                                     "end_time": run.get("end_time"), "state": dict(run.get("state") or {}),
                                     "status": dict(run.get("status") or {}),
                                     "task_run_ids": [t.get("run_id") for t in run.get("tasks") or []]}]
        return self.history[run_id]

    def finish_repair(self, run_id: int, *, error: str | None = None,
                      code: str = "RUN_EXECUTION_ERROR") -> None:
        """End the run's latest repair: every repaired task succeeds, or the first fails with `error`."""
        run = self.runs[run_id]
        now = int(utc_now().timestamp() * 1000)
        latest = self._history(run)[-1]
        failed_one = False
        for task in run.get("tasks") or []:
            if task.get("run_id") not in latest.get("task_run_ids", []):
                continue
            fails = error is not None and not failed_one
            failed_one = failed_one or fails
            message = "Workload failed, see run output for details" if fails else ""
            task.update(end_time=now, state={"life_cycle_state": "TERMINATED", "result_state":
                                             "FAILED" if fails else "SUCCESS", "state_message": message},
                        status={"state": "TERMINATED", "termination_details": {
                            "code": code if fails else "SUCCESS", "type": "CLIENT_ERROR" if fails else "SUCCESS",
                            "message": message}})
            self.outputs[int(task["run_id"])] = ({"error": error, "metadata": task} if fails
                                                 else {"notebook_output": {"result": "ok"}, "metadata": task})
        result = "FAILED" if error is not None else "SUCCESS"
        details = {"code": code if error is not None else "SUCCESS",
                   "type": "CLIENT_ERROR" if error is not None else "SUCCESS"}
        for item in (run, latest):
            item["state"] = {"life_cycle_state": "TERMINATED", "result_state": result}
            item["status"] = {"state": "TERMINATED", "termination_details": details}
            item["end_time"] = now

    def add_cluster(self, cluster_id: str, *, state: str = "TERMINATED", source: str = "UI",
                    name: str = "shared-etl") -> dict[str, Any]:
        """An all-purpose (source UI / API) or job (source JOB) cluster."""
        cluster = {"cluster_id": cluster_id, "cluster_name": name, "state": state, "cluster_source": source,
                   "spark_version": "15.4.x-scala2.12", "node_type_id": "Standard_DS3_v2",
                   "termination_reason": {"code": "INACTIVITY", "type": "SUCCESS"} if state == "TERMINATED" else {}}
        self.clusters[cluster_id] = cluster
        return cluster

    def finish_cluster_start(self, cluster_id: str, *, state: str = "RUNNING", message: str = "") -> None:
        self.clusters[cluster_id].update(state=state, state_message=message)

    def _get_cluster(self, q: dict[str, str], body: Any) -> Response:
        cluster = self.clusters.get(q.get("cluster_id", ""))
        if cluster is None:
            return 400, {}, self.error_body(400, "", f"Cluster {q.get('cluster_id')} does not exist")
        return 200, {}, cluster

    def _start_cluster(self, q: dict[str, str], body: dict[str, Any]) -> Response:
        cluster = self.clusters.get(str(body.get("cluster_id") or ""))
        if cluster is None:
            return 400, {}, self.error_body(400, "", f"Cluster {body.get('cluster_id')} does not exist")
        if cluster.get("cluster_source") == "JOB":
            return 400, {}, self.error_body(400, "", "Job clusters cannot be started")
        self.cluster_starts.append(dict(body))
        if cluster["state"] == "TERMINATED":  # otherwise nothing happens, as documented
            cluster.update(state="PENDING", last_restarted_time=int(utc_now().timestamp() * 1000),
                           termination_reason={})
        return 200, {}, {}

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
