"""The agent's tool model: a typed tool (JSON schema, read-only / mutating flag), the context tools run in, and
the toolbox that validates arguments, runs a tool and turns any outcome into bounded, redacted text.

Tools never raise to the caller: a platform refusing us (401 / 403), throttling us (429), timing out, a resource
outside the allow-list or bad arguments all come back as `{"error", "detail"}` in words the model can relay.
Every result is redacted (shared.redaction) and capped before it leaves the toolbox, whoever asked (the agent
loop, the MCP server, the terminal).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

from shared.config import Settings
from shared.incidents import IncidentStore
from shared.models import Incident
from shared.platforms.airflow import AirflowApiError
from shared.redaction import redact, redact_text
from shared.scope import out_of_scope_reason
from shared.transitions import Lifecycle

DEFAULT_RESULT_CHARS = 12_000
TRUNCATION_NOTE = "\n[truncated by the agent: {shown} of {total} characters shown; narrow the query]"

# Creates the plan a person approves through POST /api/incidents/{id}/approve; never starts a run.
Proposer = Callable[[Incident, str, str], dict[str, Any]]


class ToolProblem(Exception):
    """A failure a tool reports in words: `kind` is machine-readable (auth, forbidden, throttled, timeout,
    not_found, out_of_scope, invalid_arguments, unavailable, conflict)."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


@dataclass
class ToolContext:
    """What tools may use. Platform adapters are built per call from the settings (their clients are cached)."""

    settings: Settings
    incidents: IncidentStore | None = None
    lifecycle: Lifecycle | None = None
    proposer: Proposer | None = None
    actor: str = "agent"
    # Remediation outcome figures per error signature / pipeline (the remediation table's learning rows).
    remediation_stats: Callable[[], list[dict[str, Any]]] | None = None

    def require_in_scope(self, resource_id: str) -> None:
        reason = out_of_scope_reason(self.settings, resource_id)
        if reason is not None:
            raise ToolProblem("out_of_scope", reason)

    def store(self) -> IncidentStore:
        if self.incidents is None:
            raise ToolProblem("unavailable", "incident storage is not configured for this agent")
        return self.incidents


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]  # JSON schema of the arguments (type object)
    handler: Callable[[ToolContext, dict[str, Any]], Any]
    read_only: bool = True
    destructive: bool = False  # MCP hint: may change something a person would want to undo
    idempotent: bool = True
    # A state change only the person may ask for: the agent loop runs it only when the person's own question
    # names the incident id and a word starting with one of these (text in tool results cannot ask for it).
    asked_by_words: tuple[str, ...] = ()

    def openai_spec(self) -> dict[str, Any]:
        return {"type": "function", "function": {"name": self.name, "description": self.description,
                                                 "parameters": self.parameters}}


def schema(properties: dict[str, dict[str, Any]], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(required), "additionalProperties": False}


_TYPES: dict[str, tuple[type, ...]] = {"string": (str,), "integer": (int,), "number": (int, float),
                                       "boolean": (bool,), "object": (dict,), "array": (list,)}


def validate_arguments(spec: dict[str, Any], arguments: Any) -> dict[str, Any]:
    """Arguments checked against the tool's schema (types, enums, bounds, required, no extras)."""
    if not isinstance(arguments, dict):
        raise ToolProblem("invalid_arguments", "arguments must be a JSON object")
    props: dict[str, dict[str, Any]] = spec.get("properties", {})
    unknown = sorted(set(arguments) - set(props))
    if unknown:
        raise ToolProblem("invalid_arguments", f"unknown argument(s): {', '.join(unknown)}")
    missing = [name for name in spec.get("required", []) if arguments.get(name) in (None, "")]
    if missing:
        raise ToolProblem("invalid_arguments", f"missing argument(s): {', '.join(missing)}")
    clean: dict[str, Any] = {}
    for name, value in arguments.items():
        if value is None:
            continue
        prop = props[name]
        kinds = _TYPES.get(str(prop.get("type")), (object,))
        if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
            raise ToolProblem("invalid_arguments", f"{name} must be of type {prop.get('type')}")
        if "enum" in prop and value not in prop["enum"]:
            raise ToolProblem("invalid_arguments", f"{name} must be one of {', '.join(map(str, prop['enum']))}")
        if isinstance(value, int | float) and not isinstance(value, bool):
            low, high = prop.get("minimum"), prop.get("maximum")
            if (low is not None and value < low) or (high is not None and value > high):
                raise ToolProblem("invalid_arguments", f"{name} must be between {low} and {high}")
        if isinstance(value, str) and len(value) > int(prop.get("maxLength", 2000)):
            raise ToolProblem("invalid_arguments", f"{name} is too long")
        clean[name] = value
    return clean


def problem_of(exc: BaseException, what: str) -> ToolProblem:
    """A platform exception in words; statuses the person must act on say what to do."""
    if isinstance(exc, ToolProblem):
        return exc
    status = getattr(exc, "status_code", None) if isinstance(exc, HttpResponseError) else None
    if isinstance(exc, AirflowApiError):
        status = exc.status
    if status is None:
        status = getattr(exc, "status", None) if isinstance(getattr(exc, "status", None), int) else None
    if status == 401:
        return ToolProblem("auth", f"{what} answered 401: the app's credentials were not accepted; check its "
                                   "identity / token settings, then ask again")
    if status == 403:
        return ToolProblem("forbidden", f"{what} answered 403: the app's identity lacks permission (grant it a "
                                        "reader role on the resource)")
    if status == 429:
        return ToolProblem("throttled", f"{what} answered 429: the platform is throttling requests; wait a "
                                        "minute and ask again")
    if status == 404:
        return ToolProblem("not_found", f"{what} answered 404: not found")
    if isinstance(exc, ServiceResponseError | ServiceRequestError | TimeoutError):
        return ToolProblem("timeout", f"{what} did not answer in time or could not be reached")
    if isinstance(status, int):
        return ToolProblem("unavailable", f"{what} answered HTTP {status}")
    text = str(exc).split(". Config: ")[0][:300]
    return ToolProblem("unavailable", f"{what} failed: {type(exc).__name__}: {text}")


@dataclass
class ToolOutcome:
    name: str
    arguments: dict[str, Any]
    text: str  # what goes back to the model: redacted and capped
    ok: bool
    problem: str | None = None  # ToolProblem.kind when not ok
    truncated: bool = False


@dataclass
class Toolbox:
    context: ToolContext
    tools: dict[str, Tool] = field(default_factory=dict)
    max_result_chars: int = DEFAULT_RESULT_CHARS

    def add(self, *tools: Tool) -> Toolbox:
        for tool in tools:
            self.tools[tool.name] = tool
        return self

    def specs(self) -> list[dict[str, Any]]:
        return [t.openai_spec() for t in self.tools.values()]

    def describe(self) -> list[dict[str, Any]]:
        return [{"name": t.name, "read_only": t.read_only, "description": t.description}
                for t in self.tools.values()]

    def call(self, name: str, arguments: Any) -> ToolOutcome:
        tool = self.tools.get(name)
        args = arguments if isinstance(arguments, dict) else {}
        if tool is None:
            return self._outcome(name, args, {"error": "unknown_tool", "detail": f"there is no tool {name!r}"},
                                 "unknown_tool")
        try:
            clean = validate_arguments(tool.parameters, arguments)
            result = tool.handler(self.context, clean)
        except Exception as exc:  # every failure becomes words for the model, never a traceback
            problem = problem_of(exc, name)
            return self._outcome(name, args, {"error": problem.kind, "detail": problem.detail}, problem.kind)
        return self._outcome(name, clean, result, None)

    def refuse(self, name: str, arguments: Any, kind: str, detail: str) -> ToolOutcome:
        """An outcome for a call the caller decided not to run."""
        args = arguments if isinstance(arguments, dict) else {}
        return self._outcome(name, args, {"error": kind, "detail": detail}, kind)

    def _outcome(self, name: str, args: dict[str, Any], result: Any, problem: str | None) -> ToolOutcome:
        text = json.dumps(redact(result), default=str, ensure_ascii=False)
        total = len(text)
        # Cut well past the limit before the text pass (a secret cut at that edge is cut off again below).
        text = redact_text(text[: self.max_result_chars * 2])
        truncated = total > self.max_result_chars
        if truncated:
            text = text[: self.max_result_chars] + TRUNCATION_NOTE.format(shown=self.max_result_chars, total=total)
        return ToolOutcome(name, redact(args), text, problem is None, problem, truncated=truncated)
