"""Synapse pipelines through the workspace dev endpoint's REST API (api-version 2020-12-01).

The endpoint comes from SYNAPSE_ENDPOINT, a template with `{workspace}` (default
`https://{workspace}.dev.azuresynapse.net`); the workspace name is the last segment of the
workspace's ARM id. Token scope `https://dev.azuresynapse.net/.default`. Requests go through an
azure-core pipeline (no extra package) with the same bounded retries and timeouts as adf.py,
and a loopback simulator gets the LoopbackBearerPolicy (see common.py).

Run and activity-run bodies have the same shapes as Data Factory's.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any
from urllib.parse import quote, urlsplit

from azure.core import PipelineClient
from azure.core.credentials import TokenCredential
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError, map_error
from azure.core.pipeline.policies import (
    BearerTokenCredentialPolicy,
    ContentDecodePolicy,
    HeadersPolicy,
    NetworkTraceLoggingPolicy,
    UserAgentPolicy,
)
from azure.core.pipeline.transport import RequestsTransport
from azure.core.rest import HttpRequest

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
    optional_setting,
    parse_arm_id,
)

API_VERSION = "2020-12-01"
SCOPE = "https://dev.azuresynapse.net/.default"
DEFAULT_ENDPOINT = "https://{workspace}.dev.azuresynapse.net"
WORKSPACE_TYPE = "microsoft.synapse/workspaces"
_ERROR_MAP = {401: ClientAuthenticationError, 404: ResourceNotFoundError}
_clients = ClientCache()


_WORKSPACE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,48}[a-z0-9]$", re.IGNORECASE)
_PLACEHOLDER = "synapse-workspace-placeholder"


def workspace_endpoint(settings: Settings, workspace: str) -> str:
    """The workspace's dev endpoint. The name comes from an ARM id that an alert may carry, so it is
    validated (a Synapse workspace name: letters, digits, hyphens) and the endpoint's host must be the one
    the template yields -- else ValueError: the token must never go to a host an alert chose."""
    if not isinstance(workspace, str) or not _WORKSPACE_NAME.fullmatch(workspace):
        raise ValueError(f"not a valid Synapse workspace name: {workspace!r}")
    template = optional_setting(settings, "SYNAPSE_ENDPOINT", DEFAULT_ENDPOINT)
    endpoint = template.replace("{workspace}", workspace).rstrip("/")
    template_host = urlsplit(template.replace("{workspace}", _PLACEHOLDER)).hostname
    expected = template_host.replace(_PLACEHOLDER, workspace.lower()) if template_host else None
    if not expected or urlsplit(endpoint).hostname != expected:
        raise ValueError(f"the Synapse endpoint for workspace {workspace!r} does not have the host SYNAPSE_ENDPOINT "
                         f"yields ({expected or 'no host'})")
    return endpoint


def _pipeline_client(endpoint: str, settings: Settings, credential: TokenCredential | None) -> PipelineClient[Any, Any]:
    options = CallOptions.from_settings(settings)

    def build() -> PipelineClient[Any, Any]:
        cred = azure_credential(endpoint, credential)
        auth: Any = (LoopbackBearerPolicy(cred, SCOPE) if is_loopback_http(endpoint)
                     else BearerTokenCredentialPolicy(cred, SCOPE))
        policies: list[Any] = [HeadersPolicy(), UserAgentPolicy(sdk_moniker="pipeline-incidents-synapse"),
                               ContentDecodePolicy(), BoundedRetryPolicy(options), auth, NetworkTraceLoggingPolicy()]
        transport = RequestsTransport(connection_timeout=min(10.0, options.timeout_s), read_timeout=options.timeout_s)
        return PipelineClient(base_url=endpoint, policies=policies, transport=transport)

    return _clients.get((endpoint, options, id(credential) if credential else None), build)


class SynapseWorkspace:
    """One workspace's pipeline runs (implements shared.platforms.runs.PipelineRunsApi)."""

    platform = "synapse"

    def __init__(self, workspace_id: str, settings: Settings, *, credential: TokenCredential | None = None) -> None:
        ref = parse_arm_id(workspace_id)
        if ref is None or ref.type != WORKSPACE_TYPE:
            raise ValueError(f"not a Synapse workspace resource id: {workspace_id!r}")
        self.resource_id = ref.resource_id
        self.name = ref.name
        self.endpoint = workspace_endpoint(settings, ref.name)
        self.client = _pipeline_client(self.endpoint, settings, credential)
        self.calls: Counter[str] = Counter()

    def _call(self, method: str, path: str, body: Any = None, params: dict[str, str] | None = None,
              retry_methods: frozenset[str] = READ_RETRY_METHODS, **options: Any) -> dict[str, Any]:
        request = HttpRequest(method, f"{self.endpoint}{path}", params={"api-version": API_VERSION, **(params or {})},
                              json=body)
        response = self.client.send_request(request, retry_on_methods=retry_methods, **options)
        if response.status_code >= 400:
            map_error(response.status_code, response, _ERROR_MAP)
            raise HttpResponseError(response=response)
        data = response.json() if response.content else {}
        return data if isinstance(data, dict) else {"value": data}

    def query_pipeline_runs(self, body: dict[str, Any]) -> dict[str, Any]:
        self.calls["queryPipelineRuns"] += 1
        return self._call("POST", "/queryPipelineRuns", body)

    def query_activity_runs(self, pipeline: str | None, run_id: str, body: dict[str, Any]) -> dict[str, Any]:
        self.calls["queryActivityRuns"] += 1
        if not pipeline:
            pipeline = str(self.get_pipeline_run(run_id).get("pipelineName") or "")
        return self._call("POST", f"/pipelines/{quote(pipeline, safe='')}/pipelineruns/{quote(run_id, safe='')}"
                          "/queryActivityruns", body)

    def get_pipeline_run(self, run_id: str) -> dict[str, Any]:
        self.calls["getPipelineRun"] += 1
        return self._call("GET", f"/pipelineruns/{quote(run_id, safe='')}")

    def create_run(self, pipeline: str, parameters: dict[str, Any] | None = None, *,
                   reference_pipeline_run_id: str | None = None, is_recovery: bool | None = None,
                   start_activity_name: str | None = None, start_from_failure: bool | None = None) -> str:
        """Start (or, with reference_pipeline_run_id + is_recovery, rerun) a pipeline. Synapse has no
        start-from-failure flag: pass the failed activity as start_activity_name instead."""
        self.calls["createRun"] += 1
        params: dict[str, str] = {}
        if reference_pipeline_run_id:
            params["referencePipelineRunId"] = reference_pipeline_run_id
        if is_recovery is not None:
            params["isRecovery"] = "true" if is_recovery else "false"
        if start_activity_name:
            params["startActivityName"] = start_activity_name
        data = self._call("POST", f"/pipelines/{quote(pipeline, safe='')}/createRun", parameters or {}, params,
                          retry_methods=NON_IDEMPOTENT_RETRY, retry_total=0)  # never resent: see adf.py
        return str(data.get("runId") or "")

    def run_link(self, run_id: str) -> str:
        return (f"https://web.azuresynapse.net/en/monitoring/pipelineruns/{quote(run_id, safe='')}"
                f"?workspace={quote(self.resource_id, safe='')}")
