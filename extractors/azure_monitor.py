"""Azure Monitor common alert schema -> failures.

Pure parsing of the Action Group webhook body. The platform is decided from the alert's target
and dimensions; anything that is not a data-pipeline failure is ignored with a reason.
"""

from __future__ import annotations

from typing import Any

from extractors.base import Extractor
from shared.models import Extraction, Failure, Platform, Source

COMMON_SCHEMA = "azurecommonalertschema"
NOT_COMMON_SCHEMA = (
    "not the common alert schema: enable the common alert schema on the Action Group "
    "(action setting useCommonAlertSchema: true)"
)

_PLATFORM_BY_TYPE = {
    "microsoft.datafactory/factories": Platform.ADF,
    "microsoft.synapse/workspaces": Platform.SYNAPSE,
    "microsoft.insights/components": Platform.FUNCTIONS,
    "microsoft.web/sites": Platform.FUNCTIONS,
}
_IGNORED_SERVICES = {
    "servicehealth": "a Service Health notice, not a pipeline failure",
    "resource health": "a Resource Health event, not a pipeline failure",
    "resourcehealth": "a Resource Health event, not a pipeline failure",
    "activity log - administrative": "an Activity Log administrative event, not a pipeline failure",
    "activity log - policy": "an Activity Log policy event, not a pipeline failure",
    "activity log - autoscale": "an Activity Log autoscale event, not a pipeline failure",
    "activity log - security": "an Activity Log security event, not a pipeline failure",
    "budget": "a budget alert, not a pipeline failure",
    "smart detector": "a smart detection alert, not a pipeline failure",
}
# Dimension / column names that carry pipeline context in metric and log alerts.
_PIPELINE_KEYS = ("PipelineName", "Name", "Pipeline", "pipelineName")
_RUN_KEYS = ("PipelineRunId", "RunId", "runId", "pipelineRunId")
_ACTIVITY_KEYS = ("ActivityName", "activityName")
_RESOURCE_KEYS = ("_ResourceId", "ResourceId", "Resource")


def _resource_type(resource_id: str) -> str:
    """`microsoft.datafactory/factories` from an ARM id (lower case), '' when not an ARM id."""
    parts = [p for p in resource_id.strip("/").split("/") if p]
    lowered = [p.lower() for p in parts]
    if "providers" not in lowered:
        return ""
    i = len(lowered) - 1 - lowered[::-1].index("providers")
    if i + 2 >= len(parts):
        return ""
    return f"{lowered[i + 1]}/{lowered[i + 2]}"


def _dims(items: Any) -> dict[str, str]:
    if not isinstance(items, list):
        return {}
    out: dict[str, str] = {}
    for item in items:
        if isinstance(item, dict) and item.get("name") is not None:
            out[str(item["name"])] = "" if item.get("value") is None else str(item["value"])
    return out


def _first(mapping: dict[str, str], keys: tuple[str, ...]) -> str | None:
    lowered = {k.lower(): v for k, v in mapping.items()}
    for key in keys:
        value = lowered.get(key.lower())
        if value:
            return value
    return None


def _rows(alert_context: dict[str, Any]) -> list[dict[str, str]]:
    """Rows of a log v1 SearchResults table, or the `event` pairs of a simple log alert."""
    rows: list[dict[str, str]] = []
    results = alert_context.get("SearchResults")
    if isinstance(results, dict):
        for table in results.get("tables") or []:
            columns = [c.get("name") for c in table.get("columns") or [] if isinstance(c, dict)]
            for row in table.get("rows") or []:
                if isinstance(row, list):
                    rows.append({str(c): "" if v is None else str(v) for c, v in zip(columns, row, strict=False)})
    event = alert_context.get("event")
    if isinstance(event, list):
        pairs = _dims(event)
        if pairs:
            rows.append(pairs)
    return rows


class AzureMonitorExtractor(Extractor):
    source = Source.AZURE_MONITOR.value

    def parse(self, payload: Any) -> Extraction:
        if not isinstance(payload, dict):
            return Extraction(ignored_reason="body is not a JSON object; " + NOT_COMMON_SCHEMA)
        schema = str(payload.get("schemaId") or "").replace(" ", "").lower()
        data = payload.get("data")
        if schema not in (COMMON_SCHEMA, "azuremonitorcommonalertschema") or not isinstance(data, dict):
            return Extraction(ignored_reason=NOT_COMMON_SCHEMA)
        essentials: dict[str, Any] = data["essentials"] if isinstance(data.get("essentials"), dict) else {}
        context: dict[str, Any] = data["alertContext"] if isinstance(data.get("alertContext"), dict) else {}
        alert_id = str(essentials.get("alertId") or "")
        resolved = str(essentials.get("monitorCondition") or "").lower() == "resolved"
        service = str(essentials.get("monitoringService") or "").strip().lower()
        signal = str(essentials.get("signalType") or "").replace(" ", "").lower()
        result = Extraction(alert_key=alert_id or None, resolved=resolved)

        if service in _IGNORED_SERVICES or service.startswith("activity log") or signal == "activitylog":
            reason = _IGNORED_SERVICES.get(service, "an Activity Log alert, not a pipeline failure")
            result.ignored_reason = f"{reason} (monitoringService {essentials.get('monitoringService')!r})"
            return result

        targets = [str(t) for t in essentials.get("alertTargetIDs") or [] if t]
        condition: dict[str, Any] = context["condition"] if isinstance(context.get("condition"), dict) else {}
        criteria = [c for c in condition.get("allOf") or [] if isinstance(c, dict)]
        dimensions: dict[str, str] = {}
        for criterion in criteria:
            dimensions.update(_dims(criterion.get("dimensions")))
        rows = _rows(context)

        platform, resource = self._platform(targets, dimensions, rows, criteria, essentials)
        if platform is None:
            target_text = ", ".join(targets) or "no target"
            result.ignored_reason = (
                f"not a data-pipeline resource ({target_text}); only Data Factory, Synapse, "
                "Function App / Application Insights and Log Analytics alerts about them are handled"
            )
            return result

        fingerprint = {
            "alert_id": alert_id,
            "rule_id": (essentials.get("alertRuleID") or essentials.get("alertRuleId")
                        or essentials.get("originAlertId")),
            "targets": targets,
            "dimensions": dimensions,
        }
        origin = {
            "alert_id": alert_id,
            "alert_rule": essentials.get("alertRule"),
            "severity": essentials.get("severity"),
            "signal_type": essentials.get("signalType"),
            "monitoring_service": essentials.get("monitoringService"),
            "monitor_condition": essentials.get("monitorCondition"),
            "fired": essentials.get("firedDateTime"),
            "window_start": condition.get("windowStartTime"),
            "window_end": condition.get("windowEndTime"),
            "metric": next((c.get("metricName") for c in criteria if c.get("metricName")), None),
            "dimensions": dimensions,
        }
        links = {k: str(v) for k, v in (
            ("investigation", essentials.get("investigationLink")),
            ("search_results", next((c.get("linkToFilteredSearchResultsUI") for c in criteria), None)
             or context.get("LinkToFilteredSearchResults")),
        ) if v}

        candidates = rows or [dimensions]
        seen: set[tuple[str | None, str | None]] = set()
        for row in candidates:
            merged = {**dimensions, **row}
            run_id = _first(merged, _RUN_KEYS)
            pipeline = _first(merged, _PIPELINE_KEYS)
            key = (run_id, pipeline)
            if key in seen and run_id:
                continue
            seen.add(key)
            message = _first(merged, ("ErrorMessage", "Message", "outerMessage", "innermostMessage", "problemId"))
            code = _first(merged, ("ErrorCode", "resultCode", "type", "exceptionType"))
            result.failures.append(Failure(
                source=self.source,
                platform=platform.value,
                resource=_first(merged, _RESOURCE_KEYS) or resource,
                pipeline=pipeline or _first(merged, ("operation_Name", "cloud_RoleName")),
                run_id=run_id,
                activity=_first(merged, _ACTIVITY_KEYS),
                error_code=code,
                failure_type=_first(merged, ("FailureType",)),
                message=message,
                start=condition.get("windowStartTime"),
                end=condition.get("windowEndTime") or essentials.get("firedDateTime"),
                links=links,
                origin=origin,
                fingerprint_parts={**fingerprint, "row": row} if rows else fingerprint,
            ))
        return result

    def _platform(
        self,
        targets: list[str],
        dimensions: dict[str, str],
        rows: list[dict[str, str]],
        criteria: list[dict[str, Any]],
        essentials: dict[str, Any],
    ) -> tuple[Platform | None, str]:
        namespaces = [str(c.get("metricNamespace") or "").lower() for c in criteria]
        candidates = list(targets)
        for bag in [dimensions, *rows]:
            found = _first(bag, _RESOURCE_KEYS)
            if found:
                candidates.insert(0, found)
        for candidate in candidates:
            platform = _PLATFORM_BY_TYPE.get(_resource_type(candidate))
            if platform is not None:
                return platform, candidate
        for namespace in namespaces:
            platform = _PLATFORM_BY_TYPE.get(namespace)
            if platform is not None:
                return platform, targets[0] if targets else namespace
        # Log Analytics workspace target: the rows / dimensions have to say it is a pipeline.
        if any(_resource_type(t) == "microsoft.operationalinsights/workspaces" for t in targets):
            for bag in [dimensions, *rows]:
                if _first(bag, ("PipelineRunId", "PipelineName")):
                    return Platform.ADF, targets[0]
        if str(essentials.get("monitoringService") or "").lower() == "application insights" and targets:
            return Platform.FUNCTIONS, targets[0]
        return None, ""
