"""The MCP server (mcp 2.x MCPServer) in process: the same tools, correct hints, a real tool call."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
from mcp import Client

from agent.mcp_bridge import build_server
from agent.tooling import ToolContext
from agent.toolset import ALL_TOOLS, build_toolbox
from tests.support.fixtures_platforms import FACTORY_ID, contoso_factory, sim_settings
from tools.simulators.adf import AdfSimulator

pytestmark = pytest.mark.integration


@pytest.fixture
def sim() -> Iterator[AdfSimulator]:
    with AdfSimulator() as server:
        yield server


def test_mcp_lists_the_tools_with_hints_and_answers_a_call(sim: AdfSimulator) -> None:
    contoso_factory(sim).add_failed_run("IngestOrders", "AccountKey=McpSecret0123456789==; status code Unauthorized")
    settings = sim_settings(ARM_ENDPOINT=sim.url, SWEEP_FACTORIES=FACTORY_ID, ALLOWED_RESOURCES=FACTORY_ID)
    server = build_server(build_toolbox(ToolContext(settings)))

    async def session() -> None:
        async with Client(server) as client:
            listed = {t.name: t for t in (await client.list_tools()).tools}
            assert set(listed) == {t.name for t in ALL_TOOLS}
            for tool in ALL_TOOLS:
                hints = listed[tool.name].annotations
                assert hints is not None and hints.read_only_hint is tool.read_only
                assert hints.destructive_hint is tool.destructive
            assert listed["resolve_incident"].annotations.destructive_hint is True  # type: ignore[union-attr]
            assert listed["propose_rerun"].annotations.read_only_hint is False  # type: ignore[union-attr]
            schema = listed["list_pipeline_runs"].input_schema["properties"]
            assert schema["hours"]["anyOf"][0]["maximum"] == 1080

            result = await client.call_tool("list_pipeline_runs", {"hours": 24})
            assert not result.is_error
            body = json.loads(result.content[0].text)  # type: ignore[union-attr]
            assert [r["pipeline"] for r in body["runs"]] == ["IngestOrders"]
            assert "McpSecret" not in result.content[0].text  # type: ignore[union-attr]

            refused = await client.call_tool("list_pipeline_runs", {"resource": FACTORY_ID.replace("contoso", "x")})
            assert refused.is_error and "outside ALLOWED_RESOURCES" in refused.content[0].text  # type: ignore
            bad = await client.call_tool("list_pipeline_runs", {"hours": 5000})
            assert bad.is_error

    asyncio.run(asyncio.wait_for(session(), 60))
    assert sim.counts["queryPipelineRuns"] == 1 and sim.counts["createRun"] == 0
