"""Evaluation cases for the agent, in the HolmesGPT manner: data files (agent/evals/*.toml), each with the
questions of one conversation, the simulated platform state, the facts the answer must contain and the tools
that must / must not be called. Loading and scoring are pure; tools/eval_agent.py builds the state and runs them.

A case's `script` (per question) is what the local OpenAI-compatible server answers in CI: tool calls, then an
answer quoting the tool results, so the checks exercise the loop, the tool wiring and the guardrails. Against a
real model (`make eval-agent` with LLM settings) the scripts are ignored and the model decides.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CASES_DIR = Path(__file__).resolve().parent / "evals"
_PLACEHOLDER = re.compile(r"\{(incident|run|factory):?([^{}]*)\}")


@dataclass(frozen=True)
class Question:
    text: str
    script: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Case:
    name: str
    description: str
    questions: list[Question]
    state: dict[str, Any]
    expect: dict[str, Any]
    tags: tuple[str, ...] = ()


@dataclass
class Observed:
    """What one run of a case produced."""

    answers: list[str]
    tool_calls: list[dict[str, Any]]  # name, arguments, ok, problem, truncated, of every question
    stopped: str
    create_runs: int  # createRun calls the simulated factory received
    model_requests: str  # every request body sent to the model (scripted runs only), as one text
    usage: dict[str, int]
    plan_states: dict[str, str | None] = field(default_factory=dict)  # pipeline -> incident.remediation state
    incident_statuses: dict[str, str | None] = field(default_factory=dict)  # pipeline -> incident.status


@dataclass
class Score:
    case: str
    checks: dict[str, bool]
    failures: list[str]

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def rate(self) -> float:
        return sum(self.checks.values()) / len(self.checks) if self.checks else 1.0


def load_case(path: Path) -> Case:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    questions = [Question(str(q["question"]), list(q.get("script") or [])) for q in data.get("ask") or []]
    if not questions:
        raise ValueError(f"{path.name}: a case needs at least one [[ask]] question")
    return Case(name=path.stem, description=str(data.get("description", "")), questions=questions,
                state=dict(data.get("state") or {}), expect=dict(data.get("expect") or {}),
                tags=tuple(data.get("tags") or ()))


def load_cases(directory: Path = CASES_DIR, only: str | None = None) -> list[Case]:
    return [load_case(p) for p in sorted(directory.glob("*.toml")) if not only or only in p.stem]


def fill(value: Any, names: dict[str, str]) -> Any:
    """Placeholders such as {incident:IngestOrders}, {run:IngestOrders}, {factory} replaced in a script."""
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda m: names.get(f"{m.group(1)}:{m.group(2)}".rstrip(":"), m.group(0)), value)
    if isinstance(value, list):
        return [fill(v, names) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, names) for k, v in value.items()}
    return value


def _subset(expected: dict[str, Any], actual: dict[str, Any]) -> bool:
    return all(actual.get(k) == v for k, v in expected.items())


def score(case: Case, seen: Observed, *, scripted: bool) -> Score:
    expect = case.expect
    answer = seen.answers[-1].lower() if seen.answers else ""
    called = [c["name"] for c in seen.tool_calls]
    checks: dict[str, bool] = {}
    for fact in expect.get("contains", []):
        checks[f"answer contains {fact!r}"] = str(fact).lower() in answer
    for fact in expect.get("not_contains", []):
        checks[f"answer lacks {fact!r}"] = str(fact).lower() not in answer
    for name in expect.get("tools_called", []):
        checks[f"called {name}"] = name in called
    for name in expect.get("tools_not_called", []):
        checks[f"did not call {name}"] = name not in called
    for name, args in (expect.get("tool_arguments") or {}).items():
        checks[f"{name} called with {args}"] = any(c["name"] == name and _subset(args, c["arguments"])
                                                    for c in seen.tool_calls)
    for kind in expect.get("tool_problems", []):
        checks[f"a tool reported {kind}"] = any(c.get("problem") == kind for c in seen.tool_calls)
    if "truncated" in expect:
        checks["a tool result was capped"] = any(c.get("truncated") for c in seen.tool_calls) == expect["truncated"]
    if "create_runs" in expect:
        checks[f"{expect['create_runs']} createRun calls"] = seen.create_runs == int(expect["create_runs"])
    for pipeline, state in (expect.get("plan_states") or {}).items():
        checks[f"{pipeline} plan is {state}"] = seen.plan_states.get(pipeline) == state
    for pipeline, status in (expect.get("incident_statuses") or {}).items():
        checks[f"{pipeline} incident is {status}"] = seen.incident_statuses.get(pipeline) == status
    if "stopped" in expect:
        checks[f"stopped: {expect['stopped']}"] = seen.stopped == expect["stopped"]
    if scripted:  # only the local server records what the model was sent
        for secret in expect.get("never_sent", []):
            checks[f"{secret!r} never sent to the model"] = secret not in seen.model_requests
    return Score(case.name, checks, [name for name, ok in checks.items() if not ok])
