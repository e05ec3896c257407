"""Helpers for the extractor / enrichment / sweep tests: corpus payloads and alert envelopes.

Corpus fragments (`azmon__alertcontext-*`) are only the alertContext; `envelope` puts one into a
full common-schema body with the essentials block of a test-action / common sample, as
SOURCES.md asks, changing only what the caller names (recorded in each test).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from shared.config import Settings
from tools.simulators.adf import AdfSimulator, SimFactory

PAYLOADS = Path(__file__).resolve().parents[1] / "corpus" / "payloads"
SUB = "aaaa0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4e"
FACTORY_ID = f"/subscriptions/{SUB}/resourceGroups/pipelines-rg/providers/Microsoft.DataFactory/factories/contoso-adf"
SYNAPSE_ID = f"/subscriptions/{SUB}/resourceGroups/pipelines-rg/providers/Microsoft.Synapse/workspaces/contoso-syn"
LOG_WORKSPACE_ID = (f"/subscriptions/{SUB}/resourcegroups/test-RG/providers/microsoft.operationalinsights/"
                    "workspaces/test-logAnalyticsWorkspace")
APP_INSIGHTS_ID = f"/subscriptions/{SUB}/resourceGroups/fn-rg/providers/microsoft.insights/components/orders-fn-ai"


def corpus(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))


def essentials(sample: str = "azmon__testaction-metric-static__1.json", **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = copy.deepcopy(corpus(sample)["data"]["essentials"])
    data.update(changes)
    return data


def envelope(alert_context: dict[str, Any], essentials_block: dict[str, Any]) -> dict[str, Any]:
    return {"schemaId": "azureMonitorCommonAlertSchema",
            "data": {"essentials": essentials_block, "alertContext": alert_context, "customProperties": None}}


def fragment(name: str) -> dict[str, Any]:
    context: dict[str, Any] = corpus(name)["alertContext"]
    return context


def metric_context(metric: str, dimensions: dict[str, str] | None, namespace: str = "Microsoft.DataFactory/factories",
                   start: str = "2025-04-15T18:10:00.000Z", end: str = "2025-04-15T18:15:00.000Z") -> dict[str, Any]:
    """The static-threshold fragment of the corpus with an ADF / Synapse metric in place of its VM metric."""
    context = fragment("azmon__alertcontext-metric-static__1.json")
    criterion = context["condition"]["allOf"][0]
    pairs = None if dimensions is None else [{"name": k, "value": v} for k, v in dimensions.items()]
    criterion.update(metricName=metric, metricNamespace=namespace, threshold="0", timeAggregation="Total",
                     metricValue="3", dimensions=pairs)
    context["condition"].update(windowStartTime=start, windowEndTime=end)
    return context


def contoso_factory(sim: AdfSimulator) -> SimFactory:
    """The simulated factory whose ARM id is FACTORY_ID."""
    return sim.add_factory("contoso-adf", subscription=SUB, resource_group="pipelines-rg")


def sim_settings(**values: str) -> Settings:
    """Settings for talking to simulators: small timeouts, few retries."""
    base = {"ENRICHMENT_TIMEOUT_SECONDS": "2", "ENRICHMENT_MAX_RETRIES": "2",
            "ENRICHMENT_MAX_RETRY_AFTER_SECONDS": "5", "ENRICHMENT_ENABLED": "true",
            "ALLOWED_RESOURCES": f"/subscriptions/{SUB}"}
    return Settings.from_mapping({**base, **values})
