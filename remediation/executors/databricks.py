"""Databricks executor: repair a failed job run (Jobs API 2.2 runs/repair), or start a terminated all-purpose
cluster (clusters/start), over shared.platforms.databricks (databricks-sdk).

- `databricks.repair_run`: rerun all failed tasks and the tasks depending on them, as part of the same run. A
  second repair of the same run must name the latest repair (`latest_repair_id`, read from runs/get with
  include_history); the API refuses it otherwise. A repair has no idempotency token, so the POST is sent once
  (no SDK retry): a 5xx, a 429 or a timeout raises UnknownOutcome, and `reconcile` reads the repair history.
- `databricks.start_cluster`: an all-purpose cluster that terminated (the cluster id the enrichment found).
  Clusters created for a job run cannot be started (the API says so); repairing the run creates a new one.

run_ref kinds: {"kind": "repair", run_id, repair_id, job_id}, {"kind": "run", run_id} (a later run or the run
itself), {"kind": "cluster", cluster_id}.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from databricks.sdk.errors import BadRequest, NotFound, PermissionDenied, ResourceConflict, Unauthenticated
from databricks.sdk.errors import NotImplemented as ApiNotImplemented

from remediation.executors import databricks_runs as runs
from remediation.executors.base import Executor, Observation, Outcome, RunCheck, Seen, Submission, UnknownOutcome
from shared.config import Settings
from shared.models import Incident
from shared.platforms.common import error_text
from shared.platforms.databricks import DatabricksWorkspace
from shared.redaction import redact_text

# Answers that say the call did nothing; any other failure of a start call leaves its outcome unknown.
REFUSED = (BadRequest, Unauthenticated, PermissionDenied, NotFound, ResourceConflict, ApiNotImplemented)
CLOCK_SKEW_MS = 60_000  # our clock vs the workspace's, when matching a repair to the attempt that started it
MAX_ERROR_CHARS = 4000
API = "/api/2.2/jobs"


class NotActionable(ValueError):
    """The incident lacks what the action needs, or the platform cannot do it (e.g. a job cluster)."""


def create(settings: Settings) -> Executor:
    return DatabricksExecutor(DatabricksWorkspace(settings))


def _to_ms(value: str | None) -> int:
    if not value:
        return 0
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)


class DatabricksExecutor(Executor):
    platform = "databricks"
    actions = (runs.ACTION_REPAIR, runs.ACTION_START_CLUSTER)

    def __init__(self, workspace: DatabricksWorkspace) -> None:
        self.workspace = workspace

    # --- look ----------------------------------------------------------------------------
    def look(self, incident: Incident, action: str) -> Observation:
        if action == runs.ACTION_START_CLUSTER:
            return self._look_cluster(incident)
        self._known(action)
        run_id = _run_id(incident)
        run = self.workspace.get_run(run_id, include_history=True)
        by_hand = runs.repair_by_hand(run, runs.known_repair_ids(incident.remediation))
        if by_hand is not None:
            return Observation(Seen.ADOPT, f"run {run_id} was already repaired by hand (repair {by_hand['id']}, "
                               f"{runs.state_words(by_hand)}): verifying that repair instead",
                               _repair_ref(run, int(by_hand["id"])))
        state = runs.phase(run)
        if state is Outcome.RUNNING:
            return Observation(Seen.IN_PROGRESS, f"run {run_id} is still in progress ({runs.state_words(run)})")
        if state is Outcome.SUCCEEDED:
            return Observation(Seen.SUPERSEDED, f"run {run_id} now shows success ({runs.state_words(run)})",
                               {"kind": "run", "run_id": run_id})
        job_id = run.get("job_id")
        if job_id is not None:
            later = self.workspace.job_runs(int(job_id), start_ms=int(run.get("start_time") or 0) + 1)
            newer = runs.newer_success(later, run)
            if newer is not None:
                return Observation(Seen.SUPERSEDED, f"a later run {newer['run_id']} of job {job_id} succeeded",
                                   {"kind": "run", "run_id": int(newer["run_id"]), "job_id": int(job_id)})
            active = [r for r in later if runs.phase(r) is Outcome.RUNNING and r.get("run_id") != run_id]
            if active:
                return Observation(Seen.IN_PROGRESS, f"run {active[0]['run_id']} of job {job_id} is in progress "
                                   f"({runs.state_words(active[0])}); waiting for it before repairing")
        return Observation(Seen.CLEAR, f"run {run_id} failed ({runs.state_words(run)}); no later success, nothing "
                           "in progress, no repair by hand")

    def _look_cluster(self, incident: Incident) -> Observation:
        cluster_id = _cluster_id(incident)
        if cluster_id is None:
            return Observation(Seen.CLEAR, "the incident names no cluster (the start will be refused)")
        cluster = self.workspace.get_cluster(cluster_id)
        state = str(cluster.get("state") or "UNKNOWN")
        if cluster.get("cluster_source") == "JOB":
            return Observation(Seen.CLEAR, f"cluster {cluster_id} is a job cluster ({state}): it cannot be started")
        if state in runs.CLUSTER_UP:
            return Observation(Seen.ADOPT, f"cluster {cluster_id} is already {state}: verifying it",
                               {"kind": "cluster", "cluster_id": cluster_id})
        if state == "TERMINATING":
            return Observation(Seen.IN_PROGRESS, f"cluster {cluster_id} is still terminating")
        return Observation(Seen.CLEAR, f"cluster {cluster_id} is {state}")

    # --- submit --------------------------------------------------------------------------
    def submit(self, incident: Incident, action: str, attempt: int) -> Submission:
        if action == runs.ACTION_START_CLUSTER:
            return self._start_cluster(incident, action)
        self._known(action)
        self._same_workspace(incident)
        run_id = _run_id(incident)
        run = _before_start(lambda: self.workspace.get_run(run_id, include_history=True), f"runs/get {run_id}")
        latest = runs.latest_repair_id(run)
        calls: list[dict[str, Any]] = [{"method": "GET", "path": f"{API}/runs/get", "status": 200,
                                        "result": {"run_id": run_id, "latest_repair_id": latest,
                                                   "state": runs.state_words(run)}}]
        body = {"run_id": run_id, "rerun_all_failed_tasks": True, "rerun_dependent_tasks": True,
                "latest_repair_id": latest}
        repair_id = self._once(lambda: self.workspace.repair_run(run_id, latest_repair_id=latest),
                               f"runs/repair {run_id}", calls, f"{API}/runs/repair", body)
        calls[-1]["result"] = {"repair_id": repair_id}
        ref = {"kind": "repair", "run_id": run_id, "repair_id": repair_id, "job_id": run.get("job_id")}
        return Submission(action, ref, calls)

    def _start_cluster(self, incident: Incident, action: str) -> Submission:
        self._same_workspace(incident)
        cluster_id = _cluster_id(incident)
        if cluster_id is None:
            raise NotActionable("the incident names no cluster: the failed task's cluster id is unknown")
        cluster = _before_start(lambda: self.workspace.get_cluster(cluster_id), f"clusters/get {cluster_id}")
        if cluster.get("cluster_source") == "JOB":
            raise NotActionable(f"cluster {cluster_id} was created for a job run and job clusters cannot be started; "
                                "repair the run instead (it gets a new job cluster)")
        calls: list[dict[str, Any]] = [{"method": "GET", "path": "/api/2.1/clusters/get", "status": 200,
                                        "result": {"cluster_id": cluster_id, "state": cluster.get("state")}}]
        self._once(lambda: self.workspace.start_cluster(cluster_id), f"clusters/start {cluster_id}", calls,
                   "/api/2.1/clusters/start", {"cluster_id": cluster_id})
        return Submission(action, {"kind": "cluster", "cluster_id": cluster_id}, calls)

    def _once(self, call: Any, what: str, calls: list[dict[str, Any]], path: str, body: dict[str, Any]) -> Any:
        """Send a call that starts work once; a refusal is raised as it is, anything else is UnknownOutcome."""
        entry: dict[str, Any] = {"method": "POST", "path": path, "body": body}
        calls.append(entry)
        try:
            result = call()
        except REFUSED as exc:
            entry.update(status="refused", result=redact_text(error_text(exc, what)))
            raise
        except (OSError, TimeoutError, RuntimeError) as exc:  # DatabricksError is an OSError; requests' errors too
            entry.update(status="unknown", result=redact_text(error_text(exc, what)))
            raise UnknownOutcome(f"{what}: {redact_text(error_text(exc, what))}") from exc
        entry["status"] = 200
        return result

    # --- reconcile -----------------------------------------------------------------------
    def reconcile(self, incident: Incident, action: str, attempt: int, since: str) -> Submission | None:
        since_ms = _to_ms(since) - CLOCK_SKEW_MS
        if action == runs.ACTION_START_CLUSTER:
            cluster_id = _cluster_id(incident)
            if cluster_id is None:
                return None
            cluster = self.workspace.get_cluster(cluster_id)
            started = int(cluster.get("last_restarted_time") or 0)
            if str(cluster.get("state") or "") in runs.CLUSTER_UP and started >= since_ms:
                return Submission(action, {"kind": "cluster", "cluster_id": cluster_id},
                                  [{"method": "GET", "path": "/api/2.1/clusters/get", "status": 200,
                                    "result": {"state": cluster.get("state"), "last_restarted_time": started}}])
            return None
        self._known(action)
        run_id = _run_id(incident)
        run = self.workspace.get_run(run_id, include_history=True)
        found = runs.repair_since(run, runs.known_repair_ids(incident.remediation), since_ms)
        if found is None:
            return None
        return Submission(action, _repair_ref(run, int(found["id"])),
                          [{"method": "GET", "path": f"{API}/runs/get", "status": 200,
                            "result": {"repair_history": "repair {} started at {}".format(
                                found["id"], found.get("start_time"))}}])

    # --- check ---------------------------------------------------------------------------
    def check(self, incident: Incident, run_ref: dict[str, Any]) -> RunCheck:
        if run_ref.get("kind") == "cluster":
            cluster = self.workspace.get_cluster(str(run_ref["cluster_id"]))
            outcome = runs.cluster_phase(cluster)
            reason = cluster.get("termination_reason") or {}
            detail = f"cluster {run_ref['cluster_id']} is {cluster.get('state')}"
            if outcome is not Outcome.FAILED:
                return RunCheck(outcome, detail)
            message = str(cluster.get("state_message") or reason.get("code") or "the cluster did not start")
            return RunCheck(outcome, detail, error_code=str(reason.get("code") or cluster.get("state")),
                            error_message=redact_text(message)[:MAX_ERROR_CHARS])
        run_id = int(run_ref["run_id"])
        run = self.workspace.get_run(run_id, include_history=True)
        item, task_ids = run, None
        if run_ref.get("repair_id") is not None:
            repair = runs.find_repair(run, int(run_ref["repair_id"]))
            if repair is not None:
                item, task_ids = repair, repair.get("task_run_ids")
        outcome = runs.phase(item)
        what = f"repair {run_ref['repair_id']} of run {run_id}" if item is not run else f"run {run_id}"
        detail = f"{what}: {runs.state_words(item)}"
        if outcome is not Outcome.FAILED:
            return RunCheck(outcome, detail)
        return self._failed(run, item, task_ids, detail)

    def _failed(self, run: dict[str, Any], item: dict[str, Any], task_ids: Any, detail: str) -> RunCheck:
        tasks = runs.failed_tasks(run, task_ids) or runs.failed_tasks(run)
        if not tasks:
            state = item.get("state") or {}
            return RunCheck(Outcome.FAILED, detail, error_code=runs.error_code(item),
                            error_message=redact_text(str(state.get("state_message") or detail))[:MAX_ERROR_CHARS])
        task = tasks[0]
        message = str((task.get("state") or {}).get("state_message") or "")
        try:
            output = self.workspace.get_run_output(int(task["run_id"]))
            message = str(output.get("error") or message)
        except Exception as exc:  # the state message is still an error; say why the output is missing
            message = f"{message} (run output unavailable: {error_text(exc, 'runs/get-output')})".strip()
        return RunCheck(Outcome.FAILED, detail, error_code=runs.error_code(task),
                        error_message=redact_text(message or detail)[:MAX_ERROR_CHARS],
                        activity=str(task.get("task_key") or "") or None)

    # --- helpers -------------------------------------------------------------------------
    def _known(self, action: str) -> None:
        if action not in self.actions:
            raise NotActionable(f"the Databricks executor cannot carry out {action!r} (it can: "
                                f"{', '.join(self.actions)})")

    def _same_workspace(self, incident: Incident) -> None:
        """Refuse to act when the alert came from another workspace than DATABRICKS_HOST (run ids are per
        workspace: the same number elsewhere is another run)."""
        named = str((incident.failure.get("origin") or {}).get("workspace_id") or "")
        if named.isdigit():
            configured = self.workspace.workspace_id()
            if configured != named:
                raise NotActionable(f"the alert came from workspace {named}, but DATABRICKS_HOST is workspace "
                                    f"{configured}: refusing to act on another workspace's run")


def _before_start(read: Any, what: str) -> Any:
    """A read made just before a start call: a refusal is raised; a transient failure (5xx, 429, timeout) is
    UnknownOutcome too, so the attempt is reconciled (nothing found) and submitted again rather than escalated."""
    try:
        return read()
    except REFUSED:
        raise
    except (OSError, TimeoutError, RuntimeError) as exc:
        raise UnknownOutcome(f"{what} before starting: {redact_text(error_text(exc, what))}; nothing was "
                             "started") from exc


def _run_id(incident: Incident) -> int:
    try:
        return int(str(incident.run_id))
    except ValueError:
        raise NotActionable(f"run id {incident.run_id!r} is not a Databricks job run id") from None


def _cluster_id(incident: Incident) -> str | None:
    value = (incident.failure.get("origin") or {}).get("cluster_id")
    return str(value) if value else None


def _repair_ref(run: dict[str, Any], repair_id: int) -> dict[str, Any]:
    return {"kind": "repair", "run_id": int(run["run_id"]), "repair_id": repair_id, "job_id": run.get("job_id")}
