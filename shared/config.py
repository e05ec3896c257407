"""Every setting the app reads, in one declarative list.

The list is the single source of truth: `Settings` reads from it, the README's configuration
table and the bicep consistency test are checked against it. Values come from the process
environment (the Functions host exports `local.settings.json` `Values` and app settings there);
`load_settings()` adds `local.settings.json` for command-line tools, environment first.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    meaning: str
    secret: bool = False


# Storage connection: either a connection string or the identity-based settings the host reads.
STORAGE = "AzureWebJobsStorage"

SETTINGS: tuple[Setting, ...] = (
    Setting(STORAGE, "", "Storage connection string (Azurite: `UseDevelopmentStorage=true`). "
            "Leave empty in Azure and use the `AzureWebJobsStorage__*` identity settings.", secret=True),
    Setting("AzureWebJobsStorage__accountName", "", "Storage account name for identity-based access "
            "(DefaultAzureCredential); service URIs derive from it."),
    Setting("AzureWebJobsStorage__blobServiceUri", "", "Blob endpoint for identity-based access (overrides accountName)."),
    Setting("AzureWebJobsStorage__queueServiceUri", "", "Queue endpoint for identity-based access (overrides accountName)."),
    Setting("AzureWebJobsStorage__tableServiceUri", "", "Table endpoint for identity-based access (overrides accountName)."),
    Setting("AzureWebJobsStorage__credential", "", "`managedidentity` to use a managed identity (as the host does)."),
    Setting("AzureWebJobsStorage__clientId", "", "Client id of the user-assigned managed identity."),
    Setting("ALERTS_QUEUE", "alerts", "Queue the ingest functions write and `process` reads; poison queue is `<name>-poison`."),
    Setting("EVENTS_QUEUE", "incident-events", "Queue of incident lifecycle events (opened, remediation planned / started / succeeded, escalated, resolved, ...), one message per state change; poison queue is `<name>-poison`."),
    Setting("INCIDENTS_TABLE", "incidents", "Table of incidents (one row per failed run) and their occurrence markers."),
    Setting("ALERTS_TABLE", "alerts", "Table of received alerts and what became of each."),
    Setting("AUDIT_TABLE", "audit", "Append-only audit trail of every state change."),
    Setting("STATE_TABLE", "state", "Small operational state: sweep watermarks."),
    Setting("ANALYSIS_CACHE_TABLE", "analysiscache", "Root-cause analyses cached per error signature."),
    Setting("RAW_CONTAINER", "alerts-raw", "Blob container for the raw received bodies and claim-checked payloads."),
    Setting("PAYLOADS_CONTAINER", "incident-payloads", "Blob container for large incident data (full error texts)."),
    Setting("MAX_BODY_BYTES", "1048576", "Largest accepted webhook body; larger bodies get 413."),
    Setting("SWEEP_SCHEDULE", "0 */5 * * * *", "Six-field NCRONTAB schedule of the sweep for unreported failures (UTC)."),
    Setting("SWEEP_FACTORIES", "", "Comma-separated ARM resource ids of Data Factories the sweep watches."),
    Setting("SWEEP_SYNAPSE_WORKSPACES", "", "Comma-separated ARM resource ids of Synapse workspaces the sweep watches."),
    Setting("SWEEP_DATABRICKS", "false", "`true` to sweep the Databricks workspace at DATABRICKS_HOST for failed job runs."),
    Setting("SWEEP_LOOKBACK_MINUTES", "60", "How far back the first sweep looks when no watermark exists."),
    Setting("SWEEP_OVERLAP_MINUTES", "10", "Overlap re-read before the watermark, for runs that finish late."),
    Setting("SWEEP_MAX_ENQUEUE", "200", "Most failures one sweep invocation enqueues (bounded work)."),
    Setting("ALLOWED_RESOURCES", "", "Comma-separated ARM id prefixes (subscription, resource group, factory or workspace) the app may query or act on; empty means SWEEP_FACTORIES + SWEEP_SYNAPSE_WORKSPACES. Anything else is recorded without a call."),
    Setting("ENRICHMENT_ENABLED", "true", "`false` to never call platform APIs for the exact error."),
    Setting("ENRICHMENT_WINDOW_SLACK_MINUTES", "5", "Slack added around a metric alert's window when querying runs."),
    Setting("ENRICHMENT_TIMEOUT_SECONDS", "20", "Read timeout of each platform API call made for enrichment or the sweep."),
    Setting("ENRICHMENT_MAX_RETRIES", "3", "Retries of a platform API call on 408 / 429 / 5xx / timeout."),
    Setting("ENRICHMENT_MAX_RETRY_AFTER_SECONDS", "30", "Longest Retry-After that is waited for; longer ones are recorded as errors."),
    Setting("ENRICHMENT_MAX_RUNS", "25", "Most failed runs per alert whose activity error is fetched."),
    Setting("ARM_ENDPOINT", "https://management.azure.com", "Azure Resource Manager endpoint (Data Factory REST)."),
    Setting("ARM_SCOPE", "https://management.azure.com/.default", "Token scope for ARM."),
    Setting("SYNAPSE_ENDPOINT", "https://{workspace}.dev.azuresynapse.net", "Synapse dev endpoint template; `{workspace}` is the workspace name."),
    Setting("DATABRICKS_HOST", "", "Databricks workspace URL."),
    Setting("DATABRICKS_TOKEN", "", "Databricks personal access token (else Entra ID via azure-identity).", secret=True),
    Setting("AIRFLOW_URL", "", "Airflow webserver / API server base URL."),
    Setting("AIRFLOW_TOKEN", "", "Airflow API bearer token.", secret=True),
    Setting("ANALYSIS_MODE", "rules", "`rules` (default) or `llm` for LLM root-cause analysis on top of the rules."),
    Setting("OPENAI_BASE_URL", "", "OpenAI-compatible base URL (OpenAI flavour)."),
    Setting("OPENAI_API_KEY", "", "OpenAI or Azure OpenAI key (Azure: empty means Entra ID).", secret=True),
    Setting("OPENAI_MODEL", "gpt-4o-mini", "Model name (OpenAI) or deployment name (Azure OpenAI)."),
    Setting("AZURE_OPENAI_ENDPOINT", "", "Azure OpenAI endpoint; set it to use the Azure flavour."),
    Setting("AZURE_OPENAI_API_VERSION", "2024-10-21", "Azure OpenAI API version."),
    Setting("LLM_TIMEOUT_SECONDS", "20", "Timeout of one LLM request."),
    Setting("LLM_MAX_RETRIES", "2", "Retries of a failed LLM request."),
    Setting("LLM_CACHE_TTL_HOURS", "168", "How long a cached root-cause analysis is reused for the same error signature."),
    Setting("LLM_FAILURE_BACKOFF_SECONDS", "300", "After a failed LLM call, the same signature is not sent again for this long."),
    Setting("LLM_UNKNOWN_MIN_CONFIDENCE", "80", "Confidence the LLM needs to allow one retry of an `unknown` error."),
    # --- remediation (issue 8) ---
    Setting("REMEDIATION_MODE", "off", "Reserved for the remediation stage (next issue); nothing reads it yet, so remediation is off."),
    # --- end remediation ---

    # --- notifications (issue 10) ---
    Setting("NOTIFY_CHANNELS", "console", "Comma-separated notification channels; `console` (the app log) is the one built so far."),
    Setting("TEAMS_WEBHOOK_URL", "", "Reserved for the Teams notifier (next issue); not read yet.", secret=True),
    Setting("SLACK_WEBHOOK_URL", "", "Reserved for the Slack notifier (next issue); not read yet.", secret=True),
    # --- end notifications ---

    # --- dashboard (issue 11) ---
    # --- end dashboard ---

    # --- agent (issue 12) ---
    # --- end agent ---

    # --- hardening (issue 9) ---
    Setting("REQUEST_STORAGE_TIMEOUT_SECONDS", "2", "Per-try timeout of storage calls made while answering an HTTP request (ingest, reads, health); with REQUEST_STORAGE_RETRIES it bounds how long a sender waits for a 503 when storage hangs."),
    Setting("REQUEST_STORAGE_RETRIES", "1", "Retries of a storage call made while answering an HTTP request."),
    Setting("MAX_FAILURES_PER_ALERT", "25", "Most failures (runs) one alert turns into incidents; the rest are counted on the alert record and named in one extra incident."),
    Setting("PROCESSING_DEADLINE_SECONDS", "420", "Processing of one alert stops starting new failures after this long (stays under host.json functionTimeout); what is left is recorded as dropped."),
    # --- end hardening ---

    # --- performance (issue 13) ---
    # --- end performance ---
)

_BY_NAME = {s.name: s for s in SETTINGS}


def setting_names() -> list[str]:
    return [s.name for s in SETTINGS]


def _csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    """Typed view over the raw values; construct with `Settings.from_mapping`."""

    raw: Mapping[str, str]

    @classmethod
    def from_mapping(cls, values: Mapping[str, str]) -> Settings:
        merged = {s.name: s.default for s in SETTINGS}
        merged.update({k: v for k, v in values.items() if isinstance(v, str)})
        return cls(raw=merged)

    def get(self, name: str) -> str:
        if name not in self.raw and name not in _BY_NAME:
            raise KeyError(f"unknown setting {name!r}")
        return self.raw.get(name, _BY_NAME[name].default if name in _BY_NAME else "")

    # Storage names
    @property
    def alerts_queue(self) -> str:
        return self.get("ALERTS_QUEUE")

    @property
    def poison_queue(self) -> str:
        return f"{self.alerts_queue}-poison"

    @property
    def events_queue(self) -> str:
        return self.get("EVENTS_QUEUE")

    @property
    def incidents_table(self) -> str:
        return self.get("INCIDENTS_TABLE")

    @property
    def alerts_table(self) -> str:
        return self.get("ALERTS_TABLE")

    @property
    def audit_table(self) -> str:
        return self.get("AUDIT_TABLE")

    @property
    def state_table(self) -> str:
        return self.get("STATE_TABLE")

    @property
    def analysis_cache_table(self) -> str:
        return self.get("ANALYSIS_CACHE_TABLE")

    @property
    def raw_container(self) -> str:
        return self.get("RAW_CONTAINER")

    @property
    def payloads_container(self) -> str:
        return self.get("PAYLOADS_CONTAINER")

    def tables(self) -> tuple[str, ...]:
        return (self.incidents_table, self.alerts_table, self.audit_table, self.state_table,
                self.analysis_cache_table)

    def queues(self) -> tuple[str, ...]:
        return (self.alerts_queue, self.poison_queue, self.events_queue, f"{self.events_queue}-poison")

    def containers(self) -> tuple[str, ...]:
        return (self.raw_container, self.payloads_container)

    @property
    def max_body_bytes(self) -> int:
        return int(self.get("MAX_BODY_BYTES"))

    # Sweep
    @property
    def sweep_factories(self) -> tuple[str, ...]:
        return _csv(self.get("SWEEP_FACTORIES"))

    @property
    def sweep_synapse_workspaces(self) -> tuple[str, ...]:
        return _csv(self.get("SWEEP_SYNAPSE_WORKSPACES"))

    @property
    def sweep_databricks(self) -> bool:
        return _bool(self.get("SWEEP_DATABRICKS"))

    def int_setting(self, name: str) -> int:
        return int(self.get(name))

    def bool_setting(self, name: str) -> bool:
        return _bool(self.get(name))

    def csv_setting(self, name: str) -> tuple[str, ...]:
        return _csv(self.get(name))


def read_local_settings(path: Path | None = None) -> dict[str, str]:
    """`Values` of local.settings.json (Core Tools' file), or {} when there is none."""
    path = path or REPO_ROOT / "local.settings.json"
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    values = data.get("Values") or {}
    return {str(k): str(v) for k, v in values.items()}


def load_settings(environ: Mapping[str, str] | None = None, local_settings: Path | None = None) -> Settings:
    """Settings as the host would see them: local.settings.json values, overridden by the environment."""
    values = read_local_settings(local_settings)
    values.update(os.environ if environ is None else environ)
    return Settings.from_mapping(values)
