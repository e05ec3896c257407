"""Airflow's REST API: stable v1 (Airflow 2, `/api/v1`) or v2 (Airflow 3, `/api/v2`).

Base URL AIRFLOW_URL, bearer token AIRFLOW_TOKEN (Airflow 3 issues JWTs; Airflow 2 deployments
behind a proxy or with an auth backend that accepts bearer tokens). The version is detected once
(`GET /api/v2/version`, else v1) unless given. Plain urllib, with the bounded retries of
common.CallOptions (429/503 Retry-After honoured up to the cap, timeouts retried).

`clear_task_instances` defaults to a dry run, as Airflow itself does; a real clear is sent once (a 5xx or
a timeout is raised, not retried: the caller reconciles by reading the DAG run).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlencode

from shared.config import Settings
from shared.platforms.common import CallOptions, require_secure_endpoint

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
MAX_LISTED = 100  # DAG runs / task instances read per call
MAX_LOG_CHARS = 64_000  # the tail of a task log kept for its error


class AirflowApiError(RuntimeError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are not followed: urllib would resend the Authorization header to wherever the
    Location points. A 3xx is returned as an HTTPError (reported, not retried)."""

    def redirect_request(self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any,
                         newurl: str) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect())


class AirflowApi:
    platform = "airflow"

    def __init__(self, settings: Settings, *, api_version: str | None = None) -> None:
        self.base = settings.get("AIRFLOW_URL").strip().rstrip("/")
        if not self.base:
            raise ValueError("AIRFLOW_URL is not set")
        self.token = settings.get("AIRFLOW_TOKEN").strip()
        if self.token:
            require_secure_endpoint(self.base, "AIRFLOW_URL")
        self.options = CallOptions.from_settings(settings)
        self._version = api_version
        self.calls: Counter[str] = Counter()

    def _request(self, method: str, path: str, body: Any = None, *, resend: bool = True) -> Any:
        """One API call; `resend=False` for a call that changes something: sent once, any error raised."""
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None if body is None else json.dumps(body).encode()
        for attempt in range(self.options.max_retries + 1):
            request = urllib.request.Request(f"{self.base}{path}", data=data, method=method, headers=headers)
            try:
                with _OPENER.open(request, timeout=self.options.timeout_s) as resp:
                    raw = resp.read()
                    return json.loads(raw) if raw else None
            except urllib.error.HTTPError as err:
                text = err.read().decode(errors="replace")[:500]
                wait = _retry_after(err.headers.get("Retry-After"))
                last = attempt == self.options.max_retries or not resend
                if err.code not in RETRY_STATUSES or last or (wait or 0) > self.options.max_retry_after_s:
                    if 300 <= err.code < 400:
                        text = (f"redirect to {err.headers.get('Location')!r} not followed (the bearer token is "
                                "only sent to AIRFLOW_URL); set AIRFLOW_URL to the final address")
                    raise AirflowApiError(err.code, text) from None
                time.sleep(wait if wait is not None else min(10.0, 0.5 * 2 ** attempt))
            except (TimeoutError, urllib.error.URLError):
                if attempt == self.options.max_retries or method != "GET":
                    raise
                time.sleep(min(10.0, 0.5 * 2 ** attempt))
        raise AssertionError("unreachable")

    @property
    def api_version(self) -> str:
        if self._version is None:
            try:
                self.calls["version"] += 1
                self._request("GET", "/api/v2/version")
                self._version = "v2"
            except AirflowApiError as err:
                if err.status != 404:
                    raise
                self._version = "v1"
        return self._version

    def get_task_instance(self, dag_id: str, dag_run_id: str, task_id: str,
                          map_index: int | None = None) -> dict[str, Any]:
        self.calls["taskInstance"] += 1
        path = (f"/api/{self.api_version}/dags/{quote(dag_id, safe='')}/dagRuns/{quote(dag_run_id, safe='')}"
                f"/taskInstances/{quote(task_id, safe='')}")
        if map_index is not None and map_index >= 0:
            path += f"/{map_index}"
        result: dict[str, Any] = self._request("GET", path) or {}
        return result

    def _run_path(self, dag_id: str, dag_run_id: str) -> str:
        return f"/api/{self.api_version}/dags/{quote(dag_id, safe='')}/dagRuns/{quote(dag_run_id, safe='')}"

    def get_dag_run(self, dag_id: str, dag_run_id: str) -> dict[str, Any]:
        self.calls["dagRun"] += 1
        result: dict[str, Any] = self._request("GET", self._run_path(dag_id, dag_run_id)) or {}
        return result

    def dag_runs(self, dag_id: str, *, state: str, start_date_gte: str | None = None,
                 limit: int = MAX_LISTED) -> list[dict[str, Any]]:
        """DAG runs of one DAG in `state`, newest start first, at most `limit` (one page)."""
        self.calls["dagRuns"] += 1
        query = {"state": state, "order_by": "-start_date", "limit": str(min(limit, MAX_LISTED))}
        if start_date_gte:
            query["start_date_gte"] = start_date_gte
        path = f"/api/{self.api_version}/dags/{quote(dag_id, safe='')}/dagRuns?{urlencode(query)}"
        return list((self._request("GET", path) or {}).get("dag_runs") or [])

    def task_instances(self, dag_id: str, dag_run_id: str) -> list[dict[str, Any]]:
        self.calls["taskInstances"] += 1
        path = f"{self._run_path(dag_id, dag_run_id)}/taskInstances?limit={MAX_LISTED}"
        return list((self._request("GET", path) or {}).get("task_instances") or [])

    def task_log(self, dag_id: str, dag_run_id: str, task_id: str, try_number: int) -> str:
        """The tail of one try's log as text (v1: a string; v2: structured events or strings)."""
        self.calls["taskLog"] += 1
        path = (f"{self._run_path(dag_id, dag_run_id)}/taskInstances/{quote(task_id, safe='')}/logs/"
                f"{int(try_number)}?full_content=false")
        content = (self._request("GET", path) or {}).get("content")
        if isinstance(content, list):
            lines = [str(e.get("event") or "") if isinstance(e, dict) else str(e) for e in content[-2000:]]
            content = "\n".join(lines)
        return str(content or "")[-MAX_LOG_CHARS:]

    def clear_task_instances(self, dag_id: str, dag_run_id: str, task_ids: list[str] | None = None, *,
                             dry_run: bool = True, only_failed: bool = True,
                             include_downstream: bool = False) -> list[dict[str, Any]]:
        """Clear (= rerun) the failed task instances of ONE DAG run (dag_run_id is always sent: without it
        Airflow clears every run in the date range); returns what was (or would be) cleared. A real clear is
        sent once."""
        if not dag_run_id:
            raise ValueError("a DAG run id is required: without it Airflow would clear every run of the DAG")
        self.calls["clearTaskInstances"] += 1
        body: dict[str, Any] = {"dry_run": dry_run, "dag_run_id": dag_run_id, "only_failed": only_failed,
                                "include_downstream": include_downstream, "reset_dag_runs": True}
        if task_ids:
            body["task_ids"] = task_ids
        result = self._request("POST", f"/api/{self.api_version}/dags/{quote(dag_id, safe='')}/clearTaskInstances",
                               body, resend=dry_run) or {}
        return list(result.get("task_instances") or [])

    def task_link(self, dag_id: str, dag_run_id: str, task_id: str) -> str:
        dag, run = quote(dag_id, safe=""), quote(dag_run_id, safe="")
        if self.api_version == "v2":
            return f"{self.base}/dags/{dag}/runs/{run}/tasks/{quote(task_id, safe='')}"
        return f"{self.base}/dags/{dag}/grid?dag_run_id={run}&task_id={quote(task_id, safe='')}"


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP-date; never negative;
    None when missing or unparseable."""
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN / infinity
        return None
    return max(0.0, seconds)
