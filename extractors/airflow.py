"""Airflow failure callbacks -> failures.

Airflow has no standard failure webhook; this app documents one (docs/airflow.md) that an
`on_failure_callback` posts:

  dag_id, task_id, run_id, try_number, max_tries, map_index, state, exception (the complete text,
  traceback included when the callback has it), exception_type, log_url, logical_date, start_date,
  end_date, instance (the Airflow base URL)

Airflow run ids are unique per DAG only (`scheduled__2024-01-01T00:00:00+00:00` exists in every
DAG), so the failure's run_id is `<dag_id>/<run_id>`; the raw DAG run id is origin["dag_run_id"]
(what clearTaskInstances needs). `up_for_retry` (an on_retry_callback) is not a failure yet.
"""

from __future__ import annotations

from typing import Any

from extractors.base import Extractor
from shared.models import Extraction, Failure, Platform, Source

FAILED_STATES = {"failed", "upstream_failed"}


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


class AirflowExtractor(Extractor):
    source = Source.AIRFLOW.value

    def parse(self, payload: Any) -> Extraction:
        if not isinstance(payload, dict) or not payload.get("dag_id"):
            return Extraction(ignored_reason="not an Airflow failure callback: dag_id is missing "
                              "(post the documented body from on_failure_callback, see docs/airflow.md)")
        state = str(payload.get("state") or "failed").lower()
        if state == "up_for_retry":
            return Extraction(ignored_reason=f"task {payload.get('task_id')} will be retried (try "
                              f"{payload.get('try_number')} of {payload.get('max_tries')}); the final failure is "
                              "reported by on_failure_callback")
        if state not in FAILED_STATES:
            return Extraction(ignored_reason=f"task state {state!r} is not a failure")
        dag_id = str(payload["dag_id"])
        dag_run_id = _text(payload.get("run_id"))
        instance = (_text(payload.get("instance")) or "airflow").rstrip("/")
        links = {"log": str(payload["log_url"])} if payload.get("log_url") else {}
        origin = {k: payload.get(k) for k in ("try_number", "max_tries", "map_index", "state", "logical_date")
                  if payload.get(k) is not None}
        origin["dag_run_id"] = dag_run_id
        failure = Failure(
            source=self.source, platform=Platform.AIRFLOW.value, resource=instance, pipeline=dag_id,
            run_id=f"{dag_id}/{dag_run_id}" if dag_run_id else None, activity=_text(payload.get("task_id")),
            error_code=_text(payload.get("exception_type")), message=_text(payload.get("exception")),
            start=_text(payload.get("start_date")), end=_text(payload.get("end_date")), links=links, origin=origin,
            fingerprint_parts={"dag": dag_id, "task": payload.get("task_id"), "run": dag_run_id,
                               "map_index": payload.get("map_index"), "instance": instance},
        )
        return Extraction(failures=[failure])
