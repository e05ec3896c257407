"""POST /api/agent/ask: a question to the operations agent, in a conversation kept per session.

Body `{"question": "...", "session_id": "..." (optional, returned on the first answer), "by": "who asks"}`; the
asker is App Service authentication's principal when present. Answers `{"session_id", "answer", "stopped",
"tool_calls", "usage", "model"}`; without an LLM configured the answer says so and lists the tools (200).
"""

from __future__ import annotations

import json
from typing import Any

import azure.functions as func

from agent.loop import QUESTION_CHARS, Agent
from agent.sessions import SessionStore, valid_session_id
from agent.tooling import Proposer, ToolContext
from agent.toolset import build_toolbox
from orchestration.actions import PRINCIPAL_HEADER, error
from orchestration.api import json_response, read_storage
from orchestration.runtime import Services
from shared.lifecycle import PlanState
from shared.models import Incident

MAX_BODY = 16_384


def proposer(svc: Services) -> Proposer | None:
    """The remediation service's propose: the same plan, through the policy, that POST
    /api/incidents/{id}/approve starts. It never acts; in dry-run / off mode the plan only says why."""
    service = svc.remediation
    if service is None:
        return None

    def propose(incident: Incident, actor: str, reason: str) -> dict[str, Any]:
        proposal = service.propose(incident.id, actor=actor, reason=reason)
        current = svc.incidents.get(incident.id) or incident
        remediation = current.remediation or {}
        waiting = remediation.get("state") == PlanState.WAITING_APPROVAL.value
        return {"waiting_for_approval": waiting, "state": remediation.get("state"),
                "plan_id": remediation.get("plan_id") if waiting else None, "plan": proposal.plan.to_dict(),
                "already_pending": proposal.transitioned is None and waiting,
                "mode": svc.settings.get("REMEDIATION_MODE")}

    return propose


def tool_context(svc: Services, actor: str) -> ToolContext:
    stats = svc.remediation.store.all_stats if svc.remediation is not None else None
    return ToolContext(svc.settings, svc.incidents, svc.lifecycle, proposer(svc), actor, remediation_stats=stats)


def build_agent(svc: Services, actor: str) -> Agent:
    settings = svc.settings
    context = tool_context(svc, actor)
    toolbox = build_toolbox(context, settings.int_setting("AGENT_MAX_TOOL_RESULT_CHARS"))
    sessions = SessionStore(svc.storage.table(settings.agent_sessions_table))
    return Agent.from_settings(settings, toolbox, sessions)


def parse_question(req: func.HttpRequest) -> tuple[str, str | None, str] | func.HttpResponse:
    raw = req.get_body() or b""
    if len(raw) > MAX_BODY:
        return error(413, "body_too_large", "the question body is limited to 16 KB")
    try:
        data: Any = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        return error(400, "invalid_json", "the body must be a JSON object")
    if not isinstance(data, dict):
        return error(400, "invalid_json", "the body must be a JSON object")
    question, session_id = data.get("question"), data.get("session_id")
    if not isinstance(question, str) or not question.strip():
        return error(400, "missing_question", "ask something: a non-empty \"question\" string")
    if len(question) > QUESTION_CHARS:
        return error(400, "question_too_long", f"a question is limited to {QUESTION_CHARS} characters")
    if session_id is not None and (not isinstance(session_id, str) or not valid_session_id(session_id)):
        return error(400, "invalid_session_id", "session_id is 1-64 letters, digits, '-' or '_'")
    actor = (req.headers.get(PRINCIPAL_HEADER) or "").strip() or data.get("by") or "api"
    return question, session_id, str(actor)[:200]


def ask(req: func.HttpRequest) -> func.HttpResponse:
    parsed = parse_question(req)
    if isinstance(parsed, func.HttpResponse):
        return parsed
    question, session_id, actor = parsed

    def answer(svc: Services) -> func.HttpResponse:
        return json_response(200, build_agent(svc, actor).ask(question, session_id).to_dict())

    return read_storage(answer)
