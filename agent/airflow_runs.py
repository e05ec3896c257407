"""Airflow DAG runs and task instances for the run tools, over the app's Airflow adapter (AIRFLOW_URL, the
stable REST API v1 of Airflow 2 or v2 of Airflow 3; the same paths and parameters in both)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from agent.tooling import ToolContext, ToolProblem, problem_of
from shared.platforms.airflow import AirflowApi
from shared.timeutil import to_iso

STATES = {"Failed": "failed", "Succeeded": "success", "InProgress": "running"}
MESSAGE_CHARS = 600
DAG_ID = re.compile(r"^[A-Za-z0-9_.-]{1,250}$")  # Airflow's own rule for DAG ids (KEY_REGEX)


def checked_dag_id(dag_id: str | None) -> str | None:
    """A DAG id as Airflow allows it; "." and ".." would climb the API path once quoted."""
    if dag_id is None:
        return None
    if not DAG_ID.match(dag_id) or dag_id in (".", ".."):
        raise ToolProblem("invalid_arguments", "a DAG id is letters, digits, '_', '.' or '-' (not '.' or '..')")
    return dag_id


class AirflowRuns(AirflowApi):
    def list_dag_runs(self, dag_id: str | None, state: str | None, since: datetime, until: datetime,
                 limit: int) -> dict[str, Any]:
        self.calls["dagRuns"] += 1
        query = {"end_date_gte": to_iso(since), "start_date_lte": to_iso(until), "limit": str(limit),
                 "order_by": "-start_date"}
        if state:
            query["state"] = state
        path = f"/api/{self.api_version}/dags/{quote(dag_id or '~', safe='~')}/dagRuns?{urlencode(query)}"
        result: dict[str, Any] = self._request("GET", path) or {}
        return result


def _api(ctx: ToolContext) -> AirflowRuns:
    try:
        return AirflowRuns(ctx.settings)
    except ValueError as exc:
        raise ToolProblem("unavailable", str(exc)) from exc


def list_dag_runs(ctx: ToolContext, dag_id: str | None, status: str, since: datetime, until: datetime,
                  limit: int) -> list[dict[str, Any]]:
    if status != "any" and status not in STATES:
        raise ToolProblem("invalid_arguments", f"Airflow DAG runs have no {status} state; use Failed, Succeeded, "
                                               "InProgress or any")
    dag_id = checked_dag_id(dag_id)
    api = _api(ctx)
    try:
        page = api.list_dag_runs(dag_id, None if status == "any" else STATES[status], since, until, limit + 1)
    except Exception as exc:
        raise problem_of(exc, "Airflow") from exc
    return [{"platform": "airflow", "pipeline": r.get("dag_id"), "run_id": r.get("dag_run_id"),
             "status": r.get("state"), "start": r.get("start_date"), "end": r.get("end_date"),
             "message": str(r.get("note") or "")[:MESSAGE_CHARS]} for r in page.get("dag_runs") or []]


def dag_run_tasks(ctx: ToolContext, dag_id: str | None, run_id: str) -> dict[str, Any]:
    if not dag_id:
        raise ToolProblem("invalid_arguments", "pass pipeline: the DAG id of the run")
    dag_id = checked_dag_id(dag_id) or ""
    if run_id.strip() in (".", ".."):
        raise ToolProblem("invalid_arguments", "a DAG run id cannot be '.' or '..'")
    api = _api(ctx)
    try:
        tasks = api.task_instances(dag_id, run_id)
        rows = [{"task": t.get("task_id"), "map_index": t.get("map_index"), "status": t.get("state"),
                 "try_number": t.get("try_number"), "max_tries": t.get("max_tries"),
                 "link": api.task_link(dag_id, run_id, str(t.get("task_id")))} for t in tasks]
    except Exception as exc:
        raise problem_of(exc, "Airflow") from exc
    return {"run": {"platform": "airflow", "pipeline": dag_id, "run_id": run_id}, "tasks": rows,
            "note": "Airflow's API gives task states, not error texts: the error is in the failed task's log."}
