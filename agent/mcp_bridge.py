"""The agent's tools as an MCP server (the `mcp` package, 2.x `MCPServer`), with read-only / destructive hints.

Each tool keeps its own JSON schema: a function with a matching signature (types, enums, descriptions, bounds)
is generated per tool, so the MCP schema and argument validation follow the same definition the agent loop
sends to the model. Results are the toolbox's: redacted and capped; a failed tool is an MCP tool error.
"""

from __future__ import annotations

import inspect
from typing import Annotated, Any, Literal

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from agent.tooling import Tool, Toolbox

_PY_TYPES: dict[str, Any] = {"string": str, "integer": int, "number": float, "boolean": bool,
                             "object": dict[str, Any], "array": list[Any]}
INSTRUCTIONS = ("Operations tools for data pipelines (Data Factory, Synapse, Databricks) and their incidents. "
                "Read-only unless marked; propose_rerun only creates a plan that a person approves.")


def annotation(prop: dict[str, Any], required: bool) -> Any:
    base: Any = Literal[tuple(prop["enum"])] if "enum" in prop else _PY_TYPES.get(str(prop.get("type")), Any)
    constraints: dict[str, Any] = {"description": prop.get("description")}
    if "minimum" in prop:
        constraints["ge"] = prop["minimum"]
    if "maximum" in prop:
        constraints["le"] = prop["maximum"]
    if "maxLength" in prop:
        constraints["max_length"] = prop["maxLength"]
    typed = base if required else base | None
    return Annotated[typed, Field(**constraints)]


def mcp_function(tool: Tool, toolbox: Toolbox) -> Any:
    def run(**kwargs: Any) -> str:
        outcome = toolbox.call(tool.name, {k: v for k, v in kwargs.items() if v is not None})
        if not outcome.ok:
            raise ToolError(outcome.text)
        return outcome.text

    required = set(tool.parameters.get("required", []))
    params = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY,
                                default=inspect.Parameter.empty if name in required else None,
                                annotation=annotation(prop, name in required))
              for name, prop in tool.parameters.get("properties", {}).items()]
    params.sort(key=lambda p: p.default is not inspect.Parameter.empty)
    run.__signature__ = inspect.Signature(params, return_annotation=str)  # type: ignore[attr-defined]
    run.__name__ = tool.name
    run.__doc__ = tool.description
    return run


def build_server(toolbox: Toolbox, name: str = "pipeline-incidents") -> MCPServer:
    server = MCPServer(name, instructions=INSTRUCTIONS)
    for tool in toolbox.tools.values():
        hints = ToolAnnotations(read_only_hint=tool.read_only, destructive_hint=tool.destructive,
                                idempotent_hint=tool.idempotent, open_world_hint=tool.name.endswith("runs")
                                or tool.name == "get_run_activities")
        server.add_tool(mcp_function(tool, toolbox), name=tool.name, description=tool.description,
                        annotations=hints, structured_output=False)
    return server
