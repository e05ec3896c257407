"""LLM root-cause analysis end to end: real openai client -> local stub on 127.0.0.1, cache on Azurite."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from analysis.stages import AnalyzeStage
from orchestration.processing import process_envelope
from orchestration.runtime import Services
from shared.config import Settings
from shared.models import Envelope, Failure, Incident
from shared.timeutil import utc_now_iso
from tools.simulators.openai_server import OpenAIStub

pytestmark = pytest.mark.integration

THROTTLED = "There are substantial concurrent MappingDataflow executions that are causing failures due to throttling."


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    server = OpenAIStub().start()
    yield server
    server.stop()


def llm_services(app_values: dict[str, str], stub: OpenAIStub, **extra: str) -> Services:
    values = {**app_values, "ANALYSIS_MODE": "llm", "OPENAI_BASE_URL": stub.base_url, "OPENAI_API_KEY": "test-key",
              "LLM_TIMEOUT_SECONDS": "5", "LLM_MAX_RETRIES": "2", **extra}
    services = Services.from_settings(Settings.from_mapping(values))
    services.ensure_ready()
    return services


def airflow_alert(message: str, dag: str = "load_sales", exception_type: str | None = None) -> Envelope:
    payload: dict[str, Any] = {"dag_id": dag, "task_id": "copy", "run_id": f"run-{uuid.uuid4().hex[:8]}",
                               "state": "failed", "exception": message}
    if exception_type:
        payload["exception_type"] = exception_type
    return Envelope(id=f"alert-{uuid.uuid4().hex}", source="airflow", received_at=utc_now_iso(), payload=payload)


def analysed(services: Services, envelope: Envelope) -> Incident:
    outcome = process_envelope(services, envelope)
    incident = services.incidents.get(outcome.incident_ids[0])
    assert incident is not None and incident.verdict is not None and incident.analysis is not None
    return incident


def test_valid_structured_answer_is_stored_with_provenance_and_usage(app_values: dict[str, str],
                                                                     stub: OpenAIStub) -> None:
    services = llm_services(app_values, stub)
    incident = analysed(services, airflow_alert("psycopg2.OperationalError: SSL SYSCALL error: EOF detected"))
    analysis = incident.analysis
    assert analysis is not None
    assert analysis["source"] == "llm" and analysis["fallback_reason"] is None
    assert analysis["summary"].startswith("Stub analysis")
    assert analysis["usage"]["total_tokens"] > 0
    assert analysis["decision"]["retryable"] is True  # rule: transient network; LLM agreed
    assert len(stub.requests) == 1
    body = stub.requests[0]["body"]
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["strict"] is True
    assert body["model"] == "gpt-4o-mini"
    prompt = stub.prompts()[0]
    assert "rule_verdict" in prompt and "signature_history" in prompt and "load_sales" in prompt


def test_500_then_success(app_values: dict[str, str], stub: OpenAIStub) -> None:
    services = llm_services(app_values, stub)
    stub.script = ["error:500"]
    incident = analysed(services, airflow_alert("Task exited with return code Negsignal.SIGKILL"))
    assert incident.analysis is not None and incident.analysis["source"] == "llm"
    assert len(stub.requests) == 2


@pytest.mark.parametrize(("script", "extra", "reason"), [
    (["slow:3"], {"LLM_TIMEOUT_SECONDS": "1", "LLM_MAX_RETRIES": "0"}, "timeout"),
    (["malformed"], {}, "invalid_answer"),
    (["refusal"], {}, "refusal"),
    (["error:429"], {"LLM_MAX_RETRIES": "0"}, "rate_limited"),
    (["error:503", "error:503", "error:503"], {}, "http_503"),
])
def test_llm_failure_leaves_the_rule_verdict_and_says_why(app_values: dict[str, str], stub: OpenAIStub,
                                                          script: list[str], extra: dict[str, str],
                                                          reason: str) -> None:
    services = llm_services(app_values, stub, **extra)
    stub.script = list(script)
    incident = analysed(services, airflow_alert("Login failed for user 'etl'."))
    analysis, verdict = incident.analysis, incident.verdict
    assert analysis is not None and verdict is not None
    assert analysis["source"] == "rules"
    assert analysis["fallback_reason"].startswith(reason)
    assert analysis["decision"]["category"] == verdict["category"] == "auth_permission"
    assert analysis["decision"]["retryable"] is False
    assert "Probable cause" in analysis["rca_text"]
    assert any("LLM not used" in entry.reason for entry in services.audit.trail(incident.id))


def test_a_failed_llm_call_is_not_repeated_for_the_same_signature_during_backoff(app_values: dict[str, str],
                                                                                 stub: OpenAIStub) -> None:
    services = llm_services(app_values, stub, LLM_MAX_RETRIES="0")
    stub.script = ["refusal"]
    analysed(services, airflow_alert("Login failed for user 'etl'.", dag="a"))
    second = analysed(services, airflow_alert("Login failed for user 'etl'.", dag="b"))
    assert len(stub.requests) == 1
    assert second.analysis is not None and second.analysis["fallback_reason"].startswith("llm_recently_failed")


def test_azure_openai_flavour(app_values: dict[str, str], stub: OpenAIStub) -> None:
    services = llm_services(app_values, stub, AZURE_OPENAI_ENDPOINT=stub.url, OPENAI_MODEL="rca-deployment",
                            AZURE_OPENAI_API_VERSION="2024-10-21", OPENAI_BASE_URL="")
    incident = analysed(services, airflow_alert("httpx.ReadTimeout: The read operation timed out"))
    assert incident.analysis is not None and incident.analysis["source"] == "llm"
    request = stub.requests[0]
    assert request["path"] == "/openai/deployments/rca-deployment/chat/completions"
    assert request["query"]["api-version"] == ["2024-10-21"]
    assert request["headers"].get("api-key") == "test-key"


def test_guardrail_applies_to_llm_advice(app_values: dict[str, str], stub: OpenAIStub) -> None:
    services = llm_services(app_values, stub)
    stub.answer = {"summary": "Looks transient.", "probable_root_causes": [], "category": "service_unavailable",
                   "retryable": True, "confidence": 99, "recommended_actions": ["retry"], "links": []}
    incident = analysed(services, airflow_alert("Login failed for user 'etl'."))
    assert incident.analysis is not None
    assert incident.analysis["source"] == "llm"
    assert incident.analysis["decision"]["retryable"] is False  # rule-level non-retryable stands
    assert incident.analysis["llm"]["retryable"] is True


def test_alert_storm_costs_one_call_per_distinct_signature(app_values: dict[str, str], stub: OpenAIStub) -> None:
    services = llm_services(app_values, stub)
    stage = AnalyzeStage(services.settings, services.storage)
    messages = [f"{THROTTLED} Variant {chr(65 + i)} of pipeline family {chr(75 + i)}." for i in range(10)]
    now = utc_now_iso()

    def one(n: int) -> dict[str, Any]:
        message = messages[n % 10]
        failure = Failure(source="azure-monitor", platform="adf", resource="factory", pipeline=f"p{n}",
                          run_id=f"run-{n}", activity="df", error_code="4502", message=message)
        incident = Incident(id=f"inc-{n}", source="azure-monitor", platform="adf", resource="factory",
                            pipeline=f"p{n}", run_id=f"run-{n}", status="open", occurrences=1, first_seen=now,
                            last_seen=now, activity="df", error_code="4502", error_message=message)
        result = stage.run(incident, failure)
        return dict(result.fields["analysis"])

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(one, range(1000)))
    assert len(stub.requests) <= 10
    assert len({r["signature"]["hash"] for r in results}) == 10
    assert {r["source"] for r in results} <= {"llm", "cache"}
    assert sum(r["source"] == "llm" for r in results) == len(stub.requests)
