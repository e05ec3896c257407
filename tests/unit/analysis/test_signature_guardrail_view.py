from __future__ import annotations

import pytest

from analysis.classifier import classify_fields
from analysis.guardrail import UNKNOWN_MAX_RETRIES, guard, rules_decision
from analysis.llm import InvalidAnswer, LlmAnswer, build_messages, parse_answer
from analysis.signature import normalize_message, signature
from analysis.view import rules_rca_text, seed_fields
from tests.unit.analysis.secrets_corpus import all_secret_values, text_with_all_secrets


def test_signature_ignores_what_varies_between_occurrences() -> None:
    a = ("Activity Copy1 failed at 2024-05-01T10:22:33.123Z: run 6f1c2d3e-1111-2222-3333-444455556666 "
         "could not read https://acct.blob.core.windows.net/raw/2024/05/01/f.csv after 3 attempts (10.1.2.3)")
    b = ("Activity Copy1 failed at 2024-06-17T08:00:01Z: run 0a0b0c0d-9999-8888-7777-666655554444 "
         "could not read https://acct.blob.core.windows.net/raw/2024/06/17/g.csv after 5 attempts (10.9.8.7)")
    assert signature("adf", "2200", a) == signature("adf", "2200", b)
    assert signature("adf", "2200", a).hash != signature("adf", "2201", a).hash
    assert len(signature("adf", None, a).hash) == 16


def test_signature_text_carries_no_secret() -> None:
    text = normalize_message(text_with_all_secrets())
    assert not [s for s in all_secret_values() if s in text]


def _answer(category: str, retryable: bool, confidence: int) -> LlmAnswer:
    return LlmAnswer(summary="s", probable_root_causes=[], category=category, retryable=retryable,
                     confidence=confidence, recommended_actions=[], links=[])


def test_guardrail_never_turns_a_rule_non_retryable_into_a_retry() -> None:
    verdict = classify_fields("adf", "Login failed for user 'etl'.")
    decision = guard(verdict, _answer("service_unavailable", True, 99), 80)
    assert not decision.retryable and decision.max_automatic_retries == 0
    assert decision.category == "auth_permission"


def test_guardrail_lets_the_llm_be_more_cautious() -> None:
    verdict = classify_fields("adf", "SQL transaction commits failed.", "SqlBatchWriteTransactionFailed")
    assert verdict.retryable
    decision = guard(verdict, _answer("configuration", False, 60), 80)
    assert not decision.retryable and decision.decided_by == "rules+llm-caution"


@pytest.mark.parametrize(("confidence", "retryable"), [(79, False), (80, True), (95, True)])
def test_guardrail_unknown_needs_confidence_and_allows_one_retry(confidence: int, retryable: bool) -> None:
    verdict = classify_fields("airflow", "Bash command failed with exit code 1.")
    assert verdict.category == "unknown"
    decision = guard(verdict, _answer("transient_network", True, confidence), 80)
    assert decision.retryable is retryable
    if retryable:
        assert decision.max_automatic_retries == UNKNOWN_MAX_RETRIES == 1
    assert guard(verdict, None, 80) == rules_decision(verdict)


def test_parse_answer_validates_the_schema() -> None:
    good = ('{"summary":"s","probable_root_causes":[{"cause":"c","evidence":"e","likelihood":150}],'
            '"category":"throttling","retryable":true,"confidence":70,"recommended_actions":["a"],"links":[]}')
    answer = parse_answer(good)
    assert answer.probable_root_causes[0]["likelihood"] == 100
    for bad in ["not json", "[]", good.replace('"throttling"', '"weather"'), good.replace("true", '"yes"'),
                good.replace('"summary":"s",', "")]:
        with pytest.raises(InvalidAnswer):
            parse_answer(bad)


def test_prompt_is_redacted() -> None:
    messages = build_messages({"failure": {"message": text_with_all_secrets(), "password": "x-y-z-1"}})
    joined = "\n".join(str(m.get("content")) for m in messages)
    assert not [s for s in all_secret_values() if s in joined]
    assert "x-y-z-1" not in joined


def test_seed_fields_from_verdict_and_analysis() -> None:
    verdict = classify_fields("adf", "There are substantial concurrent MappingDataflow executions", "4502").to_dict()
    fields = seed_fields(verdict, None)
    assert fields == {
        "error_type": "throttling", "severity": verdict["severity"], "should_retry": True,
        "retry_delay_minutes": 10, "confidence_score": 0.85, "analysis_summary": verdict["explanation"],
        "root_cause": verdict["explanation"], "recommended_actions": verdict["recommended_actions"],
        "manual_intervention_required": False,
    }
    analysis = {"decision": {"category": "throttling", "retryable": False, "retry_delay_s": None},
                "summary": "LLM summary", "probable_root_causes": [{"cause": "too many runs"}], "confidence": 60,
                "recommended_actions": ["stagger"]}
    fields = seed_fields(verdict, analysis)
    assert fields["should_retry"] is False and fields["manual_intervention_required"] is True
    assert fields["root_cause"] == "too many runs" and fields["confidence_score"] == 0.6
    assert fields["retry_delay_minutes"] is None


def test_rules_rca_text_is_readable() -> None:
    verdict = classify_fields("adf", "Login failed for user 'etl'.").to_dict()
    text = rules_rca_text(verdict, "adf load / copy (run r1)", "Login failed for user 'etl'.")
    assert "auth_permission" in text and "not considered safe" in text and "Recommended actions" in text
