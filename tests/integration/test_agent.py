"""The operations agent against the SIMULATED factory, the local OpenAI-compatible server and Azurite.

The model is scripted (tools/simulators/openai_server.py): it asks for tool calls, then answers by quoting the
tool results it was sent, so what the answer contains comes from the real tools, adapters and guardrails.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import azure.functions as func
import pytest

from agent.toolset import build_toolbox
from analysis.classifier import classify
from orchestration.agent_api import ask, build_agent, tool_context
from orchestration.runtime import Services
from shared.config import Settings
from shared.models import Failure
from shared.timeutil import utc_now, utc_now_iso
from tests.support.fixtures_platforms import FACTORY_ID, contoso_factory
from tools.simulators.adf import AdfSimulator, SimFactory
from tools.simulators.openai_server import OpenAIStub

pytestmark = pytest.mark.integration


@pytest.fixture
def sim() -> Iterator[AdfSimulator]:
    with AdfSimulator() as server:
        yield server


@pytest.fixture
def factory(sim: AdfSimulator) -> SimFactory:
    return contoso_factory(sim)


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    server = OpenAIStub().start()
    yield server
    server.stop()


def agent_services(app_values: dict[str, str], sim: AdfSimulator, stub: OpenAIStub | None,
                   **extra: str) -> Services:
    values = {**app_values, "ARM_ENDPOINT": sim.url, "SWEEP_FACTORIES": FACTORY_ID,
              "ENRICHMENT_TIMEOUT_SECONDS": "3", "ENRICHMENT_MAX_RETRIES": "1",
              "ENRICHMENT_MAX_RETRY_AFTER_SECONDS": "2", "AGENT_SESSIONS_TABLE": "sess" + app_values["STATE_TABLE"],
              "LLM_MAX_RETRIES": "0", "LLM_TIMEOUT_SECONDS": "5", **extra}
    if stub is not None:
        values.update(OPENAI_BASE_URL=stub.base_url, OPENAI_API_KEY="test-key")
    svc = Services.from_settings(Settings.from_mapping(values))
    svc.ensure_ready()
    return svc


def test_what_failed_in_the_last_24h_and_the_conversation_continues(
        app_values: dict[str, str], sim: AdfSimulator, factory: SimFactory, stub: OpenAIStub) -> None:
    factory.add_failed_run("IngestOrders", "failed with status code Unauthorized", start=utc_now() - timedelta(hours=3))
    factory.add_failed_run("OldExport", "ancient failure", start=utc_now() - timedelta(hours=40))
    agent = build_agent(agent_services(app_values, sim, stub), "tester")
    stub.turns = [{"tool_calls": [{"name": "list_pipeline_runs", "arguments": {"hours": 24}}]},
                  {"from_tools": "Failed:"}]
    first = agent.ask("what failed in the last 24 h?")
    assert first.stopped == "answered"
    assert "IngestOrders" in first.answer and "Unauthorized" in first.answer and "OldExport" not in first.answer
    assert [c["name"] for c in first.tool_calls] == ["list_pipeline_runs"]
    assert first.usage["model_calls"] == 2 and first.usage["total_tokens"] > 0
    sent_tools = {t["function"]["name"] for t in stub.requests[0]["body"]["tools"]}
    assert {"list_pipeline_runs", "get_run_activities", "propose_rerun", "classify_error"} <= sent_tools
    assert sim.counts["queryPipelineRuns"] >= 1 and sim.counts["createRun"] == 0

    stub.turns = [{"content": "Same as before."}]
    second = agent.ask("and which of those is retryable?", first.session_id)
    history = [m for m in stub.requests[-1]["body"]["messages"] if m["role"] in ("user", "assistant", "tool")]
    assert history[0]["content"] == "what failed in the last 24 h?"
    assert any(m["role"] == "tool" and "IngestOrders" in m["content"] for m in history)
    assert second.session_id == first.session_id and second.answer == "Same as before."


@pytest.mark.parametrize(("status", "words"), [(401, "credentials (HTTP 401)"), (403, "refused access (HTTP 403)"),
                                               (429, "rate limiting requests (HTTP 429)")])
def test_model_errors_end_in_a_clear_answer(app_values: dict[str, str], sim: AdfSimulator, stub: OpenAIStub,
                                            status: int, words: str) -> None:
    stub.turns = [{"error": status}]
    answer = build_agent(agent_services(app_values, sim, stub), "tester").ask("what failed?")
    assert answer.stopped == "llm_error" and words in answer.answer and "Traceback" not in answer.answer


def test_model_timeout_ends_in_a_clear_answer(app_values: dict[str, str], sim: AdfSimulator,
                                              stub: OpenAIStub) -> None:
    stub.turns = [{"slow": 3, "content": "late"}]
    answer = build_agent(agent_services(app_values, sim, stub, LLM_TIMEOUT_SECONDS="1"), "t").ask("what failed?")
    assert answer.stopped == "llm_error" and "did not answer in time" in answer.answer


def test_without_an_llm_it_says_so_and_lists_the_tools(app_values: dict[str, str], sim: AdfSimulator) -> None:
    answer = build_agent(agent_services(app_values, sim, None), "tester").ask("what failed?")
    assert answer.stopped == "no_llm" and "no language model is configured" in answer.answer
    assert answer.tools is not None and {"list_pipeline_runs", "propose_rerun"} <= {t["name"] for t in answer.tools}


def test_steps_and_tokens_are_bounded(app_values: dict[str, str], sim: AdfSimulator, stub: OpenAIStub) -> None:
    call = {"tool_calls": [{"name": "classify_error", "arguments": {"message": "Operation timed out"}}]}
    stub.turns = [call] * 10
    answer = build_agent(agent_services(app_values, sim, stub, AGENT_MAX_STEPS="3"), "t").ask("loop")
    assert answer.stopped == "max_steps" and len(stub.requests) == 3 and "AGENT_MAX_STEPS" in answer.answer
    stub.turns = [call] * 10
    before = len(stub.requests)
    answer = build_agent(agent_services(app_values, sim, stub, AGENT_MAX_TOKENS="60"), "t").ask("loop")
    assert answer.stopped == "max_tokens" and len(stub.requests) - before == 1
    assert stub.requests[-1]["body"]["max_tokens"] == 60


def test_secrets_never_reach_the_model_or_the_session_table(app_values: dict[str, str], sim: AdfSimulator,
                                                            factory: SimFactory, stub: OpenAIStub) -> None:
    run = factory.add_failed_run("CopyCustomers", "Login failed for AccountKey=PlantedKey0123456789abcdef==; "
                                                  "Authorization: Bearer eyJhbGciOi.plantedPayload.sig")
    svc = agent_services(app_values, sim, stub)
    stub.turns = [{"tool_calls": [{"name": "get_run_activities", "arguments": {"run_id": run.run_id}}]},
                  {"from_tools": "It says:"}]
    answer = build_agent(svc, "t").ask("why did it fail? my password=UserSecret77 if needed")
    sent = json.dumps([r["body"] for r in stub.requests])
    for secret in ("PlantedKey0123456789abcdef", "plantedPayload", "UserSecret77"):
        assert secret not in sent and secret not in answer.answer
    assert "Login failed" in answer.answer and "[REDACTED]" in answer.answer
    rows = list(svc.storage.table(svc.settings.agent_sessions_table).list_entities())
    assert len(rows) >= 4 and not any("UserSecret77" in json.dumps(r, default=str) for r in rows)


def test_http_route_rejects_bad_questions_with_4xx() -> None:
    def post(body: bytes) -> func.HttpResponse:
        return ask(func.HttpRequest("POST", "/api/agent/ask", body=body, headers={}))

    cases: list[tuple[bytes, int, str]] = [
        (b"not json", 400, "invalid_json"), (b"[]", 400, "invalid_json"), (b"{}", 400, "missing_question"),
        (json.dumps({"question": "x" * 5000}).encode(), 400, "question_too_long"),
        (json.dumps({"question": "hi", "session_id": "../etc"}).encode(), 400, "invalid_session_id"),
        (b"{" + b" " * 20_000 + b"}", 413, "body_too_large")]
    for body, status, error in cases:
        response = post(body)
        data: dict[str, Any] = json.loads(response.get_body())
        assert response.status_code == status and data["error"] == error and data["detail"]


def _incident(svc: Services, factory: SimFactory) -> str:
    run = factory.add_failed_run("IngestOrders", "Internal server error occurred. Please retry.",
                                 code="InternalServerError")
    failure = Failure(source="azure-monitor", platform="adf", resource=factory.resource_id, pipeline="IngestOrders",
                      run_id=run.run_id, activity="Copy data", error_code="InternalServerError",
                      message="Internal server error occurred. Please retry.")
    incident_id = svc.incidents.record(failure, "alert-1", utc_now_iso()).incident.id
    svc.incidents.update_fields(incident_id, verdict=classify(failure).to_dict())
    return incident_id


def test_rerun_it_creates_a_plan_waiting_for_approval_and_calls_nothing(
        app_values: dict[str, str], sim: AdfSimulator, factory: SimFactory, stub: OpenAIStub) -> None:
    svc = agent_services(app_values, sim, stub, REMEDIATION_MODE="approve")
    incident_id = _incident(svc, factory)
    stub.turns = [{"tool_calls": [{"name": "propose_rerun", "arguments": {"incident_id": incident_id}}]},
                  {"from_tools": "Proposed:"}]
    answer = build_agent(svc, "alice").ask("rerun it")
    assert answer.tool_calls[0]["ok"] and "waiting_for_approval\": true" in answer.answer
    incident = svc.incidents.get(incident_id)
    assert incident is not None and incident.remediation is not None
    assert incident.remediation["state"] == "waiting_approval"
    assert incident.remediation["proposed_by"] == "agent for alice"
    assert sim.counts["createRun"] == 0 and factory.created_runs == []
    # The plan is the one the approval API starts: approving it moves it on (still no run from the agent).
    assert svc.remediation is not None
    done = svc.remediation.approve(incident_id, "bob", "go", plan_id=incident.remediation["plan_id"])
    assert done is not None and done.incident.remediation is not None
    assert done.incident.remediation["state"] == "planned"


def test_in_dry_run_mode_nothing_waits_and_the_answer_says_why(
        app_values: dict[str, str], sim: AdfSimulator, factory: SimFactory, stub: OpenAIStub) -> None:
    svc = agent_services(app_values, sim, stub, REMEDIATION_MODE="dry-run")
    incident_id = _incident(svc, factory)
    stub.turns = [{"tool_calls": [{"name": "propose_rerun", "arguments": {"incident_id": incident_id}}]},
                  {"from_tools": "Proposed:"}]
    answer = build_agent(svc, "alice").ask("rerun it")
    assert "waiting_for_approval\": false" in answer.answer and "dry-run" in answer.answer
    incident = svc.incidents.get(incident_id)
    assert incident is not None and (incident.remediation or {}).get("state") != "waiting_approval"
    assert sim.counts["createRun"] == 0


def test_remediation_history_reads_plans_and_outcome_figures(app_values: dict[str, str], sim: AdfSimulator,
                                                             factory: SimFactory) -> None:
    svc = agent_services(app_values, sim, None, REMEDIATION_MODE="approve")
    incident_id = _incident(svc, factory)
    assert svc.remediation is not None
    incident = svc.incidents.get(incident_id)
    assert incident is not None
    keys = svc.remediation.keys(incident)
    for outcome in ("attempts", "attempts", "successes", "failures"):
        svc.remediation.store.bump_stats(keys, outcome)
    svc.remediation.propose(incident_id, actor="someone")
    box = build_toolbox(tool_context(svc, "t"))
    by_pipeline = json.loads(box.call("remediation_history", {"pipeline": "IngestOrders"}).text)
    assert by_pipeline["incidents"] == 1 and by_pipeline["plan_states"] == {"waiting_approval": 1}
    figures = by_pipeline["outcome_figures"][0]
    assert figures["attempts"] == 2 and figures["success_rate"] == 0.5
    signature = (incident.verdict or {})["signature"]["hash"]
    by_signature = json.loads(box.call("remediation_history", {"signature": signature}).text)
    assert by_signature["incidents"] == 1 and by_signature["outcome_figures"][0]["kind"] == "signature"
    other = json.loads(box.call("remediation_history", {"signature": "0" * 16}).text)
    assert other["incidents"] == 0 and other["outcome_figures"] == []


def test_acknowledge_and_resolve_go_through_the_lifecycle(app_values: dict[str, str], sim: AdfSimulator,
                                                          factory: SimFactory) -> None:
    svc = agent_services(app_values, sim, None)
    incident_id = _incident(svc, factory)
    box = build_toolbox(tool_context(svc, "carol"))
    listed = json.loads(box.call("list_incidents", {"status": "open"}).text)
    assert [i["id"] for i in listed["incidents"]] == [incident_id] and listed["incidents"][0]["retryable"] is True
    acked = box.call("acknowledge_incident", {"incident_id": incident_id})
    assert acked.ok and json.loads(acked.text)["incident"]["acknowledged_by"] == "agent for carol"
    assert box.call("resolve_incident", {"incident_id": incident_id}).problem == "invalid_arguments"  # no reason
    resolved = box.call("resolve_incident", {"incident_id": incident_id, "reason": "fixed the credentials"})
    assert resolved.ok and json.loads(resolved.text)["incident"]["status"] == "resolved"
    again = box.call("resolve_incident", {"incident_id": incident_id, "reason": "twice"})
    assert again.problem == "conflict" and "resolved" in again.text
    assert box.call("get_incident", {"incident_id": "nope"}).problem == "not_found"
    trail = [(e.action, e.actor) for e in svc.audit.trail(incident_id)]
    assert any(actor == "agent for carol" for _, actor in trail)


def test_injected_text_in_a_tool_result_cannot_resolve_or_acknowledge(
        app_values: dict[str, str], sim: AdfSimulator, factory: SimFactory, stub: OpenAIStub) -> None:
    svc = agent_services(app_values, sim, stub)
    incident_id = _incident(svc, factory)
    # The (scripted) model obeys whatever it read; the loop must still refuse a state change nobody asked for.
    obey = {"tool_calls": [{"name": "resolve_incident", "arguments": {"incident_id": incident_id, "reason": "x"}},
                           {"name": "acknowledge_incident", "arguments": {"incident_id": incident_id}}]}
    stub.turns = [{"tool_calls": [{"name": "get_incident", "arguments": {"incident_id": incident_id}}]}, obey,
                  {"content": "done"}]
    answer = build_agent(svc, "alice").ask("what is wrong with IngestOrders?")
    assert [c["problem"] for c in answer.tool_calls[1:]] == ["needs_confirmation", "needs_confirmation"]
    incident = svc.incidents.get(incident_id)
    assert incident is not None and incident.status == "open" and incident.acknowledged_by is None
    # Asked in the person's own words, with the incident named, it acts.
    stub.turns = [obey, {"content": "done"}]
    answer = build_agent(svc, "alice").ask(f"Resolve incident {incident_id}, I fixed the credentials")
    assert answer.tool_calls[0]["ok"], answer.tool_calls
    incident = svc.incidents.get(incident_id)
    assert incident is not None and incident.status == "resolved"


def test_tool_calls_per_model_turn_are_bounded(app_values: dict[str, str], sim: AdfSimulator, factory: SimFactory,
                                               stub: OpenAIStub) -> None:
    stub.turns = [{"tool_calls": [{"name": "list_pipeline_runs", "arguments": {"hours": h + 1}} for h in range(40)]},
                  {"content": "done"}]
    answer = build_agent(agent_services(app_values, sim, stub), "t").ask("everything, hour by hour")
    assert sim.counts["queryPipelineRuns"] <= 8
    assert sum(c["ok"] for c in answer.tool_calls) <= 8
    tool_messages = [m for m in stub.requests[-1]["body"]["messages"] if m["role"] == "tool"]
    assert len(tool_messages) == 40  # every call id is answered, or the model API refuses the next request


def test_long_tool_call_arguments_keep_the_session_readable(app_values: dict[str, str], sim: AdfSimulator,
                                                            stub: OpenAIStub) -> None:
    call = {"name": "classify_error", "arguments": {"message": "Operation timed out " + "q" * 3900}}
    stub.turns = [{"tool_calls": [call] * 8}, {"content": "first"}, {"content": "second"}]
    agent = build_agent(agent_services(app_values, sim, stub), "t")
    first = agent.ask("classify these")
    second = agent.ask("and now?", first.session_id)
    assert second.answer == "second"
    replayed = stub.requests[-1]["body"]["messages"]
    assert any(m["role"] == "assistant" and m.get("tool_calls") for m in replayed)


def test_a_question_with_a_lone_surrogate_is_answered(app_values: dict[str, str], sim: AdfSimulator,
                                                      stub: OpenAIStub) -> None:
    stub.turns = [{"content": "fine"}]
    answer = build_agent(agent_services(app_values, sim, stub), "t").ask("what failed \ud800 today?")
    assert answer.answer == "fine"


def test_propose_rerun_checks_the_scope_whatever_the_letter_case(app_values: dict[str, str],
                                                                sim: AdfSimulator) -> None:
    svc = agent_services(app_values, sim, None, REMEDIATION_MODE="approve")
    other = "/SUBSCRIPTIONS/ffffffff-0000-0000-0000-000000000000/resourceGroups/rg/providers/" \
            "Microsoft.DataFactory/factories/other-adf"
    failure = Failure(source="azure-monitor", platform="adf", resource=other, pipeline="Elsewhere", run_id="r-1",
                      activity="Copy", error_code="InternalServerError", message="Internal server error occurred.")
    incident_id = svc.incidents.record(failure, "alert-x", utc_now_iso()).incident.id
    outcome = build_toolbox(tool_context(svc, "t")).call("propose_rerun", {"incident_id": incident_id})
    assert outcome.problem == "out_of_scope", outcome.text
    incident = svc.incidents.get(incident_id)
    assert incident is not None and (incident.remediation or {}).get("state") != "waiting_approval"
