"""Ask the operations agent from a terminal, in one conversation (the session id is kept between questions).

    python -m tools.ask                          # interactive; empty line or Ctrl-D ends
    python -m tools.ask "what failed in the last 24 h?" [--session ID] [--json]
    python -m tools.ask --tools                  # the tools, read-only or mutating

Settings as the app reads them (environment, then local.settings.json): storage for incidents and sessions,
the platform endpoints, and the LLM settings of the root-cause analysis (OPENAI_* / AZURE_OPENAI_*).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys

from agent.loop import Answer
from orchestration.agent_api import build_agent
from orchestration.runtime import Services
from shared.config import load_settings


def show(answer: Answer, as_json: bool) -> None:
    if as_json:
        print(json.dumps(answer.to_dict(), indent=2, default=str))
        return
    print(answer.answer)
    calls = ", ".join(f"{c['name']}{'' if c['ok'] else ' (' + str(c['problem']) + ')'}" for c in answer.tool_calls)
    usage = answer.usage
    print(f"\n[{answer.stopped}; tools: {calls or 'none'}; tokens: {usage['total_tokens']} "
          f"({usage['prompt_tokens']} prompt + {usage['completion_tokens']} completion, "
          f"{usage['model_calls']} model calls); session {answer.session_id}]", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Ask the pipeline operations agent")
    parser.add_argument("question", nargs="*", help="a question (none: interactive)")
    parser.add_argument("--session", help="continue this conversation")
    parser.add_argument("--json", action="store_true", help="print the whole answer as JSON")
    parser.add_argument("--tools", action="store_true", help="list the tools and exit")
    parser.add_argument("--by", default=getpass.getuser(), help="who asks (recorded on actions)")
    args = parser.parse_args(argv)
    svc = Services.from_settings(load_settings())
    svc.ensure_ready()
    agent = build_agent(svc, args.by)
    if args.tools:
        for tool in agent.toolbox.describe():
            print(f"{tool['name']:<22} {'read-only' if tool['read_only'] else 'MUTATING '}  {tool['description']}")
        return 0
    session = args.session
    if args.question:
        answer = agent.ask(" ".join(args.question), session)
        show(answer, args.json)
        return 0 if answer.stopped in ("answered", "no_llm") else 1
    print("Ask about failed runs and incidents; an empty line ends.", flush=True)
    while True:
        try:
            question = input("> ").strip()
        except EOFError:
            break
        if not question:
            break
        answer = agent.ask(question, session)
        session = answer.session_id
        show(answer, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
