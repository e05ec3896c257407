"""Airflow failure callbacks -> failures.

Airflow has no standard failure webhook; this app documents one (see docs/airflow.md) that an
`on_failure_callback` posts: dag_id, task_id, run_id, try_number, map_index, exception, log_url.
"""

from __future__ import annotations

from typing import Any

from extractors.base import Extractor
from shared.models import Extraction, Failure, Platform, Source


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


class AirflowExtractor(Extractor):
    source = Source.AIRFLOW.value

    def parse(self, payload: Any) -> Extraction:
        if not isinstance(payload, dict) or not payload.get("dag_id"):
            return Extraction(ignored_reason="not an Airflow failure callback: dag_id is missing "
                              "(post the documented body from on_failure_callback)")
        state = str(payload.get("state") or "failed").lower()
        if state not in {"failed", "up_for_retry", "upstream_failed"}:
            return Extraction(ignored_reason=f"task state {state!r} is not a failure")
        instance = _text(payload.get("instance")) or _text(payload.get("airflow_url")) or "airflow"
        links = {"log": str(payload["log_url"])} if payload.get("log_url") else {}
        failure = Failure(
            source=self.source,
            platform=Platform.AIRFLOW.value,
            resource=instance,
            pipeline=str(payload["dag_id"]),
            run_id=_text(payload.get("run_id")),
            activity=_text(payload.get("task_id")),
            error_code=_text(payload.get("exception_type")),
            message=_text(payload.get("exception")),
            start=_text(payload.get("start_date")),
            end=_text(payload.get("end_date")),
            links=links,
            origin={k: payload.get(k) for k in ("try_number", "max_tries", "map_index", "state", "logical_date")
                    if payload.get(k) is not None},
            fingerprint_parts={"dag": payload.get("dag_id"), "task": payload.get("task_id"),
                               "run": payload.get("run_id"), "map_index": payload.get("map_index")},
        )
        return Extraction(failures=[failure])
