"""The terminal (python -m tools.ask) keeps one conversation; the MCP server runs over stdio as a client starts it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from tests.support.fixtures_platforms import FACTORY_ID, contoso_factory
from tools import mcp_server
from tools.simulators.adf import AdfSimulator
from tools.simulators.openai_server import OpenAIStub

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def test_terminal_keeps_one_conversation(app_values: dict[str, str], tmp_path: Path) -> None:
    stub = OpenAIStub().start()
    try:
        stub.turns = [{"content": "first answer"}, {"content": "second answer"}]
        env = {**os.environ, **app_values, "OPENAI_BASE_URL": stub.base_url, "OPENAI_API_KEY": "k",
               "LLM_MAX_RETRIES": "0", "AGENT_SESSIONS_TABLE": "sess" + app_values["STATE_TABLE"]}
        done = subprocess.run([sys.executable, "-m", "tools.ask", "--by", "bob"], input="what failed?\nand why?\n\n",
                              capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "first answer" in done.stdout and "second answer" in done.stdout and "tokens:" in done.stdout
        second = [m["content"] for m in stub.requests[1]["body"]["messages"]]
        assert "what failed?" in second and "first answer" in second and second[-1] == "and why?"
    finally:
        stub.stop()


def test_mcp_server_over_stdio(app_values: dict[str, str], tmp_path: Path) -> None:
    with AdfSimulator() as sim:
        contoso_factory(sim).add_failed_run("IngestOrders", "status code Unauthorized")
        env = {**os.environ, **app_values, "ARM_ENDPOINT": sim.url, "SWEEP_FACTORIES": FACTORY_ID,
               "PYTHONPATH": str(REPO), "ENRICHMENT_MAX_RETRIES": "0"}
        params = StdioServerParameters(command=sys.executable, args=["-m", "tools.mcp_server"], env=env,
                                       cwd=str(REPO))

        async def session() -> str:
            async with Client(params) as client:
                names = {t.name for t in (await client.list_tools()).tools}
                assert {"list_pipeline_runs", "propose_rerun", "list_incidents"} <= names
                result = await client.call_tool("list_pipeline_runs", {"hours": 24})
                assert not result.is_error
                return str(result.content[0].text)  # type: ignore[union-attr]

        text = asyncio.run(asyncio.wait_for(session(), 90))
    assert "IngestOrders" in text and "Unauthorized" in text


def test_mcp_server_refuses_a_public_host_without_allow_remote(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        mcp_server.main(["--transport", "streamable-http", "--host", "0.0.0.0"])
    assert stopped.value.code == 2 and "--allow-remote" in capsys.readouterr().err
