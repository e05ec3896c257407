"""Every rule is tested through its own examples; plus precedence, validation and targeted cases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analysis.catalog import CATEGORIES, CatalogError, Rule, default_catalog, load_catalog
from analysis.classifier import classify_fields, embedded_codes, retry_after_hint
from analysis.evaluation import evaluate

CORPUS = Path(__file__).resolve().parents[2] / "corpus" / "errors-train.jsonl"
CATALOG = default_catalog()
CASES = [(rule, example) for rule in CATALOG.rules for example in rule.examples]


def _platform(rule: Rule) -> str:
    return rule.example_platform or (rule.platforms[0] if rule.platforms else "adf")


@pytest.mark.parametrize(("rule", "example"), CASES, ids=[f"{r.id}#{i}" for i, (r, _) in enumerate(CASES)])
def test_every_rule_example_classifies_to_its_rule(rule: Rule, example: str) -> None:
    verdict = classify_fields(_platform(rule), example, rule.example_codes[0] if rule.example_codes else None,
                              rule.example_failure_type)
    assert verdict.matched_rule == rule.id
    assert verdict.category == rule.category
    assert verdict.retryable is rule.retryable
    assert (verdict.retry_delay_s is not None) is rule.retryable


def test_catalog_is_large_and_documented() -> None:
    assert len(CATALOG.rules) >= 150
    assert all(r.doc.startswith("https://") for r in CATALOG.rules)
    assert {r.category for r in CATALOG.rules} <= set(CATEGORIES)
    files = {r.file for r in CATALOG.rules}
    assert {"adf.toml", "databricks.toml", "airflow.toml", "synapse.toml", "functions.toml", "generic.toml"} <= files


def test_labels_match_the_corpus_label_set() -> None:
    labels = {json.loads(line)["category"] for line in CORPUS.read_text().splitlines() if line.strip()}
    assert labels <= set(CATEGORIES)


def test_precedence_code_and_message_beats_code_beats_message() -> None:
    base = ("Cannot connect to SQL Database: 'srv', Database: 'db', User: 'u'. Check the linked service "
            "configuration is correct, and make sure the SQL Database firewall allows the integration runtime "
            "to access.")
    assert classify_fields("adf", base, "SqlFailedToConnect").matched_rule == "adf.sql.connect-firewall"
    transient = classify_fields("adf", base + " SqlErrorNumber=40613", "SqlFailedToConnect")
    assert transient.matched_rule == "adf.sql.connect-transient-number" and transient.retryable
    assert transient.tier == "code+message"
    # the same text without a code: a message rule decides
    assert classify_fields("adf", "Client with IP address '1.2.3.4' is not allowed to access the server").category \
        == "auth_permission"


def test_generic_rules_only_when_nothing_else_matches() -> None:
    assert classify_fields("adf", "The copy timed out").matched_rule == "generic.timeout"
    assert classify_fields("adf", "Open connection to database timeout after '30' seconds.").retryable
    assert classify_fields("adf", "Internal error", "503").matched_rule == "generic.http-5xx"


def test_unknown_is_not_retryable_with_low_confidence() -> None:
    verdict = classify_fields("airflow", "Bash command failed. The command returned a non-zero exit code 1.")
    assert verdict.category == "unknown" and not verdict.retryable and verdict.confidence <= 20
    assert verdict.manual_intervention_required and verdict.matched_rule is None


@pytest.mark.parametrize(("platform", "message", "code", "category", "retryable"), [
    ("adf", "Login failed for user 'etl'.", None, "auth_permission", False),
    ("databricks", "AADSTS7000222: The provided client secret keys for app 'x' are expired.", None,
     "auth_permission", False),
    ("adf", "Failure happened on 'Sink' side. 'Type=System.Data.SqlClient.SqlException,Message=Violation of "
     "PRIMARY KEY constraint 'PK_T'. Cannot insert duplicate key in object 'dbo.T'.", "2200", "data_quality_schema",
     False),
    ("databricks", "Cloud Provider Launch Failure: Azure error code: ZonalAllocationFailed. Allocation failed.",
     "CLOUD_PROVIDER_LAUNCH_FAILURE", "resource_capacity", True),
    ("airflow", "botocore.exceptions.ClientError: An error occurred (ThrottlingException): Rate exceeded", None,
     "throttling", True),
    ("adf", "ErrorCode=UserErrorFileNotFound,Message=The source file 'sales_2024.csv' doesn't exist.", "2200",
     "missing_source_data", True),
    ("adf", "The specified container does not exist.", None, "configuration", False),
    ("synapse", "Your Spark job requested 40 vcores. However, the workspace has a 12 core limit.", "400",
     "quota_limit", False),
    ("functions", "System.OutOfMemoryException: Exception of type 'System.OutOfMemoryException' was thrown.", None,
     "resource_capacity", False),
    ("adf", "ORA-03113: end-of-file on communication channel", "2200", "transient_network", True),
])
def test_targeted_cases(platform: str, message: str, code: str | None, category: str, retryable: bool) -> None:
    verdict = classify_fields(platform, message, code)
    assert (verdict.category, verdict.retryable) == (category, retryable)


def test_embedded_codes_and_retry_after() -> None:
    text = ("ErrorCode=SqlOperationFailed,'Type=...,Message=x,SqlErrorNumber=1205,Class=13' "
            '{"error_code":"INVALID_STATE"} Azure error code: AllocationFailed')
    assert embedded_codes(text) == ["SqlOperationFailed", "1205", "INVALID_STATE", "AllocationFailed"]
    assert retry_after_hint("The service is currently busy. Retry the request after 10 seconds.") == 10
    assert retry_after_hint("please try again in 2 minutes") == 120
    assert classify_fields("adf", "The service is currently busy. Retry the request after 10 seconds.",
                           "40501").retry_delay_s == 10


def test_rules_only_eval_on_the_training_corpus_meets_the_bar() -> None:
    rows = [json.loads(line) for line in CORPUS.read_text().splitlines() if line.strip()]
    result = evaluate(rows)
    assert result.retry_precision >= 0.95
    assert result.retry_recall >= 0.85
    assert result.category_accuracy >= 0.85


@pytest.mark.parametrize(("body", "error"), [
    ('[[rule]]\nid="x"\ncategory="nope"\nretryable=false\nseverity="low"\nexplanation="e"\ndoc="d"\n'
     'examples=["m"]\npatterns=["a"]', "category"),
    ('[[rule]]\nid="x"\ncategory="timeout"\nretryable=true\nseverity="low"\nexplanation="e"\ndoc="d"\n'
     'examples=["m"]\npatterns=["a"]', "retry_delay_s"),
    ('[[rule]]\nid="x"\ncategory="timeout"\nretryable=false\nseverity="low"\nexplanation="e"\ndoc="d"\n'
     'examples=["m"]\npatterns=["("]', "bad regex"),
    ('[[rule]]\nid="x"\ncategory="timeout"\nretryable=false\nseverity="low"\nexplanation="e"\ndoc="d"\n'
     'examples=[]\npatterns=["a"]', "example"),
    ('[[rule]]\nid="x"\ncategory="timeout"\nretryable=false\nseverity="low"\nexplanation="e"\ndoc="d"\n'
     'examples=["m"]', "codes, failure_types or patterns"),
    ('[[rule]]\nid="x"\ncategory="timeout"\nretryable=false\nseverity="low"\nexplanation="e"\ndoc="d"\n'
     'examples=["m"]\npatterns=["a"]\ncolour="red"', "unknown keys"),
])
def test_malformed_rules_are_rejected(tmp_path: Path, body: str, error: str) -> None:
    (tmp_path / "x.toml").write_text(body)
    with pytest.raises(CatalogError, match=error):
        load_catalog(tmp_path)


def test_an_operator_can_add_a_rule_file(tmp_path: Path) -> None:
    (tmp_path / "custom.toml").write_text(
        '[[rule]]\nid="custom.vendor"\npatterns=["VENDOR-42"]\ncategory="dependency_upstream"\nretryable=true\n'
        'retry_delay_s=60\nseverity="low"\nexplanation="vendor hiccup"\ndoc="https://example.com"\n'
        'examples=["VENDOR-42 happened"]\n')
    catalog = load_catalog(tmp_path)
    verdict = classify_fields("adf", "VENDOR-42 happened", catalog=catalog)
    assert verdict.matched_rule == "custom.vendor" and verdict.retry_delay_s == 60
