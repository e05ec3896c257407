"""The agent's tools as an MCP server, for VS Code / GitHub Copilot, Claude Desktop or any MCP client.

    python -m tools.mcp_server                                  # stdio (the client starts it)
    python -m tools.mcp_server --transport streamable-http --port 8765   # http://127.0.0.1:8765/mcp

Settings as the app reads them (environment, then local.settings.json). Without storage settings the incident
tools answer "not configured" and the platform / classification tools still work. Logs go to stderr (stdout
is the protocol on stdio).
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import sys

from agent.mcp_bridge import build_server
from agent.tooling import ToolContext
from agent.toolset import build_toolbox
from orchestration.agent_api import tool_context
from orchestration.runtime import Services
from shared.config import Settings, load_settings


def context(settings: Settings, actor: str) -> ToolContext:
    try:
        svc = Services.from_settings(settings)
        svc.ensure_ready()
    except Exception as exc:  # storage missing or down: the platform tools still work
        logging.getLogger(__name__).warning("incident storage unavailable (%s); incident tools are off",
                                            type(exc).__name__)
        return ToolContext(settings, actor=actor)
    return tool_context(svc, actor)


def loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="MCP server over the pipeline operations tools")
    parser.add_argument("--transport", choices=["stdio", "streamable-http"], default="stdio")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--by", default="mcp", help="who acts, recorded on acknowledge / resolve / proposals")
    parser.add_argument("--allow-remote", action="store_true",
                        help="bind a non-loopback --host (the server has no authentication of its own)")
    args = parser.parse_args(argv)
    if args.transport == "streamable-http" and not loopback(args.host) and not args.allow_remote:
        parser.error(f"--host {args.host} is not loopback and the server has no authentication (its tools "
                     "can resolve incidents); put it behind one and pass --allow-remote")
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    settings = load_settings()
    toolbox = build_toolbox(context(settings, args.by), settings.int_setting("AGENT_MAX_TOOL_RESULT_CHARS"))
    server = build_server(toolbox)
    if args.transport == "stdio":
        server.run("stdio")
    else:
        server.run("streamable-http", host=args.host, port=args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
