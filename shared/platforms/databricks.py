"""Databricks Jobs, Clusters and Libraries through the official databricks-sdk.

`DatabricksWorkspace(settings)` wraps a per-process cached WorkspaceClient for DATABRICKS_HOST,
authenticated with DATABRICKS_TOKEN when set, else with an Entra ID token from azure-identity
(DefaultAzureCredential, scope of the AzureDatabricks first-party application). Answers are plain
REST JSON (`.as_dict()`, snake_case), the same shapes as the documented API samples.

The SDK retries 429/503 itself (honouring Retry-After) and timeouts, until its
`retry_timeout_seconds`; we bound that with the ENRICHMENT_* settings. Calls that start work
(runs/repair, clusters/start) go through a second client whose clock refuses every retry
(`NoResendClock`): the SDK would otherwise resend the POST after a 503 or an "Unexpected error" 500,
and a repair has no idempotency token.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

from azure.core.credentials import TokenCredential
from databricks.sdk import WorkspaceClient
from databricks.sdk.clock import Clock
from databricks.sdk.config import Config
from databricks.sdk.credentials_provider import CredentialsProvider, CredentialsStrategy
from databricks.sdk.service import jobs
from databricks.sdk.service.compute import EventType, GetEventsOrder

from shared.config import Settings
from shared.platforms.common import CallOptions, ClientCache, azure_credential, require_secure_endpoint

# The AzureDatabricks first-party application; tokens for it are accepted by every Azure workspace.
AZURE_DATABRICKS_SCOPE = "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default"
FAILED_RESULT_STATES = frozenset({"FAILED", "TIMEDOUT", "UPSTREAM_FAILED", "MAXIMUM_CONCURRENT_RUNS_REACHED"})
FAILED_LIFE_CYCLE_STATES = frozenset({"INTERNAL_ERROR"})
MAX_TASK_PAGES = 100  # runs/get pages of 100 tasks: a guard against a token that never ends
MAX_LISTED_RUNS = 25_000  # runs/list: 1,000 pages of 25
MAX_JOB_RUNS = 200  # runs of one job looked at before acting
_clients = ClientCache()


class CappedRetryAfterClock(Clock):
    """The SDK's retry loop sleeps a 429/503's full Retry-After, whatever its own timeout. This clock
    refuses to: when the error being retried asks for more than ENRICHMENT_MAX_RETRY_AFTER_SECONDS,
    that error is raised at once (the caller records it), so enrichment cannot outlast the function."""

    def __init__(self, max_retry_after_s: float) -> None:
        self.max_retry_after_s = max_retry_after_s

    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        err = sys.exc_info()[1]  # the SDK sleeps inside its `except` block: the error it retries
        wait = getattr(err, "retry_after_secs", None)
        if err is not None and isinstance(wait, int | float) and wait > self.max_retry_after_s:
            raise err
        time.sleep(seconds)


class NoResendClock(CappedRetryAfterClock):
    """For calls that start work: the SDK's retry loop sleeps before resending; this clock raises the
    error being retried instead, so a POST is sent at most once and the caller sees the first error."""

    def sleep(self, seconds: float) -> None:
        err = sys.exc_info()[1]
        if err is not None:
            raise err
        raise RuntimeError("refusing to resend a call that starts work")


class EntraIdStrategy(CredentialsStrategy):
    """Databricks auth with an azure-identity credential (managed identity, az login, ...)."""

    def __init__(self, credential: TokenCredential) -> None:
        self._credential = credential

    def auth_type(self) -> str:
        return "azure-identity"

    def __call__(self, cfg: Any) -> CredentialsProvider:
        def headers() -> dict[str, str]:
            return {"Authorization": f"Bearer {self._credential.get_token(AZURE_DATABRICKS_SCOPE).token}"}

        return headers


def workspace_client(settings: Settings, credential: TokenCredential | None = None, *,
                     resend: bool = True) -> WorkspaceClient:
    """The cached client; `resend=False` gives one that never retries (for calls that start work)."""
    host = settings.get("DATABRICKS_HOST").strip().rstrip("/")
    if not host:
        raise ValueError("DATABRICKS_HOST is not set: the Databricks workspace URL is needed to fetch run errors")
    require_secure_endpoint(host if "://" in host else f"https://{host}", "DATABRICKS_HOST")
    token = settings.get("DATABRICKS_TOKEN").strip()
    options = CallOptions.from_settings(settings)

    def build() -> WorkspaceClient:
        common: dict[str, Any] = {
            "host": host, "http_timeout_seconds": options.timeout_s, "product": "pipeline-incidents",
            "retry_timeout_seconds": max(1, int(options.timeout_s * (options.max_retries + 1))),
            "clock": (CappedRetryAfterClock if resend else NoResendClock)(options.max_retry_after_s),
        }
        if token:
            return WorkspaceClient(config=Config(token=token, auth_type="pat", **common))
        strategy = EntraIdStrategy(azure_credential(host, credential))
        return WorkspaceClient(config=Config(credentials_strategy=strategy, **common))

    return _clients.get((host, token, options, id(credential) if credential else None, resend), build)


def run_failed(state: dict[str, Any] | None) -> bool:
    state = state or {}
    return (str(state.get("result_state") or "") in FAILED_RESULT_STATES
            or str(state.get("life_cycle_state") or "") in FAILED_LIFE_CYCLE_STATES)


def _item_key(array: str, item: dict[str, Any]) -> Any:
    """Identity of one element of a paged runs/get array (tasks, iterations, repair_history)."""
    if array == "repair_history":
        return ("repair", item.get("id"), item.get("type"), item.get("start_time"))
    return item.get("run_id") if item.get("run_id") is not None else (item.get("task_key"), item.get("attempt_number"))


PAGED_ARRAYS = ("tasks", "iterations", "repair_history")


class DatabricksWorkspace:
    """One workspace's job runs, cluster events and library statuses."""

    platform = "databricks"

    def __init__(self, settings: Settings, *, credential: TokenCredential | None = None) -> None:
        self._settings = settings
        self._credential = credential
        self._client: WorkspaceClient | None = None
        self._once_client: WorkspaceClient | None = None
        self.host = settings.get("DATABRICKS_HOST").strip().rstrip("/")
        self.calls: Counter[str] = Counter()

    @property
    def client(self) -> WorkspaceClient:
        if self._client is None:  # building it talks to the host, so only when first needed
            self._client = workspace_client(self._settings, self._credential)
        return self._client

    @property
    def once_client(self) -> WorkspaceClient:
        """The client for calls that start work: each request is sent at most once (no SDK retry)."""
        if self._once_client is None:
            self._once_client = workspace_client(self._settings, self._credential, resend=False)
        return self._once_client

    def workspace_id(self) -> str:
        self.calls["workspaceId"] += 1
        return str(self.client.get_workspace_id())

    def get_run(self, run_id: int, *, include_history: bool = False) -> dict[str, Any]:
        """runs/get, with every page of tasks (and of repair_history when asked; the API pages arrays
        longer than 100).

        Pages are fetched one request at a time (the SDK's own get_run follows next_page_token with no
        bound): paging stops at a repeated token, a page with no new task / iteration, or MAX_TASK_PAGES."""
        self.calls["runs/get"] += 1
        run = self._run_page(run_id, None, include_history)
        token = run.pop("next_page_token", None)
        tokens: set[str] = set()
        seen = {_item_key(key, t) for key in PAGED_ARRAYS for t in run.get(key) or []}
        for _ in range(MAX_TASK_PAGES):
            if not token or token in tokens:  # a repeated token would loop forever
                break
            tokens.add(token)
            self.calls["runs/get"] += 1
            more = self._run_page(run_id, token, include_history)
            progress = False
            for key in PAGED_ARRAYS:
                new = [t for t in more.get(key) or [] if _item_key(key, t) not in seen]
                if new:
                    progress = True
                    seen.update(_item_key(key, t) for t in new)
                    run[key] = [*(run.get(key) or []), *new]
            if not progress:  # a page with nothing new: the server is not making progress
                break
            token = more.get("next_page_token")
        return dict(run)

    def _run_page(self, run_id: int, page_token: str | None, include_history: bool = False) -> dict[str, Any]:
        page: dict[str, Any] = jobs.JobsAPI.get_run(self.client.jobs, run_id, page_token=page_token,
                                                    include_history=include_history or None).as_dict()
        return page

    def get_run_output(self, task_run_id: int) -> dict[str, Any]:
        self.calls["runs/get-output"] += 1
        return dict(self.client.jobs.get_run_output(task_run_id).as_dict())

    def cluster_termination(self, cluster_id: str, start_ms: int | None = None,
                            end_ms: int | None = None) -> dict[str, Any] | None:
        """The latest TERMINATING event's reason {code, type, parameters} in the window, if any."""
        self.calls["clusters/events"] += 1
        events = self.client.clusters.events(cluster_id, start_time=start_ms, end_time=end_ms,
                                             event_types=[EventType.TERMINATING], order=GetEventsOrder.DESC,
                                             limit=10)
        for event in events:
            reason = (event.as_dict().get("details") or {}).get("reason")
            if reason:
                return dict(reason)
        return None

    def failed_libraries(self, cluster_id: str) -> list[dict[str, Any]]:
        """Libraries whose installation failed on the cluster: {library, messages}."""
        self.calls["libraries/cluster-status"] += 1
        failed = []
        for status in self.client.libraries.cluster_status(cluster_id):
            data = status.as_dict()
            if str(data.get("status") or "") == "FAILED":
                failed.append({"library": data.get("library"), "messages": data.get("messages") or []})
        return failed

    def failed_runs(self, start_ms: int, end_ms: int) -> Iterator[dict[str, Any]]:
        """Completed job runs that started in [start_ms, end_ms] and failed (runs/list pages through them)."""
        self.calls["runs/list"] += 1
        seen: set[Any] = set()
        for run in self.client.jobs.list_runs(completed_only=True, start_time_from=start_ms, start_time_to=end_ms,
                                              limit=25):
            data = run.as_dict()
            if data.get("run_id") in seen or len(seen) >= MAX_LISTED_RUNS:
                return  # a page seen before (the SDK follows a repeated token forever) or too many runs
            seen.add(data.get("run_id"))
            if run_failed(data.get("state")):
                yield data

    def job_runs(self, job_id: int, *, start_ms: int, active_only: bool = False,
                 limit: int = MAX_JOB_RUNS) -> list[dict[str, Any]]:
        """Runs of one job that started at or after start_ms (newest first), at most `limit`."""
        self.calls["runs/list"] += 1
        found: list[dict[str, Any]] = []
        seen: set[Any] = set()
        for run in self.client.jobs.list_runs(job_id=job_id, active_only=active_only or None,
                                              start_time_from=start_ms, limit=25):
            data = run.as_dict()
            if data.get("run_id") in seen or len(found) >= limit:
                break  # a page seen before, or enough
            seen.add(data.get("run_id"))
            found.append(data)
        return found

    def repair_run(self, run_id: int, *, latest_repair_id: int | None = None,
                   rerun_dependent_tasks: bool = True) -> int:
        """Repair a failed job run: rerun all its failed tasks (and the tasks depending on them); returns the
        repair id. Sent at most once (no SDK retry): any error leaves the caller to reconcile. Does not wait."""
        self.calls["runs/repair"] += 1
        waiter = self.once_client.jobs.repair_run(run_id, rerun_all_failed_tasks=True,
                                                  rerun_dependent_tasks=rerun_dependent_tasks,
                                                  latest_repair_id=latest_repair_id)
        return int(waiter.response.repair_id or 0) if waiter.response is not None else 0

    def get_cluster(self, cluster_id: str) -> dict[str, Any]:
        self.calls["clusters/get"] += 1
        return dict(self.client.clusters.get(cluster_id).as_dict())

    def start_cluster(self, cluster_id: str) -> None:
        """clusters/start (a terminated all-purpose cluster); sent at most once. Does not wait."""
        self.calls["clusters/start"] += 1
        self.once_client.clusters.start(cluster_id)
