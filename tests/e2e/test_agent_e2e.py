"""POST /api/agent/ask over HTTP through tools.devhost serving function_app, with the SIMULATED factory and the
local OpenAI-compatible server: the answer, its token use and the session come back; a rerun is only planned."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import http
from tests.support.azurite import DevHostProcess
from tests.support.fixtures_platforms import FACTORY_ID, contoso_factory
from tools.simulators.adf import AdfSimulator
from tools.simulators.openai_server import OpenAIStub

pytestmark = pytest.mark.e2e


def test_ask_over_http(app_values: dict[str, str], tmp_path: Path) -> None:
    with AdfSimulator() as sim:
        contoso_factory(sim).add_failed_run("IngestOrders", "failed with status code Unauthorized")
        stub = OpenAIStub().start()
        env = {**app_values, "ARM_ENDPOINT": sim.url, "SWEEP_FACTORIES": FACTORY_ID, "OPENAI_API_KEY": "k",
               "OPENAI_BASE_URL": stub.base_url, "LLM_MAX_RETRIES": "0", "ENRICHMENT_MAX_RETRIES": "0",
               "AGENT_SESSIONS_TABLE": "sess" + app_values["STATE_TABLE"]}
        host = DevHostProcess(env=env, log_path=tmp_path / "devhost.log").start()
        try:
            stub.turns = [{"tool_calls": [{"name": "list_pipeline_runs", "arguments": {"hours": 24}}]},
                          {"from_tools": "Failed:"}]
            status, _, body = http("POST", f"{host.url}/api/agent/ask",
                                   {"question": "what failed in the last 24 h?", "by": "alice"})
            assert status == 200, body
            assert body["stopped"] == "answered" and "IngestOrders" in body["answer"]
            assert "Unauthorized" in body["answer"] and body["usage"]["total_tokens"] > 0
            assert body["tool_calls"][0]["arguments"] == {"hours": 24} and body["session_id"]

            stub.turns = [{"content": "noted"}]
            status, _, again = http("POST", f"{host.url}/api/agent/ask",
                                    {"question": "thanks", "session_id": body["session_id"]})
            assert status == 200 and again["session_id"] == body["session_id"]
            assert any(m.get("content") == "what failed in the last 24 h?"
                       for m in stub.requests[-1]["body"]["messages"])
            status, _, bad = http("POST", f"{host.url}/api/agent/ask", {"question": ""})
            assert status == 400 and bad["error"] == "missing_question"
        finally:
            host.stop()
            stub.stop()
    assert sim.counts["createRun"] == 0
