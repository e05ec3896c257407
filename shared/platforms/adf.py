"""Azure Data Factory through the official azure-mgmt-datafactory client (10.x API).

`AdfFactory(factory_id, settings)` is a cheap per-use object over a per-process cached
DataFactoryManagementClient (one per ARM endpoint and subscription). It answers in plain REST
JSON (`model.as_dict()`), like synapse.py, so callers share one code path.

ARM endpoint: setting ARM_ENDPOINT (token scope ARM_SCOPE). For a simulator on
`http://127.0.0.1:<port>` the client gets `LoopbackBearerPolicy` + `LocalDevCredential`
(see common.py); every other endpoint uses the SDK's own ARM policy and DefaultAzureCredential.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from azure.core.credentials import TokenCredential

from shared.config import Settings
from shared.platforms.common import (
    NON_IDEMPOTENT_RETRY,
    READ_RETRY_METHODS,
    BoundedRetryPolicy,
    CallOptions,
    ClientCache,
    LoopbackBearerPolicy,
    azure_credential,
    is_loopback_http,
    parse_arm_id,
)

FACTORY_TYPE = "microsoft.datafactory/factories"
_clients = ClientCache()

if TYPE_CHECKING:  # the management SDK loads when a client is built, not with the alert path
    from azure.mgmt.datafactory import DataFactoryManagementClient


def management_client(settings: Settings, subscription: str,
                      credential: TokenCredential | None = None) -> DataFactoryManagementClient:
    """The process's client for one subscription at ARM_ENDPOINT (built once, then reused)."""
    endpoint = settings.get("ARM_ENDPOINT").strip().rstrip("/") or "https://management.azure.com"
    scope = settings.get("ARM_SCOPE").strip() or "https://management.azure.com/.default"
    options = CallOptions.from_settings(settings)

    def build() -> DataFactoryManagementClient:
        from azure.mgmt.datafactory import DataFactoryManagementClient

        cred = azure_credential(endpoint, credential)
        kwargs: dict[str, Any] = {
            "retry_policy": BoundedRetryPolicy(options),
            "connection_timeout": min(10.0, options.timeout_s),
            "read_timeout": options.timeout_s,
            "credential_scopes": [scope],
        }
        if is_loopback_http(endpoint):
            kwargs["authentication_policy"] = LoopbackBearerPolicy(cred, scope)
        return DataFactoryManagementClient(cred, subscription, base_url=endpoint, **kwargs)

    key = (endpoint, scope, subscription.lower(), options, id(credential) if credential else None)
    return _clients.get(key, build)


def factory_link(factory_id: str) -> str:
    return f"https://adf.azure.com/en/monitoring/pipelineruns?factory={quote(factory_id, safe='')}"


class AdfFactory:
    """One factory's pipeline runs (implements shared.platforms.runs.PipelineRunsApi)."""

    platform = "adf"

    def __init__(self, factory_id: str, settings: Settings, *, credential: TokenCredential | None = None) -> None:
        ref = parse_arm_id(factory_id)
        if ref is None or ref.type != FACTORY_TYPE:
            raise ValueError(f"not a Data Factory resource id: {factory_id!r}")
        self.resource_id = ref.resource_id
        self.resource_group = ref.resource_group
        self.name = ref.name
        self.client = management_client(settings, ref.subscription, credential)
        self.calls: Counter[str] = Counter()

    def query_pipeline_runs(self, body: dict[str, Any]) -> dict[str, Any]:
        from azure.mgmt.datafactory.models import RunFilterParameters

        self.calls["queryPipelineRuns"] += 1
        result = self.client.pipeline_runs.query_by_factory(self.resource_group, self.name, RunFilterParameters(body),
                                                            retry_on_methods=READ_RETRY_METHODS)
        return dict(result.as_dict())

    def query_activity_runs(self, pipeline: str | None, run_id: str, body: dict[str, Any]) -> dict[str, Any]:
        from azure.mgmt.datafactory.models import RunFilterParameters

        self.calls["queryActivityRuns"] += 1
        result = self.client.activity_runs.query_by_pipeline_run(self.resource_group, self.name, run_id,
                                                                 RunFilterParameters(body),
                                                                 retry_on_methods=READ_RETRY_METHODS)
        return dict(result.as_dict())

    def get_pipeline_run(self, run_id: str) -> dict[str, Any]:
        self.calls["getPipelineRun"] += 1
        return dict(self.client.pipeline_runs.get(self.resource_group, self.name, run_id).as_dict())

    def create_run(self, pipeline: str, parameters: dict[str, Any] | None = None, *,
                   reference_pipeline_run_id: str | None = None, is_recovery: bool | None = None,
                   start_activity_name: str | None = None, start_from_failure: bool | None = None) -> str:
        """Start a run; with reference_pipeline_run_id + is_recovery it reruns that run (from failure
        with start_from_failure=True, or from start_activity_name). Never resent by the SDK's retry (azure-core
        retries a POST on 500/503/504 and on any Retry-After): a failed call leaves the outcome to reconcile."""
        self.calls["createRun"] += 1
        result = self.client.pipelines.create_run(
            self.resource_group, self.name, pipeline, parameters,
            reference_pipeline_run_id=reference_pipeline_run_id, is_recovery=is_recovery,
            start_activity_name=start_activity_name, start_from_failure=start_from_failure,
            retry_on_methods=NON_IDEMPOTENT_RETRY, retry_total=0)
        return str(result.run_id)

    def run_link(self, run_id: str) -> str:
        return (f"https://adf.azure.com/en/monitoring/pipelineruns/{quote(run_id, safe='')}"
                f"?factory={quote(self.resource_id, safe='')}")
