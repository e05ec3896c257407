"""Which Azure resources the app's identity may touch (enrichment, remediation, agent tools).

An alert names its target resource; without a check, any alert could make the app query or rerun a factory in
any subscription it can reach. ALLOWED_RESOURCES lists ARM id prefixes (a subscription, a resource group or one
factory / workspace); empty means the sweep's lists (SWEEP_FACTORIES, SWEEP_SYNAPSE_WORKSPACES). Databricks and
Airflow are reached only at the configured DATABRICKS_HOST / AIRFLOW_URL, never at a host an alert names.
"""

from __future__ import annotations

from shared.config import Settings


def allowed_prefixes(settings: Settings) -> tuple[str, ...]:
    configured = settings.csv_setting("ALLOWED_RESOURCES")
    if configured:
        return tuple(p.rstrip("/").lower() for p in configured)
    return tuple(p.rstrip("/").lower() for p in (*settings.sweep_factories, *settings.sweep_synapse_workspaces))


def out_of_scope_reason(settings: Settings, resource_id: str) -> str | None:
    """None when the ARM resource may be touched; otherwise the reason, in words, for the audit trail."""
    rid = (resource_id or "").rstrip("/").lower()
    if not rid.startswith("/subscriptions/"):
        return f"{resource_id!r} is not an Azure resource id"
    if ".." in rid or "//" in rid:
        return f"{resource_id!r} is not a valid Azure resource id"
    prefixes = allowed_prefixes(settings)
    if not prefixes:
        return ("no Azure resources are allowed: set ALLOWED_RESOURCES (or SWEEP_FACTORIES / "
                "SWEEP_SYNAPSE_WORKSPACES) to the factories and workspaces this app may query")
    for prefix in prefixes:
        if rid == prefix or rid.startswith(prefix + "/"):
            return None
    return f"{resource_id} is outside ALLOWED_RESOURCES; nothing was called"
