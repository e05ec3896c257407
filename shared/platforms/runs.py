"""Pipeline runs as Data Factory and Synapse both expose them (the same REST shapes).

`PipelineRunsApi` is what adf.py and synapse.py implement; the helpers here page through runs
(following `continuationToken`) and read a run's activity runs. Everything is plain REST JSON
(camelCase dicts), so the callers do not care which of the two platforms answered.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from shared.timeutil import parse_iso, to_iso, utc_now

# How far around a run's own start / end its activity runs are looked for.
ACTIVITY_WINDOW_BEFORE = timedelta(minutes=5)
ACTIVITY_WINDOW_AFTER = timedelta(hours=1)
MAX_PAGES = 1000  # a guard against a server that never stops returning continuation tokens


class PipelineRunsApi(Protocol):
    platform: str  # "adf" | "synapse"
    resource_id: str  # the factory's / workspace's ARM id
    calls: Counter[str]  # requests made, per operation

    def query_pipeline_runs(self, body: dict[str, Any]) -> dict[str, Any]: ...

    def query_activity_runs(self, pipeline: str | None, run_id: str, body: dict[str, Any]) -> dict[str, Any]: ...

    def get_pipeline_run(self, run_id: str) -> dict[str, Any]: ...

    def create_run(self, pipeline: str, parameters: dict[str, Any] | None = None, *,
                   reference_pipeline_run_id: str | None = None, is_recovery: bool | None = None,
                   start_activity_name: str | None = None, start_from_failure: bool | None = None) -> str: ...

    def run_link(self, run_id: str) -> str: ...


def run_filter(after: datetime, before: datetime, *, pipeline: str | None = None, status: str | None = "Failed",
               ascending: bool = True, continuation: str | None = None) -> dict[str, Any]:
    """A RunFilterParameters body: runs last updated in [after, before], optionally one pipeline / status."""
    filters: list[dict[str, Any]] = []
    if status:
        filters.append({"operand": "Status", "operator": "Equals", "values": [status]})
    if pipeline:
        filters.append({"operand": "PipelineName", "operator": "Equals", "values": [pipeline]})
    body: dict[str, Any] = {
        "lastUpdatedAfter": to_iso(after), "lastUpdatedBefore": to_iso(before), "filters": filters,
        "orderBy": [{"orderBy": "LastUpdated", "order": "ASC" if ascending else "DESC"}],
    }
    if continuation:
        body["continuationToken"] = continuation
    return body


def iter_run_pages(api: PipelineRunsApi, after: datetime, before: datetime, *, pipeline: str | None = None,
                   status: str | None = "Failed") -> Iterator[list[dict[str, Any]]]:
    """Pages of runs (oldest update first), following continuationToken. One request per page.

    Each run is yielded once (by runId). Paging stops when a continuation token comes back again or
    a page brings no run not seen before: a misbehaving server cannot keep us looping."""
    token: str | None = None
    tokens: set[str] = set()
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        page = api.query_pipeline_runs(run_filter(after, before, pipeline=pipeline, status=status,
                                                  continuation=token))
        runs = []
        for run in page.get("value") or []:
            if isinstance(run, dict) and str(run.get("runId")) not in seen:
                seen.add(str(run.get("runId")))
                runs.append(run)
        if runs:
            yield runs
        token = page.get("continuationToken") or None
        if not token or not runs or not isinstance(token, str) or token in tokens:
            return
        tokens.add(token)


def reported_by_parent(run: dict[str, Any], failed_run_ids: set[str]) -> bool:
    """Whether a child run (Execute Pipeline) is reported through its parent: only when the parent
    itself is among the failed runs found in the same window. With a try/catch in the parent, the
    parent succeeds and the failed child is the only place the error shows up."""
    if not invoked_by_pipeline(run):
        return False
    parent = run["invokedBy"].get("pipelineRunId")
    return bool(parent) and str(parent) in failed_run_ids


def moment(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        found = parse_iso(value)
        found.astimezone(UTC)  # "0001-01-01T00:00:00+01:00" parses but is before year 1 in UTC
    except (ValueError, OverflowError):
        return None
    return found


def activity_window(run: dict[str, Any]) -> tuple[datetime, datetime]:
    start = moment(run.get("runStart")) or moment(run.get("lastUpdated"))
    end = moment(run.get("runEnd")) or moment(run.get("lastUpdated")) or start
    if start is None or end is None:
        now = utc_now()
        return now - timedelta(days=1), now + ACTIVITY_WINDOW_BEFORE
    return start - ACTIVITY_WINDOW_BEFORE, end + ACTIVITY_WINDOW_AFTER


def activity_runs(api: PipelineRunsApi, run: dict[str, Any], *, status: str | None = None) -> list[dict[str, Any]]:
    """All activity runs of one pipeline run (following continuationToken)."""
    after, before = activity_window(run)
    body: dict[str, Any] = {"lastUpdatedAfter": to_iso(after), "lastUpdatedBefore": to_iso(before)}
    if status:
        body["filters"] = [{"operand": "Status", "operator": "Equals", "values": [status]}]
    found: list[dict[str, Any]] = []
    seen: set[str] = set()
    tokens: set[str] = set()
    for _ in range(MAX_PAGES):
        page = api.query_activity_runs(run.get("pipelineName"), str(run["runId"]), body)
        new = [a for a in page.get("value") or [] if isinstance(a, dict)
               and str(a.get("activityRunId") or id(a)) not in seen]
        seen.update(str(a.get("activityRunId") or id(a)) for a in new)
        found += new
        token = page.get("continuationToken")
        if not token or not new or not isinstance(token, str) or token in tokens:
            break
        tokens.add(token)
        body = {**body, "continuationToken": token}
    return found


def invoked_by_pipeline(run: dict[str, Any]) -> bool:
    """Whether a run is a child started by an Execute Pipeline activity (its parent reports it)."""
    invoked = run.get("invokedBy")
    return isinstance(invoked, dict) and str(invoked.get("invokedByType") or "").lower() == "pipelineactivity"
