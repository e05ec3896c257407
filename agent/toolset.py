"""All the agent's tools in one toolbox (the agent loop, the MCP server and the terminal share it)."""

from __future__ import annotations

from agent import tools_analysis, tools_incidents, tools_remediation, tools_runs
from agent.tooling import DEFAULT_RESULT_CHARS, Tool, Toolbox, ToolContext

ALL_TOOLS: tuple[Tool, ...] = (*tools_incidents.TOOLS, *tools_runs.TOOLS, *tools_analysis.TOOLS,
                               *tools_remediation.TOOLS)


def build_toolbox(context: ToolContext, max_result_chars: int = DEFAULT_RESULT_CHARS) -> Toolbox:
    return Toolbox(context, max_result_chars=max_result_chars).add(*ALL_TOOLS)
