"""The bicep sets exactly the settings the code reads, and creates the storage the code names.

Compared with shared/config.py (SETTINGS and Settings), never with a copy: a setting added to the code
fails here until infra/main.bicep sets it.

Where the app settings live: `appSettings` in infra/main.bicep (the app's own settings) and
`hostSettings` in infra/app/function.bicep (host and identity settings); function.bicep sets the
site's appSettings from the union of the two.
"""

from __future__ import annotations

import json
import re
from typing import Any

from shared.config import SETTINGS, Settings, setting_names
from tests.infra.bicep_model import (
    INFRA,
    MAIN,
    REPO_ROOT,
    Unresolved,
    environment,
    follow,
    module_params,
    resolve,
    resources,
    template,
    unquote,
)

FUNCTION = INFRA / "app" / "function.bicep"
STORAGE = INFRA / "app" / "storage.bicep"
ALERTS = INFRA / "app" / "alerts.bicep"

# Settings of SETTINGS that Azure does not get, and why.
NOT_SET_IN_AZURE = {
    "AzureWebJobsStorage": "connection string for Azurite; in Azure the identity-based AzureWebJobsStorage__* settings "
                           "replace it (shared keys are off, so no connection string could work)",
}

# App settings that are not in SETTINGS: read by the Functions host or the Azure SDKs, not by our code.
HOST_SETTINGS = {
    "APPLICATIONINSIGHTS_CONNECTION_STRING": "Functions host: where telemetry goes",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": "Functions host: Entra ID auth of telemetry with the identity",
    "AZURE_CLIENT_ID": "azure-identity: which user-assigned identity DefaultAzureCredential uses",
}

KEY_VAULT_REFERENCE = "@Microsoft.KeyVault(SecretUri="


def app_settings_raw() -> dict[str, Any]:
    return {unquote(k): v for k, v in template(MAIN)["variables"]["appSettings"]["value"].items()}


def host_settings_raw() -> dict[str, Any]:
    return {unquote(k): v for k, v in template(FUNCTION)["variables"]["hostSettings"]["value"].items()}


def resolved_app_settings() -> dict[str, str]:
    """The app settings whose value is known before deployment (parameter defaults)."""
    env = environment(template(MAIN))
    out = {}
    for name, raw in app_settings_raw().items():
        try:
            value = resolve(raw, env)
        except Unresolved:
            continue
        if isinstance(value, str):
            out[name] = value
    return out


def test_function_app_takes_its_settings_from_both_maps() -> None:
    assert module_params(template(MAIN), "app/function.bicep").get("appSettings") == "appSettings", (
        "main.bicep must pass its `appSettings` variable to app/function.bicep")
    sites = resources(template(FUNCTION), "Microsoft.Web/sites")
    assert len(sites) == 1
    site_settings = sites[0]["config"]["properties"]["siteConfig"]["appSettings"]
    text = json.dumps(site_settings)
    assert "loop_type" in site_settings and "hostSettings" in text and "appSettings" in text, (
        "siteConfig.appSettings must be built from items(union(hostSettings, appSettings)), nothing else")


def test_every_setting_the_code_reads_is_set() -> None:
    assert set(NOT_SET_IN_AZURE) <= set(setting_names()), "NOT_SET_IN_AZURE names a setting the code no longer has"
    bicep = set(app_settings_raw()) | set(host_settings_raw())
    missing = sorted(set(setting_names()) - set(NOT_SET_IN_AZURE) - bicep)
    assert not missing, (f"shared/config.py reads settings the bicep does not set: {missing}. Add each to "
                         "`appSettings` in infra/main.bicep (from a parameter whose default is the code's default).")


def test_every_setting_the_bicep_sets_is_known() -> None:
    unknown = sorted((set(app_settings_raw()) | set(host_settings_raw())) - set(setting_names()) - set(HOST_SETTINGS))
    assert not unknown, (f"the bicep sets app settings that neither shared/config.py nor the host reads: {unknown} "
                         "(typo? removed from the code? Flex Consumption rejects FUNCTIONS_WORKER_RUNTIME and friends)")


def test_no_setting_is_set_twice() -> None:
    both = sorted(set(app_settings_raw()) & set(host_settings_raw()))
    assert not both, f"set in main.bicep appSettings and function.bicep hostSettings (union drops one): {both}"


def test_identity_based_host_storage() -> None:
    host = host_settings_raw()
    assert host["AzureWebJobsStorage__credential"] == "managedidentity"
    assert "AzureWebJobsStorage" not in host and "AzureWebJobsStorage" not in app_settings_raw()
    for suffix in ("accountName", "clientId", "blobServiceUri", "queueServiceUri", "tableServiceUri"):
        assert f"AzureWebJobsStorage__{suffix}" in host


def test_parameter_defaults_equal_the_code_defaults() -> None:
    defaults = {s.name: s.default for s in SETTINGS}
    resolved = resolved_app_settings()
    assert len(resolved) >= len(app_settings_raw()) // 2, "the evaluator resolved too few settings to mean anything"
    differ = {name: (value, defaults[name]) for name, value in resolved.items()
              if name in defaults and value != defaults[name]}
    assert not differ, f"bicep default differs from shared/config.py (bicep, code): {differ}"


def test_secrets_only_as_key_vault_references() -> None:
    tpl = template(MAIN)
    secure_params = {name for name, p in tpl["parameters"].items()
                     if any(d.get("type") == "secure" for d in p.get("decorators") or [])}
    raw = app_settings_raw()
    for setting in SETTINGS:
        if not setting.secret or setting.name not in raw:
            continue
        value = follow(raw[setting.name], tpl)
        assert not (isinstance(value, str) and value in secure_params), (
            f"{setting.name} is set from a secure parameter in plain text")
        operands = value.get("operator", {}).get("operands", {}) if isinstance(value, dict) else {}
        branches = sorted([operands.get("true_value"), operands.get("false_value")], key=str)
        assert value.get("operator", {}).get("type") == "conditional" and branches[0] == "" and \
            isinstance(branches[1], str) and branches[1].startswith(KEY_VAULT_REFERENCE), (
                f"{setting.name} (secret) must be `cond ? '{KEY_VAULT_REFERENCE}...)' : ''`, got {value}")


def test_storage_names_agree_with_the_code() -> None:
    main = template(MAIN)
    env = environment(main)
    params = {name: resolve(raw, env) for name, raw in module_params(main, "app/storage.bicep").items()
              if name in ("queueNames", "tableNames", "containerNames")}
    deployed = Settings.from_mapping(resolved_app_settings())
    assert sorted(params["queueNames"]) == sorted(deployed.queues())
    assert sorted(params["tableNames"]) == sorted(deployed.tables())
    assert sorted(params["containerNames"]) == sorted(deployed.containers())
    # ...and with the code's defaults, for a deployment that keeps the default parameters.
    code = Settings.from_mapping({})
    assert (sorted(params["queueNames"]), sorted(params["tableNames"]), sorted(params["containerNames"])) == (
        sorted(code.queues()), sorted(code.tables()), sorted(code.containers()))


def test_storage_module_creates_every_named_resource() -> None:
    tpl = template(STORAGE)
    for resource_type, array in (
        ("Microsoft.Storage/storageAccounts/queueServices/queues", "queueNames"),
        ("Microsoft.Storage/storageAccounts/tableServices/tables", "tableNames"),
        ("Microsoft.Storage/storageAccounts/blobServices/containers", "containerNames"),
    ):
        loops = [r for r in resources(tpl, resource_type)
                 if r["loop"] and r["loop"]["detail"]["array_name"] == array
                 and r["config"]["name"] == r["loop"]["detail"]["item_name"]]
        assert len(loops) == 1, f"storage.bicep must create one {resource_type} per item of {array}"


def test_storage_account_is_identity_only() -> None:
    (account,) = resources(template(STORAGE), "Microsoft.Storage/storageAccounts")
    props = account["config"]["properties"]
    assert (props["allowSharedKeyAccess"], props["allowBlobPublicAccess"], props["minimumTlsVersion"]) == (
        False, False, "TLS1_2")


def test_action_group_posts_to_the_ingest_route() -> None:
    (group,) = resources(template(ALERTS), "Microsoft.Insights/actionGroups")
    (receiver,) = group["config"]["properties"]["webhookReceivers"]
    assert receiver["useCommonAlertSchema"] is True
    match = re.search(r"/api/([A-Za-z0-9_-]+)\?code=", receiver["serviceUri"])
    assert match, receiver["serviceUri"]
    sources = [REPO_ROOT / "function_app.py", *sorted((REPO_ROOT / "shared").rglob("*.py"))]
    routes = {m.group(1) for path in sources if path.is_file()
              for m in re.finditer(r"route=\"([^\"]+)\"", path.read_text(encoding="utf-8"))}
    assert match.group(1) in routes, f"the Action Group posts to /api/{match.group(1)}, the app routes are {routes}"


def test_parameters_file_fits_main() -> None:
    params = template(MAIN)["parameters"]
    given = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    unknown = sorted(set(given) - set(params))
    assert not unknown, f"infra/main.parameters.json sets parameters main.bicep does not have: {unknown}"
    required = sorted(name for name, p in params.items() if p.get("default") is None)  # None: no default
    assert set(required) <= set(given), f"main.parameters.json misses required parameters: {required}"
    secure = sorted(name for name, p in params.items()
                    if any(d.get("type") == "secure" for d in p.get("decorators") or []) and name in given)
    assert not secure, f"secrets do not belong in the committed parameters file: {secure}"
