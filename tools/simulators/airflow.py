"""SIMULATED Airflow REST API (stable v1 of Airflow 2, or v2 of Airflow 3) for tests and demos.

Not Airflow: a loopback HTTP server (tools.simulators.base) with an in-memory set of task
instances, answering what shared.platforms.airflow calls:

  GET  /api/v2/version (Airflow 3 only; 404 on the Airflow 2 flavour), GET /api/v1/version
  GET  /api/{v}/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}[/{map_index}]
  POST /api/{v}/dags/{dag_id}/clearTaskInstances   dry_run honoured; real clears are recorded
  GET  /api/{v}/dags/{dag_id or ~}/dagRuns          state, end_date_gte, start_date_lte, limit, offset
  GET  /api/{v}/dags/{dag_id}/dagRuns/{run_id}/taskInstances

Requests need `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import re
from typing import Any

from tools.simulators.base import Response, SimServer

SIM_AIRFLOW_TOKEN = "airflow-simulated"


class AirflowSimulator(SimServer):
    """SIMULATED Airflow; `major` 2 serves /api/v1, 3 serves /api/v2 (and /api/v1 answers 404)."""

    def __init__(self, port: int = 0, major: int = 3, token: str = SIM_AIRFLOW_TOKEN) -> None:
        super().__init__(port)
        self.major = major
        self.token = token
        self.prefix = "/api/v2" if major >= 3 else "/api/v1"
        self.task_instances: dict[tuple[str, str, str, int], dict[str, Any]] = {}
        self.cleared: list[dict[str, Any]] = []  # the non-dry-run clear requests
        self.dag_runs: dict[tuple[str, str], dict[str, Any]] = {}

    def authorized(self, headers: dict[str, str]) -> bool:
        return headers.get("authorization", "") == f"Bearer {self.token}"

    def error_body(self, status: int, code: str, message: str) -> Any:
        return {"title": code, "status": status, "detail": message}

    def add_task_instance(self, dag_id: str, run_id: str, task_id: str, state: str = "failed", *,
                          map_index: int = -1, try_number: int = 1, max_tries: int = 0) -> dict[str, Any]:
        ti = {"dag_id": dag_id, "dag_run_id": run_id, "task_id": task_id, "map_index": map_index, "state": state,
              "try_number": try_number, "max_tries": max_tries, "execution_date": "2025-04-15T00:00:00+00:00",
              "logical_date": "2025-04-15T00:00:00+00:00"}
        self.task_instances[(dag_id, run_id, task_id, map_index)] = ti
        return ti

    def add_dag_run(self, dag_id: str, run_id: str, state: str, start: str, end: str | None) -> dict[str, Any]:
        """A DAG run (ISO-8601 start / end); add its task instances with add_task_instance."""
        run = {"dag_id": dag_id, "dag_run_id": run_id, "state": state, "start_date": start, "end_date": end,
               "logical_date": start, "run_type": "scheduled", "note": None}
        self.dag_runs[(dag_id, run_id)] = run
        return run

    def route(self, method: str, path: str) -> tuple[str, Any, tuple[str, ...]] | None:
        if method == "GET" and path == f"{self.prefix}/version":
            return "version", self._version, ()
        match = re.match(rf"^{self.prefix}/dags/([^/]+)/dagRuns$", path)
        if method == "GET" and match:
            return "dagRuns", self._dag_runs, match.groups()
        match = re.match(rf"^{self.prefix}/dags/([^/]+)/dagRuns/([^/]+)/taskInstances$", path)
        if method == "GET" and match:
            return "taskInstances", self._task_instances, match.groups()
        match = re.match(rf"^{self.prefix}/dags/([^/]+)/dagRuns/([^/]+)/taskInstances/([^/]+)(?:/(-?\d+))?$", path)
        if method == "GET" and match:
            return "taskInstance", self._task_instance, tuple(g or "-1" for g in match.groups())
        match = re.match(rf"^{self.prefix}/dags/([^/]+)/clearTaskInstances$", path)
        if method == "POST" and match:
            return "clearTaskInstances", self._clear, match.groups()
        return None

    def _version(self, q: dict[str, str], body: Any) -> Response:
        return 200, {}, {"version": "3.0.2" if self.major >= 3 else "2.10.5", "git_version": None}

    def _dag_runs(self, q: dict[str, str], body: Any, dag: str) -> Response:
        runs = [r for (d, _), r in self.dag_runs.items() if dag in ("~", d)
                and (not q.get("state") or r["state"] == q["state"])
                and (not q.get("end_date_gte") or (r["end_date"] or "") >= q["end_date_gte"])
                and (not q.get("start_date_lte") or r["start_date"] <= q["start_date_lte"])]
        runs.sort(key=lambda r: str(r["start_date"]), reverse=True)
        offset, limit = int(q.get("offset") or 0), int(q.get("limit") or 100)
        return 200, {}, {"dag_runs": runs[offset:offset + limit], "total_entries": len(runs)}

    def _task_instances(self, q: dict[str, str], body: Any, dag: str, run: str) -> Response:
        if (dag, run) not in self.dag_runs:
            return 404, {}, self.error_body(404, "DAGRun not found", f"{dag}/{run}")
        items = [ti for (d, r, _, _), ti in self.task_instances.items() if d == dag and r == run]
        return 200, {}, {"task_instances": items, "total_entries": len(items)}

    def _task_instance(self, q: dict[str, str], body: Any, dag: str, run: str, task: str, index: str) -> Response:
        ti = self.task_instances.get((dag, run, task, int(index)))
        if ti is None:
            return 404, {}, self.error_body(404, "Task instance not found", f"{dag}/{run}/{task}")
        return 200, {}, ti

    def _clear(self, q: dict[str, str], body: dict[str, Any], dag: str) -> Response:
        wanted = set(body.get("task_ids") or [])
        matches = [ti for (d, r, t, _), ti in self.task_instances.items()
                   if d == dag and r == body.get("dag_run_id") and (not wanted or t in wanted)
                   and (not body.get("only_failed") or ti["state"] in ("failed", "upstream_failed"))]
        if not body.get("dry_run", True):
            self.cleared.append({"dag_id": dag, **body})
            for ti in matches:
                ti["state"] = None
        if self.major >= 3:
            return 200, {}, {"task_instances": matches, "total_entries": len(matches)}
        refs = [{k: ti[k] for k in ("dag_id", "dag_run_id", "execution_date", "task_id")} for ti in matches]
        return 200, {}, {"task_instances": refs}
