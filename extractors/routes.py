"""Which ingest route a body belongs to, judged by its shape. Pure.

A body posted to the wrong route is ignored by that route's extractor; the reason then names the route it
belongs to instead of a hint for the wrong sender (e.g. "enable the common alert schema" for a Databricks body).
"""

from __future__ import annotations

from typing import Any

ROUTES = {"azure-monitor": "/api/azure-monitor", "databricks": "/api/databricks-monitor",
          "airflow": "/api/airflow-monitor"}
_WHAT = {"azure-monitor": "an Azure Monitor alert (common alert schema)",
         "databricks": "a Databricks job notification", "airflow": "an Airflow failure callback"}


def body_kind(payload: Any) -> str | None:
    """The source whose shape this body has, or None when it looks like none of them."""
    if not isinstance(payload, dict):
        return None
    schema = str(payload.get("schemaId") or "").replace(" ", "").lower()
    data = payload.get("data")
    if schema == "azuremonitorcommonalertschema" or (isinstance(data, dict) and isinstance(data.get("essentials"),
                                                                                          dict)):
        return "azure-monitor"
    event = payload.get("event_type")
    if isinstance(event, str) and event.startswith("jobs."):
        return "databricks"
    if payload.get("dag_id") and ("task_id" in payload or "exception" in payload or "state" in payload):
        return "airflow"
    return None


def misrouted_reason(source: str, payload: Any) -> str | None:
    """Why this body is ignored when it was posted to the wrong route; None when the route is right or unknown."""
    kind = body_kind(payload)
    if kind is None or kind == source or source not in ROUTES:
        return None
    return (f"this is {_WHAT[kind]}, posted to {ROUTES[source]}: post it to {ROUTES[kind]} "
            f"(configure the sender's URL)")
