"""Pure reading of Databricks Jobs API answers (runs/get with repair_history, clusters/get): no I/O.

The Databricks executor decides from these what a run, a repair or a cluster is doing. Jobs API 2.2 gives
both the deprecated `state` {life_cycle_state, result_state} and `status` {state, termination_details};
`status` is preferred when present.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from remediation.executors.base import Outcome

ACTIVE_LIFE_CYCLE = frozenset({"QUEUED", "PENDING", "RUNNING", "TERMINATING", "BLOCKED", "WAITING_FOR_RETRY"})
ENDED_LIFE_CYCLE = frozenset({"TERMINATED", "SKIPPED", "INTERNAL_ERROR"})
SUCCESS_RESULTS = frozenset({"SUCCESS", "SUCCESS_WITH_FAILURES"})
CLUSTER_STARTING = frozenset({"PENDING", "RESTARTING", "RESIZING"})
CLUSTER_UP = frozenset({"RUNNING"}) | CLUSTER_STARTING
ACTION_REPAIR = "databricks.repair_run"
ACTION_START_CLUSTER = "databricks.start_cluster"


def phase(item: dict[str, Any]) -> Outcome:
    """Running, succeeded or failed, for a run or a repair_history item."""
    status = item.get("status") or {}
    if status.get("state"):
        if status["state"] != "TERMINATED":
            return Outcome.RUNNING
        details = status.get("termination_details") or {}
        ok = details.get("code") == "SUCCESS" or (not details.get("code") and details.get("type") == "SUCCESS")
        if ok or (not details and (item.get("state") or {}).get("result_state") in SUCCESS_RESULTS):
            return Outcome.SUCCEEDED
        return Outcome.FAILED
    state = item.get("state") or {}
    life = str(state.get("life_cycle_state") or "")
    if life in ACTIVE_LIFE_CYCLE or not life:
        return Outcome.RUNNING
    return Outcome.SUCCEEDED if state.get("result_state") in SUCCESS_RESULTS else Outcome.FAILED


def state_words(item: dict[str, Any]) -> str:
    status = item.get("status") or {}
    state = item.get("state") or {}
    details = status.get("termination_details") or {}
    parts = [str(status.get("state") or state.get("life_cycle_state") or "UNKNOWN"),
             str(details.get("code") or state.get("result_state") or "")]
    return " ".join(p for p in parts if p)


def repairs(run: dict[str, Any]) -> list[dict[str, Any]]:
    """The REPAIR items of a run's repair_history, oldest first (the ORIGINAL item has no id)."""
    return [h for h in run.get("repair_history") or [] if h.get("type") == "REPAIR" and h.get("id") is not None]


def latest_repair_id(run: dict[str, Any]) -> int | None:
    """What a second repair must send as latest_repair_id (None for a first repair)."""
    made = repairs(run)
    return int(made[-1]["id"]) if made else None


def known_repair_ids(remediation: dict[str, Any] | None) -> set[int]:
    """Repair ids our own attempts started (incident.remediation["attempts"][*]["run_ref"])."""
    found: set[int] = set()
    for attempt in (remediation or {}).get("attempts") or []:
        ref = attempt.get("run_ref") if isinstance(attempt, dict) else None
        if isinstance(ref, dict) and ref.get("repair_id") is not None and not attempt.get("adopted"):
            try:
                found.add(int(ref["repair_id"]))
            except (TypeError, ValueError):
                continue
    return found


def repair_by_hand(run: dict[str, Any], ours: set[int]) -> dict[str, Any] | None:
    """The run's latest repair when someone else made it and it is running or succeeded (to adopt)."""
    made = repairs(run)
    if not made or int(made[-1]["id"]) in ours:
        return None
    return made[-1] if phase(made[-1]) is not Outcome.FAILED else None


def repair_since(run: dict[str, Any], ours: set[int], since_ms: int) -> dict[str, Any] | None:
    """The latest repair started at or after since_ms that no earlier attempt of ours owns."""
    found = [r for r in repairs(run) if int(r["id"]) not in ours and int(r.get("start_time") or 0) >= since_ms]
    return found[-1] if found else None


def find_repair(run: dict[str, Any], repair_id: int) -> dict[str, Any] | None:
    return next((r for r in repairs(run) if int(r["id"]) == repair_id), None)


def failed_tasks(run: dict[str, Any], task_run_ids: Iterable[Any] | None = None) -> list[dict[str, Any]]:
    """Tasks that ended failed, limited to `task_run_ids` when given (a repair's tasks): tasks that failed on
    their own before those that only failed because an upstream task did, earliest end first."""
    wanted = {int(t) for t in task_run_ids or [] if t is not None}
    tasks = [t for t in run.get("tasks") or [] if isinstance(t, dict) and phase(t) is Outcome.FAILED
             and (not wanted or int(t.get("run_id") or 0) in wanted)]
    return sorted(tasks, key=lambda t: (str(error_code(t) or "").startswith("UPSTREAM_"), int(t.get("end_time") or 0)))


def error_code(item: dict[str, Any]) -> str | None:
    details = (item.get("status") or {}).get("termination_details") or {}
    code = details.get("code") or (item.get("state") or {}).get("result_state")
    return str(code) if code else None


def newer_success(runs: Iterable[dict[str, Any]], run: dict[str, Any]) -> dict[str, Any] | None:
    """A run of the same job that started after `run` and succeeded."""
    start = int(run.get("start_time") or 0)
    for other in runs:
        if (other.get("run_id") != run.get("run_id") and int(other.get("start_time") or 0) > start
                and phase(other) is Outcome.SUCCEEDED):
            return other
    return None


def cluster_phase(cluster: dict[str, Any]) -> Outcome:
    state = str(cluster.get("state") or "")
    if state == "RUNNING":
        return Outcome.SUCCEEDED
    return Outcome.RUNNING if state in CLUSTER_STARTING else Outcome.FAILED
