"""Airflow executor: clear the failed task instances of ONE DAG run (Airflow 2 `/api/v1`, Airflow 3 `/api/v2`
`POST /dags/{dag_id}/clearTaskInstances`), over shared.platforms.airflow.

`airflow.clear` first asks for a dry run (`dry_run: true`, `only_failed: true`, that `dag_run_id` only) and
records what would be cleared; when nothing would, it says so and clears nothing. Then it clears for real with
`reset_dag_runs: true` (the DAG run goes back to queued), sent once: a 5xx or a timeout raises UnknownOutcome and
`reconcile` reads the DAG run (state back to queued / running, queued_at or a task start after the attempt).

Incidents carry run_id "<dag_id>/<dag_run_id>"; the raw DAG run id is failure.origin["dag_run_id"].
run_ref: {"kind": "dag_run", dag_id, dag_run_id, cleared: [task ids]}.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from remediation.executors.base import Executor, Observation, Outcome, RunCheck, Seen, Submission, UnknownOutcome
from shared.config import Settings
from shared.models import Incident
from shared.platforms.airflow import RETRY_STATUSES, AirflowApi, AirflowApiError
from shared.redaction import redact_text

ACTION_CLEAR = "airflow.clear"
FAILED_STATES = frozenset({"failed", "upstream_failed"})
ACTIVE_RUN_STATES = frozenset({"queued", "running"})
CLOCK_SKEW = timedelta(seconds=60)
MAX_ERROR_CHARS = 4000
# The last "SomethingError: message" line of a traceback; bounded repetition keeps the match linear per line.
_EXCEPTION_LINE = re.compile(r"^\s*([A-Za-z_][\w.]{0,200}(?:Error|Exception|Exit|Timeout|Interrupt))(?::\s?(.*))?$")


class NotActionable(ValueError):
    """The incident lacks what the clear needs, or there is nothing to clear."""


def create(settings: Settings) -> Executor:
    return AirflowExecutor(AirflowApi(settings))


def dag_and_run(incident: Incident) -> tuple[str, str]:
    """(dag_id, dag_run_id): the DAG is the incident's pipeline; the raw run id is in the failure's origin, else
    after "<dag_id>/" in the incident's run id."""
    dag_id = incident.pipeline or ""
    raw = (incident.failure.get("origin") or {}).get("dag_run_id")
    run_id = str(raw) if raw else ""
    if not run_id and dag_id and (incident.run_id or "").startswith(f"{dag_id}/"):
        run_id = str(incident.run_id)[len(dag_id) + 1:]
    if not dag_id or not run_id:
        raise NotActionable(f"the incident does not name a DAG and a DAG run (pipeline {incident.pipeline!r}, "
                            f"run {incident.run_id!r}): nothing can be cleared")
    return dag_id, run_id


def last_exception(log: str) -> tuple[str | None, str | None]:
    """(exception type, message) of the last exception line of a task log, or (None, None)."""
    for line in reversed(log.splitlines()[-2000:]):
        match = _EXCEPTION_LINE.match(line[:4000])
        if match:
            return match.group(1).rsplit(".", 1)[-1], (match.group(2) or "").strip() or None
    return None, None


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _origin_try(incident: Incident) -> int:
    try:
        return int((incident.failure.get("origin") or {}).get("try_number") or 0)
    except (TypeError, ValueError):
        return 0


def cleared_by_hand(incident: Incident, tis: list[dict[str, Any]]) -> bool:
    """The incident's failed task was cleared after the failure: its try number grew or it is no longer failed."""
    task = next((t for t in tis if t.get("task_id") == incident.activity), None)
    if task is None:
        return False
    rerun = int(task.get("try_number") or 0) > _origin_try(incident) > 0
    return rerun or task.get("state") not in FAILED_STATES


class AirflowExecutor(Executor):
    platform = "airflow"
    actions = (ACTION_CLEAR,)

    def __init__(self, api: AirflowApi) -> None:
        self.api = api

    def look(self, incident: Incident, action: str) -> Observation:
        self._known(action)
        dag_id, run_id = dag_and_run(incident)
        run = self.api.get_dag_run(dag_id, run_id)
        state = str(run.get("state") or "")
        ref = {"kind": "dag_run", "dag_id": dag_id, "dag_run_id": run_id}
        if state in ACTIVE_RUN_STATES or state == "success":
            if cleared_by_hand(incident, self.api.task_instances(dag_id, run_id)):
                return Observation(Seen.ADOPT, f"DAG run {run_id} of {dag_id} is {state}: task {incident.activity} "
                                   "was already cleared by hand; verifying that rerun instead", ref)
            if state == "success":
                return Observation(Seen.SUPERSEDED, f"DAG run {run_id} of {dag_id} finished with success", ref)
            return Observation(Seen.IN_PROGRESS, f"DAG run {run_id} of {dag_id} is still {state}")
        later = [r for r in self.api.dag_runs(dag_id, state="success", start_date_gte=run.get("start_date"))
                 if r.get("dag_run_id") != run_id and _later(r, run)]
        if later:
            newer = later[0]
            return Observation(Seen.SUPERSEDED, f"a later DAG run {newer.get('dag_run_id')} of {dag_id} succeeded",
                               {"kind": "dag_run", "dag_id": dag_id, "dag_run_id": str(newer.get("dag_run_id"))})
        return Observation(Seen.CLEAR, f"DAG run {run_id} of {dag_id} is {state}; no later success, not cleared yet")

    def submit(self, incident: Incident, action: str, attempt: int) -> Submission:
        self._known(action)
        dag_id, run_id = dag_and_run(incident)
        body = {"dag_run_id": run_id, "only_failed": True, "reset_dag_runs": True}
        try:
            would = self.api.clear_task_instances(dag_id, run_id, dry_run=True)
        except AirflowApiError as exc:
            if exc.status in RETRY_STATUSES:  # nothing was cleared; reconcile finds nothing and it is tried again
                raise UnknownOutcome(f"dry run {dag_id}/{run_id}: {redact_text(str(exc))[:300]}") from exc
            raise
        except OSError as exc:
            raise UnknownOutcome(f"dry run {dag_id}/{run_id}: no answer ({type(exc).__name__})") from exc
        path = f"/api/{self.api.api_version}/dags/{dag_id}/clearTaskInstances"  # known once the dry run answered
        names = sorted({str(t.get("task_id")) for t in would})
        calls: list[dict[str, Any]] = [{"method": "POST", "path": path, "body": {**body, "dry_run": True},
                                        "status": 200, "result": {"would_clear": names}}]
        if not names:
            raise NotActionable(f"the dry run clears nothing in DAG run {run_id} of {dag_id} (no failed task "
                                "instance left): nothing was cleared")
        entry: dict[str, Any] = {"method": "POST", "path": path, "body": {**body, "dry_run": False}}
        calls.append(entry)
        try:
            cleared = self.api.clear_task_instances(dag_id, run_id, dry_run=False)
        except AirflowApiError as exc:
            entry.update(status=exc.status, result=redact_text(str(exc))[:500])
            if exc.status in RETRY_STATUSES:
                raise UnknownOutcome(f"clearTaskInstances {dag_id}/{run_id}: {redact_text(str(exc))[:300]}") from exc
            raise
        except OSError as exc:  # URLError and TimeoutError are OSErrors: the clear may have been made
            entry.update(status="unknown", result=f"{type(exc).__name__}: {exc}"[:300])
            raise UnknownOutcome(f"clearTaskInstances {dag_id}/{run_id}: no answer ({type(exc).__name__})") from exc
        done = sorted({str(t.get("task_id")) for t in cleared}) or names
        entry.update(status=200, result={"cleared": done})
        return Submission(action, {"kind": "dag_run", "dag_id": dag_id, "dag_run_id": run_id, "cleared": done}, calls)

    def reconcile(self, incident: Incident, action: str, attempt: int, since: str) -> Submission | None:
        """Before an attempt the DAG run was failed (look said clear); it is back to queued / running, or was
        queued or had a task started after `since`, only when a clear went through."""
        self._known(action)
        dag_id, run_id = dag_and_run(incident)
        moment = _parse_time(since)
        after = moment - CLOCK_SKEW if moment is not None else datetime.min
        run = self.api.get_dag_run(dag_id, run_id)
        evidence = None
        if str(run.get("state") or "") in ACTIVE_RUN_STATES:
            evidence = f"DAG run is {run.get('state')}"
        elif _after(run.get("queued_at"), after):
            evidence = f"DAG run queued at {run.get('queued_at')}"
        else:
            started = [t for t in self.api.task_instances(dag_id, run_id) if _after(t.get("start_date"), after)]
            if started:
                evidence = f"task {started[0].get('task_id')} started at {started[0].get('start_date')}"
        if evidence is None:
            return None
        return Submission(action, {"kind": "dag_run", "dag_id": dag_id, "dag_run_id": run_id, "cleared": []},
                          [{"method": "GET", "path": f"/api/{self.api.api_version}/dags/{dag_id}/dagRuns/{run_id}",
                            "status": 200, "result": {"reconciled": evidence}}])

    def check(self, incident: Incident, run_ref: dict[str, Any]) -> RunCheck:
        dag_id, run_id = str(run_ref["dag_id"]), str(run_ref["dag_run_id"])
        run = self.api.get_dag_run(dag_id, run_id)
        state = str(run.get("state") or "")
        detail = f"DAG run {run_id} of {dag_id} is {state or 'unknown'}"
        if state in ACTIVE_RUN_STATES or not state:
            return RunCheck(Outcome.RUNNING, detail)
        if state == "success":
            return RunCheck(Outcome.SUCCEEDED, detail)
        failed = sorted((t for t in self.api.task_instances(dag_id, run_id) if t.get("state") == "failed"),
                        key=lambda t: str(t.get("end_date") or ""))
        if not failed:
            return RunCheck(Outcome.FAILED, detail, error_message=detail)
        task = failed[0]
        task_id, tries = str(task.get("task_id")), int(task.get("try_number") or 0)
        code, message = None, None
        try:
            code, message = last_exception(self.api.task_log(dag_id, run_id, task_id, tries))
        except (AirflowApiError, OSError):
            pass  # the task's state is still the answer; its log is a bonus
        words = f"{code}: {message}" if code and message else code or f"task {task_id} failed (try {tries})"
        return RunCheck(Outcome.FAILED, detail, error_code=code, error_message=redact_text(words)[:MAX_ERROR_CHARS],
                        activity=task_id)

    def _known(self, action: str) -> None:
        if action not in self.actions:
            raise NotActionable(f"the Airflow executor cannot carry out {action!r} (it can: {ACTION_CLEAR})")


def _later(other: dict[str, Any], run: dict[str, Any]) -> bool:
    """`other` is for the same or a later interval and started after `run`."""
    mine = _parse_time(run.get("logical_date") or run.get("execution_date"))
    theirs = _parse_time(other.get("logical_date") or other.get("execution_date"))
    started, began = _parse_time(other.get("start_date")), _parse_time(run.get("start_date"))
    if mine and theirs and theirs < mine:
        return False
    return not (started and began and started <= began)


def _after(value: Any, when: datetime) -> bool:
    moment = _parse_time(value)
    if moment is None:
        return False
    if moment.tzinfo is None or when.tzinfo is None:
        return moment.replace(tzinfo=None) >= when.replace(tzinfo=None)
    return moment >= when
