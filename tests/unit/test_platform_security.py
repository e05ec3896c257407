"""Credentials only go where they belong: no host taken from an alert, no bearer token or API key over
plain HTTP to a non-loopback host, no Authorization header carried along a redirect.

The "remote" servers here are local HTTP servers on 127.0.0.2 / 127.0.0.3: loopback addresses the
code does not treat as loopback (only 127.0.0.1, localhost and ::1 are), so they stand in for any
host on the network, and they record whatever Authorization / api-key header reaches them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from azure.core.credentials import AccessToken

from analysis.llm import LlmAnalyzer
from extractors.azure_monitor import AzureMonitorExtractor
from shared.config import Settings
from shared.platforms.airflow import AirflowApi, AirflowApiError
from shared.platforms.common import require_secure_endpoint
from shared.platforms.databricks import DatabricksWorkspace
from shared.platforms.synapse import SynapseWorkspace, workspace_endpoint
from tests.support.fixtures_platforms import SUB, envelope, essentials, metric_context, sim_settings


class Recorder:
    """A local HTTP server that records (host, path, Authorization, api-key) of every request."""

    def __init__(self, host: str, answer: Any = None) -> None:
        self.seen: list[tuple[str, str, str | None, str | None]] = []
        self.answer = answer or (lambda handler: (200, {}, {}))
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                recorder.seen.append((host, self.path, self.headers.get("Authorization"),
                                      self.headers.get("api-key")))
                status, headers, body = recorder.answer(self)
                data = json.dumps(body).encode()
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://{host}:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def credentials_seen(self) -> list[str]:
        return [c for _, _, auth, key in self.seen for c in (auth, key) if c]


@pytest.fixture
def remote() -> Iterator[Recorder]:
    server = Recorder("127.0.0.2", lambda h: (200, {}, {"job_id": 1, "run_id": 5, "tasks": []}))
    yield server
    server.stop()


class FixedCredential:
    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("REAL-ENTRA-TOKEN", 9_999_999_999)


# --- Synapse: the workspace name from an ARM id never chooses the host ------------------------------
@pytest.mark.parametrize("name", ["attacker.example.net#", "attacker.example.net/", "evil.com?x=", "a@b", "a:1",
                                  "x" * 51, "-leading", "trailing-", "a", "with space", "under_score"])
def test_synapse_rejects_workspace_names_that_are_not_names(name: str) -> None:
    with pytest.raises(ValueError):
        workspace_endpoint(Settings.from_mapping({}), name)
    arm_id = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Synapse/workspaces/{name}"
    with pytest.raises(ValueError):
        SynapseWorkspace(arm_id, Settings.from_mapping({}), credential=FixedCredential())


def test_synapse_endpoint_host_is_the_templates_host() -> None:
    default = Settings.from_mapping({})
    assert workspace_endpoint(default, "Contoso-Syn01") == "https://Contoso-Syn01.dev.azuresynapse.net"
    sim = Settings.from_mapping({"SYNAPSE_ENDPOINT": "http://127.0.0.1:8080/synapse/{workspace}/"})
    assert workspace_endpoint(sim, "contoso-syn") == "http://127.0.0.1:8080/synapse/contoso-syn"


def test_a_log_alert_naming_a_hostile_synapse_workspace_sends_no_token(remote: Recorder) -> None:
    hostile = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Synapse/workspaces/127.0.0.2:" \
              f"{remote.url.rsplit(':', 1)[1]}#"
    body = envelope(metric_context("IntegrationPipelineRunsEnded", {"Pipeline": "P", "Result": "Failed"},
                                   namespace="Microsoft.Synapse/workspaces"),
                    essentials(alertTargetIDs=[hostile]))
    x = AzureMonitorExtractor()
    result = x.enrich(x.parse(body), sim_settings(SYNAPSE_ENDPOINT="https://{workspace}.dev.azuresynapse.net"))
    assert remote.seen == []
    assert len(result.failures) == 1
    assert any("not a valid Synapse workspace name" in e for e in result.enrichment_errors)


# --- One guard: https, or plain HTTP to a loopback simulator ---------------------------------------
@pytest.mark.parametrize("url", ["https://adb-1.azuredatabricks.net", "http://127.0.0.1:8080", "http://localhost:1",
                                 "http://[::1]:9/x"])
def test_secure_or_loopback_endpoints_are_accepted(url: str) -> None:
    assert require_secure_endpoint(url, "X") == url


@pytest.mark.parametrize("url", ["http://adb-1.azuredatabricks.net", "http://127.0.0.2:80", "ftp://host",
                                 "adb-1.azuredatabricks.net", "https://", "http://localhost.evil.com"])
def test_plain_http_to_other_hosts_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="https://"):
        require_secure_endpoint(url, "X_URL")


def test_databricks_pat_is_not_sent_over_plain_http(remote: Recorder) -> None:
    settings = Settings.from_mapping({"DATABRICKS_HOST": remote.url, "ENRICHMENT_MAX_RETRIES": "0",
                                      "DATABRICKS_TOKEN": "dapi0123456789abcdef0123456789abcdef"})
    with pytest.raises(ValueError, match="DATABRICKS_HOST"):
        DatabricksWorkspace(settings).get_run(5)
    assert remote.credentials_seen == []


def test_databricks_entra_token_is_not_sent_over_plain_http(remote: Recorder) -> None:
    settings = Settings.from_mapping({"DATABRICKS_HOST": remote.url, "ENRICHMENT_MAX_RETRIES": "0"})
    with pytest.raises(ValueError, match="DATABRICKS_HOST"):
        DatabricksWorkspace(settings, credential=FixedCredential()).get_run(5)
    assert remote.credentials_seen == []


def test_airflow_token_is_not_sent_over_plain_http(remote: Recorder) -> None:
    settings = Settings.from_mapping({"AIRFLOW_URL": remote.url, "AIRFLOW_TOKEN": "airflow-secret-jwt",
                                      "ENRICHMENT_MAX_RETRIES": "0"})
    with pytest.raises(ValueError, match="AIRFLOW_URL"):
        AirflowApi(settings, api_version="v2").get_task_instance("d", "r", "t")
    assert remote.credentials_seen == []


def test_airflow_does_not_carry_the_token_along_a_redirect() -> None:
    elsewhere = Recorder("127.0.0.3")
    origin = Recorder("127.0.0.1", lambda h: (302, {"Location": f"{elsewhere.url}/landed"}, {}))
    try:
        api = AirflowApi(Settings.from_mapping({"AIRFLOW_URL": origin.url, "AIRFLOW_TOKEN": "secret-jwt",
                                                "ENRICHMENT_MAX_RETRIES": "1"}), api_version="v2")
        with pytest.raises(AirflowApiError) as caught:
            api.get_task_instance("d", "r", "t")
        assert caught.value.status == 302 and "not followed" in str(caught.value)
        assert elsewhere.seen == []  # neither the token nor the request reached the redirect target
        assert len(origin.seen) == 1
    finally:
        origin.stop()
        elsewhere.stop()


@pytest.mark.parametrize("values", [
    {"OPENAI_BASE_URL": "{url}/v1", "OPENAI_API_KEY": "sk-REALKEY0123456789abcdefgh"},
    {"AZURE_OPENAI_ENDPOINT": "{url}", "OPENAI_API_KEY": "azure-key-123", "AZURE_OPENAI_API_VERSION": "2024-10-21"},
], ids=["openai", "azure-openai"])
def test_llm_key_is_not_sent_over_plain_http(remote: Recorder, values: dict[str, str]) -> None:
    settings = Settings.from_mapping({**{k: v.replace("{url}", remote.url) for k, v in values.items()},
                                      "OPENAI_MODEL": "m", "LLM_MAX_RETRIES": "0"})
    outcome = LlmAnalyzer.from_settings(settings).analyze({"failure": {}})
    assert outcome.answer is None and str(outcome.fallback_reason).startswith("config:")
    assert "https://" in str(outcome.fallback_reason)
    assert remote.seen == []
