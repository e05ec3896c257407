"""SIMULATED Airflow REST API (stable v1 of Airflow 2, or v2 of Airflow 3) for tests and demos.

Not Airflow: a loopback HTTP server (tools.simulators.base) with an in-memory set of task
instances, answering what shared.platforms.airflow calls:

  GET  /api/v2/version (Airflow 3 only; 404 on the Airflow 2 flavour), GET /api/v1/version
  GET  /api/{v}/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}[/{map_index}]
  GET  /api/{v}/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}
  GET  /api/{v}/dags/{dag_id}/dagRuns/{run_id}/taskInstances
  GET  /api/{v}/dags/{dag_id}/dagRuns/{run_id}          GET /api/{v}/dags/{dag_id}/dagRuns (state, start_date_gte)
  POST /api/{v}/dags/{dag_id}/clearTaskInstances   dry_run (default true) honoured; real clears are recorded.
       As in Airflow: without dag_run_id every run of the DAG is cleared; an unknown dag_run_id is a 404;
       only_failed keeps failed / upstream_failed; reset_dag_runs puts the DAG run back to queued.

Requests need `Authorization: Bearer <token>`. `finish_dag_run` runs the cleared tasks to success, or one to
failure with an error in its log (Airflow 2 logs are text, Airflow 3 logs are structured events).
"""

from __future__ import annotations

import re
from typing import Any

from shared.timeutil import utc_now
from tools.simulators.base import Response, SimServer

FAILED = ("failed", "upstream_failed")

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
        self.logs: dict[tuple[str, str, str, int], str] = {}  # (dag, run, task, try) -> log text
        # Statuses to answer *after* a real clear was made (the server did the work, the client sees an error).
        self.fail_after_clear: list[int] = []
        self.fail_before_clear: list[int] = []  # statuses to answer to a real clear instead of making it

    def authorized(self, headers: dict[str, str]) -> bool:
        return headers.get("authorization", "") == f"Bearer {self.token}"

    def error_body(self, status: int, code: str, message: str) -> Any:
        return {"title": code, "status": status, "detail": message}

    def add_task_instance(self, dag_id: str, run_id: str, task_id: str, state: str | None = "failed", *,
                          map_index: int = -1, try_number: int = 1, max_tries: int = 0) -> dict[str, Any]:
        ti = {"dag_id": dag_id, "dag_run_id": run_id, "task_id": task_id, "map_index": map_index, "state": state,
              "try_number": try_number, "max_tries": max_tries, "execution_date": "2025-04-15T00:00:00+00:00",
              "logical_date": "2025-04-15T00:00:00+00:00"}
        self.task_instances[(dag_id, run_id, task_id, map_index)] = ti
        return ti

    def add_dag_run(self, dag_id: str, run_id: str, state: str = "failed", *,
                    start_date: str = "2025-04-15T00:00:05+00:00", logical_date: str = "2025-04-15T00:00:00+00:00",
                    tasks: dict[str, str | None] | None = None, error: str = "") -> dict[str, Any]:
        """A DAG run and its task instances ({task_id: state}); a failed task gets `error` in its log."""
        date_key = "logical_date" if self.major >= 3 else "execution_date"
        run = {"dag_id": dag_id, "dag_run_id": run_id, "state": state, "start_date": start_date,
               "end_date": None if state in ("queued", "running") else start_date, date_key: logical_date,
               "run_type": "scheduled"}
        if self.major >= 3:
            run["queued_at"] = start_date
        self.dag_runs[(dag_id, run_id)] = run
        for task_id, task_state in (tasks or {}).items():
            self.add_task_instance(dag_id, run_id, task_id, task_state)
            if task_state == "failed" and error:
                self.logs[(dag_id, run_id, task_id, 1)] = error
        return run

    def finish_dag_run(self, dag_id: str, run_id: str, *, fail: str | None = None, error: str = "") -> None:
        """Run the cleared tasks of a DAG run: all succeed, or task `fail` fails with `error` in its log."""
        for (d, r, t, _), ti in self.task_instances.items():
            if d == dag_id and r == run_id and ti["state"] is None:
                ti["try_number"] += 1
                ti["state"] = "failed" if t == fail else "success"
                ti["start_date"] = utc_now().isoformat()
                if t == fail:
                    self.logs[(d, r, t, ti["try_number"])] = error
        run = self.dag_runs[(dag_id, run_id)]
        run.update(state="failed" if fail else "success", end_date=utc_now().isoformat())

    def route(self, method: str, path: str) -> tuple[str, Any, tuple[str, ...]] | None:
        if method == "GET" and path == f"{self.prefix}/version":
            return "version", self._version, ()
        runs = rf"^{self.prefix}/dags/([^/]+)/dagRuns"
        match = re.match(rf"{runs}/([^/]+)/taskInstances/([^/]+)/logs/(\d+)$", path)
        if method == "GET" and match:
            return "taskLog", self._log, match.groups()
        match = re.match(rf"{runs}/([^/]+)/taskInstances$", path)
        if method == "GET" and match:
            return "taskInstances", self._task_instances, match.groups()
        match = re.match(rf"{runs}(?:/([^/]+))?$", path)
        if method == "GET" and match:
            return ("dagRun", self._dag_run, match.groups()) if match.group(2) else (
                "dagRuns", self._list_runs, (match.group(1),))
        match = re.match(rf"^{self.prefix}/dags/([^/]+)/dagRuns/([^/]+)/taskInstances/([^/]+)(?:/(-?\d+))?$", path)
        if method == "GET" and match:
            return "taskInstance", self._task_instance, tuple(g or "-1" for g in match.groups())
        match = re.match(rf"^{self.prefix}/dags/([^/]+)/clearTaskInstances$", path)
        if method == "POST" and match:
            return "clearTaskInstances", self._clear, match.groups()
        return None

    def _version(self, q: dict[str, str], body: Any) -> Response:
        return 200, {}, {"version": "3.0.2" if self.major >= 3 else "2.10.5", "git_version": None}

    def _task_instance(self, q: dict[str, str], body: Any, dag: str, run: str, task: str, index: str) -> Response:
        ti = self.task_instances.get((dag, run, task, int(index)))
        if ti is None:
            return 404, {}, self.error_body(404, "Task instance not found", f"{dag}/{run}/{task}")
        return 200, {}, ti

    def _dag_run(self, q: dict[str, str], body: Any, dag: str, run: str) -> Response:
        found = self.dag_runs.get((dag, run))
        if found is None:
            return 404, {}, self.error_body(404, "Not Found", f"DAGRun with DAG ID: '{dag}' and DagRun ID: '{run}' "
                                            "not found")
        return 200, {}, found

    def _list_runs(self, q: dict[str, str], body: Any, dag: str) -> Response:
        runs = [r for (d, _), r in self.dag_runs.items() if d == dag]
        if q.get("state"):
            runs = [r for r in runs if r["state"] in q["state"].split(",")]
        if q.get("start_date_gte"):
            runs = [r for r in runs if str(r.get("start_date") or "") >= q["start_date_gte"]]
        runs.sort(key=lambda r: str(r.get("start_date") or ""), reverse=q.get("order_by", "") == "-start_date")
        limit = int(q.get("limit") or 100)
        return 200, {}, {"dag_runs": runs[:limit], "total_entries": len(runs)}

    def _task_instances(self, q: dict[str, str], body: Any, dag: str, run: str) -> Response:
        if (dag, run) not in self.dag_runs:
            return 404, {}, self.error_body(404, "Not Found", f"DagRun {run} not found")
        tis = [ti for (d, r, _, _), ti in self.task_instances.items() if d == dag and r == run]
        return 200, {}, {"task_instances": tis[:int(q.get("limit") or 100)], "total_entries": len(tis)}

    def _log(self, q: dict[str, str], body: Any, dag: str, run: str, task: str, try_number: str) -> Response:
        text = self.logs.get((dag, run, task, int(try_number)))
        if text is None:
            return 404, {}, self.error_body(404, "Not Found", "no log for this try")
        header = "[2025-04-15T00:01:00.000+0000] {taskinstance.py:2731} ERROR - Task failed with exception"
        if self.major >= 3:
            events = [{"timestamp": "2025-04-15T00:01:00Z", "event": line, "level": "error"}
                      for line in [header, *text.splitlines()]]
            return 200, {}, {"content": events, "continuation_token": None}
        return 200, {}, {"content": f"{header}\n{text}\n", "continuation_token": None}

    def _clear(self, q: dict[str, str], body: dict[str, Any], dag: str) -> Response:
        wanted = set(body.get("task_ids") or [])
        run_id = body.get("dag_run_id")
        if run_id is not None and (dag, run_id) not in self.dag_runs and not any(
                d == dag and r == run_id for d, r, _, _ in self.task_instances):
            return 404, {}, self.error_body(404, "Not Found", f"Dag Run id {run_id} not found in dag {dag}")
        matches = [ti for (d, r, t, _), ti in self.task_instances.items()
                   if d == dag and (run_id is None or r == run_id) and (not wanted or t in wanted)
                   and (not body.get("only_failed", True) or ti["state"] in FAILED)]
        if not body.get("dry_run", True) and self.fail_before_clear:
            status = self.fail_before_clear.pop(0)
            return status, {"Retry-After": "0"}, self.error_body(status, "Service Unavailable", "simulated")
        if not body.get("dry_run", True):
            self.cleared.append({"dag_id": dag, **body})
            for ti in matches:
                ti["state"] = None
                run = self.dag_runs.get((dag, ti["dag_run_id"]))
                if run is not None and body.get("reset_dag_runs", self.major >= 3):
                    run.update(state="queued", end_date=None)
                    if self.major >= 3:
                        run["queued_at"] = utc_now().isoformat()
            if self.fail_after_clear:
                status = self.fail_after_clear.pop(0)
                return status, {}, self.error_body(status, "Internal Server Error", "simulated failure after clear")
        if self.major >= 3:
            return 200, {}, {"task_instances": matches, "total_entries": len(matches)}
        refs = [{k: ti[k] for k in ("dag_id", "dag_run_id", "execution_date", "task_id")} for ti in matches]
        return 200, {}, {"task_instances": refs}
