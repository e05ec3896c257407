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
    Setting("REMEDIATION_MODE", "dry-run", "`off`, `dry-run` (plans and audits what it would do, calls nothing), `approve` (every action waits for approval) or `auto` (retry-safe failures of pipelines the policy declares idempotent are rerun; the rest wait for approval). See docs/remediation.md."),
    Setting("REMEDIATION_KILL_SWITCH", "false", "`true` stops every remediation action at once, whatever the mode; plans say why nothing was done."),
    Setting("REMEDIATION_POLICY_FILE", "", "Path of the remediation policy TOML (per category and pipeline: action, max attempts, backoff, idempotent); empty means the packaged remediation/policy.toml."),
    Setting("REMEDIATION_QUEUE", "remediation", "Queue of delayed remediation steps (act, verify, reconcile, approval expiry), sent with a visibility delay; poison queue is `<name>-poison`."),
    Setting("REMEDIATION_TABLE", "remediation", "Table of remediation attempt claims (one insert-only row per incident and attempt), circuit-breaker counters and learning figures."),
    Setting("REMEDIATION_VERIFY_INTERVAL_SECONDS", "60", "First delay before a started run is checked; later checks back off (x2) up to 15 minutes."),
    Setting("REMEDIATION_VERIFY_DEADLINE_MINUTES", "180", "A rerun still running (or a run in the way still running) after this long is escalated."),
    Setting("REMEDIATION_BREAKER_PIPELINE_MAX", "3", "Most remediation actions per pipeline / job / DAG within REMEDIATION_BREAKER_WINDOW_MINUTES; beyond it the incident is escalated (notify only)."),
    Setting("REMEDIATION_BREAKER_WINDOW_MINUTES", "60", "Window of the per-pipeline circuit breaker."),
    Setting("REMEDIATION_BREAKER_RESOURCE_PER_HOUR", "100", "Most remediation actions per factory / workspace / Databricks or Airflow instance per hour (ARM allows about 1,200 writes an hour per subscription)."),
    Setting("REMEDIATION_LEARN_MIN_FAILURES", "5", "A signature whose remediations failed at least this often, with a success rate below REMEDIATION_LEARN_MIN_SUCCESS_RATE, is no longer retried automatically."),
    Setting("REMEDIATION_LEARN_MIN_SUCCESS_RATE", "0.5", "Success rate (0-1) below which a signature with enough failed remediations is escalated instead of retried."),
    Setting("REMEDIATION_APPROVAL_SECRET", "", "HMAC key that signs approval links (any long random string); empty disables approval links (the approve API still works).", secret=True),
    Setting("REMEDIATION_APPROVAL_EXPIRY_MINUTES", "240", "How long a plan waits for approval (and its link stays valid) before the incident is escalated."),
    Setting("PUBLIC_BASE_URL", "", "Public base URL of this app (e.g. `https://<app>.azurewebsites.net`), used to build approval links."),
    # --- end remediation ---

    # --- notifications (issue 10) ---
    Setting("NOTIFY_CHANNELS", "console", "Comma-separated enabled notification channels: `console` (the app log), `teams` (Workflows webhook), `teams_legacy` (Office 365 connector via pymsteams), `slack`, `email` (ACS Email, else SMTP), `pagerduty`, `jira`. Routing (NOTIFY_ROUTING_FILE) picks among them per incident and event."),
    Setting("NOTIFY_ROUTING_FILE", "", "Routing and ownership rules (TOML); empty means the shipped `notify/routing.toml`."),
    Setting("NOTIFY_QUEUE", "notifications", "Queue of single-channel deliveries (fanned out from EVENTS_QUEUE); poison queue is `<name>-poison`."),
    Setting("NOTIFICATIONS_TABLE", "notifications", "Table of notification claims (at most once per incident, event and channel), the attempt log, bursts and SLA breach markers."),
    Setting("NOTIFY_QUIET_SECONDS", "30", "Quiet period: incidents opened on one platform resource (factory, workspace) within this window are announced in one message, sent this long after the first; 0 disables folding."),
    Setting("NOTIFY_MAX_ATTEMPTS", "5", "Attempts per notification and channel before it is logged as failed."),
    Setting("NOTIFY_RETRY_BASE_SECONDS", "10", "First retry delay of a failed notification when the service named none (Retry-After); doubles per attempt."),
    Setting("NOTIFY_MAX_RETRY_AFTER_SECONDS", "600", "Longest delay before a retry; a longer Retry-After is capped to it."),
    Setting("NOTIFY_TIMEOUT_SECONDS", "10", "Timeout of one outbound notification call."),
    Setting("NOTIFY_INCIDENT_URL", "", "Link to an incident in messages; `{id}` is replaced by the incident id (e.g. `https://<app>.azurewebsites.net/api/incidents/{id}`). Empty: no link."),
    Setting("TEAMS_WEBHOOK_URL", "", "Teams Workflows webhook URL (\"When a Teams webhook request is received\"); Adaptive Card 1.4 messages.", secret=True),
    Setting("TEAMS_LEGACY_WEBHOOK_URL", "", "Legacy Teams Office 365 connector URL (MessageCard via pymsteams), channel `teams_legacy`.", secret=True),
    Setting("SLACK_WEBHOOK_URL", "", "Slack incoming webhook URL (Block Kit messages).", secret=True),
    Setting("EMAIL_SENDER", "", "Sender address of notification emails (ACS: a verified MailFrom address)."),
    Setting("EMAIL_TO", "", "Comma-separated default email recipients (routing may name others)."),
    Setting("ACS_EMAIL_ENDPOINT", "", "Azure Communication Services endpoint (`https://<resource>.communication.azure.com`), used with the managed identity."),
    Setting("ACS_EMAIL_CONNECTION_STRING", "", "ACS connection string (instead of the managed identity).", secret=True),
    Setting("SMTP_HOST", "", "SMTP relay for email when no ACS endpoint is set."),
    Setting("SMTP_PORT", "587", "SMTP port (587 with STARTTLS; Azure blocks outbound 25)."),
    Setting("SMTP_STARTTLS", "true", "`false` only for a local relay without TLS."),
    Setting("SMTP_USERNAME", "", "SMTP login user; empty: no login."),
    Setting("SMTP_PASSWORD", "", "SMTP login password.", secret=True),
    Setting("PAGERDUTY_EVENTS_URL", "https://events.pagerduty.com/v2/enqueue", "PagerDuty Events API v2 endpoint."),
    Setting("PAGERDUTY_ROUTING_KEY", "", "PagerDuty integration (routing) key of the service.", secret=True),
    Setting("JIRA_BASE_URL", "", "Jira Cloud site, e.g. `https://<site>.atlassian.net`."),
    Setting("JIRA_EMAIL", "", "Account email for the Jira API token."),
    Setting("JIRA_API_TOKEN", "", "Jira API token.", secret=True),
    Setting("JIRA_PROJECT", "", "Project key new issues go into."),
    Setting("JIRA_ISSUE_TYPE", "Bug", "Issue type of new issues."),
    Setting("JIRA_DONE", "Done", "Name of the transition (or target status) used when the incident resolves; an inbound issue reaching it (or any status in the done category) resolves the incident."),
    Setting("JIRA_WEBHOOK_SECRET", "", "Secret of the Jira admin webhook calling `/api/jira-webhook` (HMAC-SHA256, `X-Hub-Signature`); empty rejects every call.", secret=True),
    Setting("SLA_SCHEDULE", "0 */5 * * * *", "Six-field NCRONTAB schedule of the SLA check (breaches, unpublished events)."),
    Setting("SLA_ACK_MINUTES", "P1=15,P2=30,P3=120,P4=480", "Time-to-acknowledge targets per priority, in minutes."),
    Setting("SLA_RESOLVE_MINUTES", "P1=240,P2=480,P3=1440,P4=4320", "Time-to-resolve targets per priority, in minutes."),
    Setting("SLA_MAX_INCIDENTS", "500", "Most unresolved incidents one SLA check looks at (bounded work)."),
    # --- end notifications ---

    # --- dashboard (issue 11) ---
    Setting("INCIDENT_INDEX_TABLE", "incidentindex", "Incident list index (newest-first keys, one summary row per incident) read by the dashboard and `GET /api/incidents`."),
    Setting("STATS_TABLE", "incidentstats", "Counters behind the dashboard's trends and status counts (per day, per error signature, per status)."),
    Setting("DASHBOARD_REFRESH_SECONDS", "30", "Auto-refresh interval of the dashboard's list and health pages; 0 turns it off."),
    Setting("DASHBOARD_TREND_DAYS", "14", "Days shown on the dashboard's trends page."),
    # --- end dashboard ---

    # --- agent (issue 12) ---
    Setting("AGENT_SESSIONS_TABLE", "agentsessions", "Table of the operations agent's conversations (one partition per session)."),
    Setting("AGENT_MAX_STEPS", "8", "Most model calls the agent makes for one question (each may call tools)."),
    Setting("AGENT_MAX_TOKENS", "40000", "Most tokens (prompt + completion, all model calls) the agent spends on one question."),
    Setting("AGENT_MAX_ANSWER_TOKENS", "1500", "max_tokens of each agent model call."),
    Setting("AGENT_MAX_TOOL_RESULT_CHARS", "12000", "Longest tool result (characters, after redaction) sent back to the model; longer ones are cut with a note."),
    Setting("AGENT_HISTORY_MESSAGES", "30", "Messages of a session's earlier conversation sent with a new question."),
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

    @property
    def remediation_queue(self) -> str:
        return self.get("REMEDIATION_QUEUE")

    @property
    def remediation_table(self) -> str:
        return self.get("REMEDIATION_TABLE")

    @property
    def agent_sessions_table(self) -> str:
        return self.get("AGENT_SESSIONS_TABLE")

    @property
    def incident_index_table(self) -> str:
        return self.get("INCIDENT_INDEX_TABLE")

    @property
    def stats_table(self) -> str:
        return self.get("STATS_TABLE")

    @property
    def notify_queue(self) -> str:
        return self.get("NOTIFY_QUEUE")

    @property
    def notifications_table(self) -> str:
        return self.get("NOTIFICATIONS_TABLE")

    def tables(self) -> tuple[str, ...]:
        return (self.incidents_table, self.alerts_table, self.audit_table, self.state_table,
                self.analysis_cache_table, self.remediation_table, self.agent_sessions_table,
                self.incident_index_table, self.stats_table, self.notifications_table)

    def queues(self) -> tuple[str, ...]:
        return (self.alerts_queue, self.poison_queue, self.events_queue, f"{self.events_queue}-poison",
                self.remediation_queue, f"{self.remediation_queue}-poison", self.notify_queue,
                f"{self.notify_queue}-poison")

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
