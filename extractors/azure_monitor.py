"""Azure Monitor common alert schema -> failures.

`parse` (pure) reads the Action Group webhook body: metric alerts (static, dynamic), log search
v1 (SearchResults), Log Alerts V2 (LogQueryCriteria, dimensions), simple log alerts (`event`),
activity log; Fired and Resolved. The platform comes from the target, the resources the results
name and the metric namespace (see alert_context.decide); anything else is ignored with a reason.

`enrich` fetches the exact error: for Data Factory / Synapse through the pipeline-run APIs
(extractors.pipeline_runs); Functions alerts carry their exception in the rows already.
"""

from __future__ import annotations

from typing import Any

from extractors import alert_context as ac
from extractors.base import Extractor
from extractors.functions import app_insights_failures
from extractors.pipeline_runs import enrich_pipeline_failures
from shared.config import Settings
from shared.models import Extraction, Failure, Platform, Source
from shared.platforms.adf import factory_link
from shared.platforms.common import parse_arm_id

COMMON_SCHEMA = "azuremonitorcommonalertschema"
NOT_COMMON_SCHEMA = (
    "not the common alert schema: enable the common alert schema on the Action Group "
    "(action setting useCommonAlertSchema: true)"
)
_KNOWN_OTHER_SCHEMAS = {"azuremonitormetricalert": "a metric alert in the legacy (non-common) schema",
                        "microsoft.insights/activitylogs": "an activity log alert in the legacy schema"}
_IGNORED_SERVICES = {
    "servicehealth": "a Service Health notice", "service health": "a Service Health notice",
    "resource health": "a Resource Health event", "resourcehealth": "a Resource Health event",
    "budget": "a budget alert", "smart detector": "a smart detection alert",
    "smartdetector": "an Application Insights smart detection alert (a performance or failure-rate anomaly)",
    "activity log - administrative": "an Activity Log administrative event",
    "activity log - policy": "an Activity Log policy event",
    "activity log - autoscale": "an Activity Log autoscale event",
    "activity log - security": "an Activity Log security event",
}
# Metrics, by lower-case name: (dimension naming the pipeline, dimension naming the activity).
_METRICS: dict[str, tuple[str | None, str | None]] = {
    "pipelinefailedruns": ("Name", None), "activityfailedruns": ("PipelineName", "Name"),
    "pipelineelapsedtimeruns": ("Name", None), "triggerfailedruns": (None, None),
    "integrationpipelinerunsended": ("Pipeline", None), "integrationactivityrunsended": ("Pipeline", "Activity"),
    "integrationtriggerrunsended": (None, None),
}
_RUN_KEYS = ("PipelineRunId", "RunId", "pipelineRunId", "runId")
_PIPELINE_KEYS = ("PipelineName", "Pipeline", "pipelineName")
_ACTIVITY_KEYS = ("ActivityName", "Activity", "activityName")


def _ignored_schema(payload: Any) -> str:
    if not isinstance(payload, dict):
        return "body is not a JSON object; " + NOT_COMMON_SCHEMA
    schema = str(payload.get("schemaId") or "").replace(" ", "").lower()
    if schema in _KNOWN_OTHER_SCHEMAS:
        return f"{_KNOWN_OTHER_SCHEMAS[schema]}; {NOT_COMMON_SCHEMA}"
    if "SearchQuery" in payload or "AlertRuleName" in payload:
        return f"a log alert in the legacy (non-common) schema; {NOT_COMMON_SCHEMA}"
    if _looks_like_api_response(payload):
        return ("a Data Factory / Synapse REST API response (pipeline run, activity run or error object), not an "
                f"alert: this endpoint takes Action Group webhook bodies; {NOT_COMMON_SCHEMA}")
    return NOT_COMMON_SCHEMA


def _looks_like_api_response(payload: dict[str, Any]) -> bool:
    body: dict[str, Any] = payload
    responses = payload.get("responses")
    if isinstance(responses, dict):  # a REST spec example: {"parameters", "responses": {"200": {"body"}}}
        ok = responses.get("200")
        body = ok["body"] if isinstance(ok, dict) and isinstance(ok.get("body"), dict) else {}
    items: list[Any] = body["value"] if isinstance(body.get("value"), list) else [body]
    keys = {k for item in items if isinstance(item, dict) for k in item}
    return bool(keys & {"runId", "activityRunId", "pipelineRunId"}) or {"errorCode", "failureType"} <= keys


class AzureMonitorExtractor(Extractor):
    source = Source.AZURE_MONITOR.value

    def parse(self, payload: Any) -> Extraction:
        data = payload.get("data") if isinstance(payload, dict) else None
        schema = str(payload.get("schemaId") or "").replace(" ", "").lower() if isinstance(payload, dict) else ""
        if schema != COMMON_SCHEMA or not isinstance(data, dict):
            return Extraction(ignored_reason=_ignored_schema(payload))
        essentials: dict[str, Any] = data["essentials"] if isinstance(data.get("essentials"), dict) else {}
        context: dict[str, Any] = data["alertContext"] if isinstance(data.get("alertContext"), dict) else {}
        alert_id = ac.text(essentials.get("alertId")) or ""
        result = Extraction(alert_key=alert_id or None,
                            resolved=str(essentials.get("monitorCondition") or "").lower() == "resolved")
        service = str(essentials.get("monitoringService") or "").strip()
        signal = str(essentials.get("signalType") or "").replace(" ", "").lower()
        service_key = service.lower() if service.lower() in _IGNORED_SERVICES else service.lower().replace(" ", "")
        if service_key in _IGNORED_SERVICES or service.lower().startswith("activity log") \
                or signal == "activitylog":
            what = _IGNORED_SERVICES.get(service_key, "an Activity Log alert")
            result.ignored_reason = f"{what}, not a pipeline failure (monitoringService {service or 'not set'!r})"
            return result

        condition: dict[str, Any] = context["condition"] if isinstance(context.get("condition"), dict) else {}
        criteria = [c for c in ac.as_list(condition.get("allOf")) if isinstance(c, dict)]
        dimensions: dict[str, str] = ac.dims(context.get("Dimensions"))
        for criterion in criteria:
            dimensions.update(ac.dims(criterion.get("dimensions")))
        rows = ac.result_rows(context, criteria)
        targets = [str(t) for t in ac.as_list(essentials.get("alertTargetIDs")) if t]
        config_items = [str(t) for t in ac.as_list(essentials.get("configurationItems")) if t]
        links = [str(v) for c in [context, *criteria] for k, v in c.items() if k.lower().startswith("linkto") and v]
        namespaces = [str(c.get("metricNamespace") or "") for c in criteria]
        decision = ac.decide(targets, config_items, [dimensions, *rows], namespaces, service, links)
        if decision.platform is None:
            result.ignored_reason = decision.reason
            return result

        metric = next((str(c["metricName"]) for c in criteria if c.get("metricName")), None)
        if decision.platform is Platform.SYNAPSE and ac.first(dimensions, ("Result",)) not in (None, "Failed"):
            result.ignored_reason = (f"Synapse {metric or 'alert'} for runs that ended with Result="
                                     f"{ac.first(dimensions, ('Result',))}, not a failure")
            return result
        window_start = ac.when(condition.get("windowStartTime") or context.get("SearchIntervalStartTimeUtc"))
        window_end = ac.when(condition.get("windowEndTime") or context.get("SearchIntervalEndtimeUtc"))
        template = Failure(
            source=self.source, platform=decision.platform.value, resource=decision.resource,
            start=window_start, end=window_end or ac.when(essentials.get("firedDateTime")),
            links=_links(essentials, context, criteria, decision),
            origin={
                "alert_id": alert_id, "alert_rule": essentials.get("alertRule"),
                "severity": essentials.get("severity"), "signal_type": essentials.get("signalType"),
                "monitoring_service": service or None, "monitor_condition": essentials.get("monitorCondition"),
                "fired": essentials.get("firedDateTime"), "window_start": window_start, "window_end": window_end,
                "metric": metric, "metric_value": next((c.get("metricValue") for c in criteria
                                                        if c.get("metricValue") is not None), None),
                "dimensions": dimensions, "result_count": context.get("ResultCount"),
                "search_query": context.get("SearchQuery") or next((c.get("searchQuery") for c in criteria), None),
            },
            fingerprint_parts={
                "alert_id": alert_id,
                "rule_id": essentials.get("alertRuleID") or essentials.get("alertRuleId") or essentials.get(
                    "originAlertId"),
                "targets": targets, "dimensions": dimensions,
            },
        )
        if decision.platform is Platform.FUNCTIONS:
            result.failures = app_insights_failures(template, rows, dimensions)
        else:
            result.failures = _pipeline_failures(template, rows, dimensions, (metric or "").lower())
        return result

    def enrich(self, extraction: Extraction, settings: Settings) -> Extraction:
        return enrich_pipeline_failures(extraction, settings)


def _links(essentials: dict[str, Any], context: dict[str, Any], criteria: list[dict[str, Any]],
           decision: ac.Decision) -> dict[str, str]:
    links: dict[str, str] = {}
    if essentials.get("investigationLink"):
        links["investigation"] = str(essentials["investigationLink"])
    ui = [c.get("linkToFilteredSearchResultsUI") for c in criteria if c.get("linkToFilteredSearchResultsUI")]
    results = (ui[0] if ui else None) or context.get("LinkToFilteredSearchResultsUI") or context.get(
        "LinkToSearchResults")
    if results:
        links["search_results"] = str(results)
    if decision.platform is Platform.ADF and parse_arm_id(decision.resource):
        links["factory"] = factory_link(decision.resource)
    return links


def _pipeline_failures(template: Failure, rows: list[dict[str, str]], dimensions: dict[str, str],
                       metric: str) -> list[Failure]:
    """One failure per run the alert names (rows or dimensions), else one for the alert."""
    pipeline_dim, activity_dim = _METRICS.get(metric, (None, None))
    failures: list[Failure] = []
    seen: set[str] = set()
    for row in rows or [{}]:
        bag = {**dimensions, **row}
        run_id = ac.first(bag, _RUN_KEYS)
        pipeline = ac.first(bag, _PIPELINE_KEYS) or (ac.first(dimensions, (pipeline_dim,)) if pipeline_dim else None)
        activity = ac.first(bag, _ACTIVITY_KEYS) or (ac.first(dimensions, (activity_dim,)) if activity_dim else None)
        key = run_id or f"{pipeline}|{activity}|{ac.first(bag, ('ErrorMessage',))}"
        if key in seen:
            continue
        seen.add(key)
        own = parse_arm_id(ac.first(bag, ac.RESOURCE_KEYS))
        parts = {**template.fingerprint_parts, **({"row": row} if row else {})}
        failure = Failure.from_dict({**template.to_dict(), "origin": dict(template.origin),
                                     "links": dict(template.links), "fingerprint_parts": parts})
        failure.resource = own.resource_id if own and own.type in ac.PIPELINE_TYPES else template.resource
        failure.pipeline, failure.run_id, failure.activity = pipeline, run_id, activity
        failure.error_code = ac.first(bag, ("ErrorCode",))
        failure.failure_type = ac.first(bag, ("FailureType",))
        failure.message = ac.first(bag, ("ErrorMessage", "Message"))
        failure.start = ac.when(ac.first(row, ("Start", "RunStart"))) or template.start
        failure.end = ac.when(ac.first(row, ("End", "RunEnd", "TimeGenerated"))) or template.end
        if metric == "pipelineelapsedtimeruns":
            failure.level = "warning"
            failure.message = failure.message or "the pipeline run took longer than the alert's elapsed-time threshold"
        elif metric in ("triggerfailedruns", "integrationtriggerrunsended"):
            trigger = ac.first(dimensions, ("Name", "Trigger"))
            failure.origin["trigger"] = trigger
            failure.message = failure.message or f"trigger {trigger or '(not split by trigger)'} failed"
        failures.append(failure)
    return failures
