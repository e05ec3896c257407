"""Pure helpers for the Azure Monitor common alert schema: dimensions, result rows, times, and
which platform (and resource) an alert is about.

The vendor samples vary (FACTS.md 13): numbers as strings, "Activity Log" vs "ActivityLog",
missing configurationItems / alertRuleID, null dimensions, `event` as a list of name/value pairs or
a list of such lists. Everything here tolerates those shapes and never raises on odd input.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.models import Platform
from shared.platforms.common import parse_arm_id
from shared.timeutil import parse_iso, to_iso

PIPELINE_TYPES = {"microsoft.datafactory/factories": Platform.ADF, "microsoft.synapse/workspaces": Platform.SYNAPSE}
APP_TYPES = frozenset({"microsoft.insights/components", "microsoft.web/sites"})
LOG_WORKSPACE_TYPE = "microsoft.operationalinsights/workspaces"
# Where log results name the resource (the common schema fills configurationItems in this order).
RESOURCE_KEYS = ("_ResourceId", "ResourceId", "Resource")
PIPELINE_COLUMNS = ("PipelineName", "PipelineRunId", "Pipeline")


def as_list(value: Any) -> list[Any]:
    """A JSON array as a list; a single object or string as a one-item list; anything else (null,
    numbers, booleans) as an empty list. A string is never iterated character by character."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict | str):
        return [value] if value else []
    return []


def text(value: Any) -> str | None:
    if value is None:
        return None
    out = str(value).strip()
    return out or None


def dims(items: Any) -> dict[str, str]:
    """[{name, value}, ...] (null-tolerant) as a dict."""
    if not isinstance(items, list):
        return {}
    out: dict[str, str] = {}
    for item in items:
        if isinstance(item, dict) and item.get("name") is not None:
            out[str(item["name"])] = "" if item.get("value") is None else str(item["value"])
    return out


def first(bag: dict[str, str], keys: tuple[str, ...]) -> str | None:
    lowered = {k.lower(): v for k, v in bag.items()}
    for key in keys:
        value = lowered.get(key.lower())
        if value not in (None, ""):
            return value
    return None


def _event_rows(event: Any) -> list[dict[str, str]]:
    """A simple log alert's `event`: name/value pairs, or a list of such lists (one per row)."""
    if not isinstance(event, list) or not event:
        return []
    if all(isinstance(e, list) for e in event):
        return [row for row in (dims(e) for e in event) if row]
    row = dims(event)
    return [row] if row else []


def result_rows(context: dict[str, Any], criteria: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Rows of log v1 SearchResults tables and of simple-log-alert `event`s, as column -> text."""
    rows: list[dict[str, str]] = []
    results = context.get("SearchResults")
    if isinstance(results, dict):
        for table in as_list(results.get("tables")):
            if not isinstance(table, dict):
                continue
            columns = [str(c.get("name")) for c in as_list(table.get("columns")) if isinstance(c, dict)]
            for row in as_list(table.get("rows")):
                if isinstance(row, list):
                    rows.append({c: "" if v is None else str(v) for c, v in zip(columns, row, strict=False)})
    for holder in [context, *criteria]:
        rows += _event_rows(holder.get("event"))
    return rows


def when(value: Any) -> str | None:
    """An ISO-8601 UTC time from ISO or the log v1 "3/22/2019 1:36:31 PM" format; else the raw text."""
    raw = text(value)
    if raw is None:
        return None
    try:
        return to_iso(parse_iso(raw))
    except (ValueError, OverflowError):  # e.g. "0001-01-01T00:00:00+01:00" is before year 1 in UTC
        pass
    try:
        return to_iso(datetime.strptime(raw, "%m/%d/%Y %I:%M:%S %p").replace(tzinfo=UTC))
    except (ValueError, OverflowError):
        return raw


@dataclass(frozen=True)
class Decision:
    platform: Platform | None
    resource: str
    reason: str | None = None  # why it is not a pipeline alert (platform None)


def _arm_type(value: str) -> str:
    ref = parse_arm_id(value)
    return ref.type if ref else ""


def decide(targets: list[str], config_items: list[str], bags: list[dict[str, str]], namespaces: list[str],
           service: str, links: list[str]) -> Decision:
    """Which platform the alert is about, from its target, the resources its results name and its metric."""
    named = [v for bag in bags for v in [first(bag, RESOURCE_KEYS)] if v] + config_items
    candidates = named + targets
    for candidate in candidates:
        ref = parse_arm_id(candidate)
        if ref is not None and ref.type in PIPELINE_TYPES:
            return Decision(PIPELINE_TYPES[ref.type], ref.resource_id)
    for namespace in namespaces:
        if namespace.lower() in PIPELINE_TYPES and targets:
            return Decision(PIPELINE_TYPES[namespace.lower()], _top(targets[0]))
    for candidate in candidates:
        ref = parse_arm_id(candidate)
        if ref is not None and ref.type in APP_TYPES:
            return Decision(Platform.FUNCTIONS, ref.resource_id)
    app_insights = service.lower() == "application insights" or any("api.applicationinsights.io" in x for x in links)
    if app_insights:
        return Decision(Platform.FUNCTIONS, _top(targets[0]) if targets else "application-insights")
    if any(_arm_type(t) == LOG_WORKSPACE_TYPE for t in targets) and any(first(b, PIPELINE_COLUMNS) for b in bags):
        # Pipeline columns but no factory id: the factory cannot be named (add _ResourceId to the query).
        return Decision(Platform.ADF, _top(next(t for t in targets if _arm_type(t) == LOG_WORKSPACE_TYPE)))
    kinds = sorted({_arm_type(t) or t for t in targets}) or ["no target"]
    if any(_arm_type(t) == LOG_WORKSPACE_TYPE for t in targets):
        reason = ("a log alert on a Log Analytics workspace whose results name no pipeline: no _ResourceId of a "
                  "factory / Synapse workspace and no PipelineName / PipelineRunId column or dimension")
    else:
        reason = f"not a data-pipeline resource ({', '.join(kinds)})"
    return Decision(None, "", reason + "; handled are Data Factory, Synapse, Function App / Application Insights, "
                    "and Log Analytics alerts whose results carry _ResourceId / PipelineName / PipelineRunId")


def _top(resource_id: str) -> str:
    ref = parse_arm_id(resource_id)
    return ref.resource_id if ref else resource_id
