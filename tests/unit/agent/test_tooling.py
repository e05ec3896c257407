"""The toolbox's guarantees, with no I/O: argument validation, failures in words, redaction and the size cap."""

from __future__ import annotations

import json
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ServiceResponseError

from agent.evaluation import Case, Observed, Question, fill, load_cases, score
from agent.tooling import Tool, Toolbox, ToolContext, ToolProblem, problem_of, schema, validate_arguments
from agent.toolset import ALL_TOOLS
from shared.config import Settings
from shared.platforms.airflow import AirflowApiError

SPEC = schema({"hours": {"type": "integer", "minimum": 1, "maximum": 48},
               "status": {"type": "string", "enum": ["Failed", "any"]},
               "flag": {"type": "boolean"}, "name": {"type": "string", "maxLength": 5}}, ("name",))


def _box(result: Any, limit: int = 2000) -> Toolbox:
    def handler(ctx: ToolContext, args: dict[str, Any]) -> Any:
        if isinstance(result, Exception):
            raise result
        return result

    return Toolbox(ToolContext(Settings.from_mapping({})), max_result_chars=limit).add(
        Tool("t", "test tool", schema({"x": {"type": "string"}}), handler))


@pytest.mark.parametrize(("args", "why"), [
    ({"name": "a", "hours": 0}, "between"), ({"name": "a", "hours": "3"}, "type integer"),
    ({"name": "a", "hours": True}, "type integer"), ({"name": "a", "status": "Weird"}, "one of"),
    ({"name": "toolong"}, "too long"), ({}, "missing"), ({"name": "a", "extra": 1}, "unknown"),
    ("not a dict", "JSON object"),
])
def test_bad_arguments_are_refused_in_words(args: Any, why: str) -> None:
    with pytest.raises(ToolProblem) as err:
        validate_arguments(SPEC, args)
    assert err.value.kind == "invalid_arguments" and why in err.value.detail


def test_good_arguments_pass_and_nulls_are_dropped() -> None:
    assert validate_arguments(SPEC, {"name": "a", "hours": 48, "status": None, "flag": False}) == \
        {"name": "a", "hours": 48, "flag": False}


@pytest.mark.parametrize(("exc", "kind", "words"), [
    (HttpResponseError(message="x", response=None), "unavailable", "failed"),
    (AirflowApiError(401, "no"), "auth", "401"), (AirflowApiError(403, "no"), "forbidden", "reader role"),
    (AirflowApiError(429, "slow down"), "throttled", "429"),
    (ServiceResponseError("read timeout"), "timeout", "in time"),
])
def test_platform_failures_become_words(exc: BaseException, kind: str, words: str) -> None:
    problem = problem_of(exc, "adf f1")
    assert problem.kind == kind and words in problem.detail and "Traceback" not in problem.detail


def test_a_raising_tool_returns_an_error_object_not_an_exception() -> None:
    outcome = _box(AirflowApiError(429, "slow")).call("t", {})
    assert not outcome.ok and outcome.problem == "throttled"
    assert json.loads(outcome.text)["error"] == "throttled"


def test_unknown_tool_and_bad_json_arguments() -> None:
    assert _box({}).call("nope", {}).problem == "unknown_tool"
    assert _box({}).call("t", "[1,2]").problem == "invalid_arguments"


def test_results_are_redacted_and_capped_with_a_note() -> None:
    secret = "AccountKey=abcdefSECRET0123456789=="
    outcome = _box({"error": secret + " " + "x" * 5000}, limit=200).call("t", {})
    assert "SECRET0123456789" not in outcome.text and "[REDACTED]" in outcome.text
    assert outcome.truncated and len(outcome.text) < 200 + 120 and "truncated by the agent" in outcome.text
    small = _box({"ok": 1}, limit=200).call("t", {})
    assert not small.truncated and json.loads(small.text) == {"ok": 1}


def test_a_two_megabyte_result_is_cut_to_the_limit() -> None:
    outcome = _box({"log": "y" * 2_000_000}, limit=12_000).call("t", {})
    assert outcome.truncated and len(outcome.text) < 12_200 and "of 2000011 characters" in outcome.text


def test_every_tool_has_a_schema_and_only_mutating_tools_are_flagged() -> None:
    mutating = {t.name for t in ALL_TOOLS if not t.read_only}
    assert mutating == {"acknowledge_incident", "resolve_incident", "propose_rerun"}
    for tool in ALL_TOOLS:
        assert tool.parameters["type"] == "object" and tool.parameters["additionalProperties"] is False
        assert set(tool.parameters["required"]) <= set(tool.parameters["properties"])
        assert tool.openai_spec()["function"]["name"] == tool.name


def test_eval_cases_load_and_scoring_fails_on_a_missing_fact_or_a_forbidden_tool() -> None:
    assert len(load_cases()) >= 8
    case = Case("c", "", [Question("q")], {}, {"contains": ["IngestOrders"], "tools_not_called": ["propose_rerun"],
                                               "create_runs": 0, "never_sent": ["s3cret"]})
    good = Observed(["IngestOrders failed"], [{"name": "list_pipeline_runs", "arguments": {}}], "answered", 0, "", {})
    assert score(case, good, scripted=True).passed
    bad = Observed(["nothing"], [{"name": "propose_rerun", "arguments": {}}], "answered", 1, "s3cret", {})
    result = score(case, bad, scripted=True)
    assert len(result.failures) == 4 and result.rate == 0.0
    assert fill({"a": ["{run:X}", "{factory}"]}, {"run:X": "r1", "factory": "f"}) == {"a": ["r1", "f"]}


def test_history_replays_tool_results_shortened_and_drops_whole_old_questions() -> None:
    from agent.loop import HISTORY_CHARS, trim_history

    def turn(i: int, size: int) -> list[dict[str, Any]]:
        return [{"role": "user", "content": f"q{i}"},
                {"role": "assistant", "content": None, "tool_calls": [{"id": f"c{i}"}]},
                {"role": "tool", "tool_call_id": f"c{i}", "content": "r" * size},
                {"role": "assistant", "content": f"a{i}"}]

    short = trim_history(turn(1, 10_000))
    assert len(short) == 4 and short[2]["content"].endswith("[shortened]") and len(short[2]["content"]) < 2100
    many = trim_history([m for i in range(60) for m in turn(i, 5000)])
    assert len(json.dumps(many)) <= HISTORY_CHARS and many[0] == {"role": "user", "content": many[0]["content"]}
    assert many[-1]["content"] == "a59"
