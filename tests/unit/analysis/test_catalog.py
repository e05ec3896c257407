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
    # a documented cause in the message beats the code-only fallback, in both directions
    firewall = classify_fields("adf", base + " Client with IP address '20.1.2.3' is not allowed to access the server.",
                               "SqlFailedToConnect")
    assert firewall.matched_rule == "adf.sql.connect-denied" and not firewall.retryable
    network = classify_fields("adf", base + " A transport-level error has occurred when receiving results from the "
                              "server.", "SqlFailedToConnect")
    assert network.matched_rule == "adf.sql.connect-network" and network.retryable


def test_code_and_message_rule_outranks_a_generic_message_rule() -> None:
    reset = "Unable to read data from the transport connection: An existing connection was forcibly closed by the " \
        "remote host."
    # without a code the text is a dropped connection ...
    assert classify_fields("adf", reset).matched_rule == "network.connection-reset"
    # ... but for ADLS Gen2 the connector guide documents it as the storage firewall blocking the IR
    verdict = classify_fields("adf", "ADLS Gen2 operation failed for: " + reset, "ADLSGen2OperationFailed")
    assert verdict.matched_rule == "adf.adls.forcibly-closed-firewall"
    assert (verdict.category, verdict.retryable, verdict.tier) == ("auth_permission", False, "code+message")


def test_one_code_with_several_documented_meanings_is_split_by_message() -> None:
    queued = classify_fields("adf", "We cannot accept your job at this moment. The maximum number of queued jobs for "
                             "your account is 50.", "2709")
    policy = classify_fields("adf", "This job was rejected because it requires 8 AUs. This account's "
                             "administrator-defined policy prevents a job from using more than 2 AUs.", "2709")
    tenant = classify_fields("adf", "The access token is from the wrong tenant.", "2709")
    assert (queued.category, queued.retryable) == ("throttling", True)
    assert (policy.category, policy.retryable) == ("quota_limit", False)
    assert (tenant.category, tenant.retryable) == ("auth_permission", False)


def test_launch_failure_is_retried_only_for_documented_transient_azure_codes() -> None:
    def launch(azure: str) -> tuple[str, bool]:
        v = classify_fields("databricks", f"Cloud Provider Launch Failure: Azure error code: {azure}",
                            "CLOUD_PROVIDER_LAUNCH_FAILURE")
        return v.category, v.retryable
    assert launch("AllocationFailed. Allocation failed.") == ("resource_capacity", True)
    assert launch("PublicIPCountLimitReached. Cannot create more than 20 public IP addresses.") == \
        ("quota_limit", False)
    assert launch("RequestDisallowedByPolicy. Resource was disallowed by policy.") == ("configuration", False)
    plain = classify_fields("databricks", "Cloud Provider Launch Failure: A cloud provider error was encountered.",
                            "CLOUD_PROVIDER_LAUNCH_FAILURE")
    assert plain.category == "resource_capacity" and not plain.retryable


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
    # Synapse dedicated pool: documented to self-resolve vs. needing a pause/resume
    ("synapse", "110806;A distributed query failed: Operation not allowed.", None, "resource_capacity", True),
    ("synapse", "Failed to execute query. Error: MSDTC on server 'dwnode' is unavailable", None,
     "service_unavailable", False),
    ("synapse", "Column 'Fare' of type 'INT' is not compatible with external data type 'Parquet physical type: "
     "DOUBLE', please try with 'FLOAT'.", None, "data_quality_schema", False),
    ("synapse", "Livy job failed: An operation with ADLS Gen2 has failed for abfss://raw@lake01.dfs.core.windows.net/x.",
     "Spark_System_ABFS_OperationFailed", "auth_permission",
     False),
    # PolyBase reject threshold is data, not a quota
    ("adf", "Query aborted-- the maximum reject threshold (5 rows) was reached while reading from an external source: "
     "6 rows rejected out of total 900 rows processed.", "FailedDbOperation", "data_quality_schema", False),
    # a missing .NET assembly on the SHIR is configuration, not late data
    ("adf", "Could not load file or assembly 'Newtonsoft.Json, Version=13.0.0.0' or one of its dependencies. The "
     "system cannot find the file specified.", None, "configuration", False),
    ("adf", "Failed to connect to SFTP server 'sftp.contoso.com'. Server response does not contain SSH protocol "
     "identification.", "SftpFailedToConnectToSftpServer", "throttling", True),
    ("adf", "Failed to read data from ftp: The remote server returned an error: 227 Entering Passive Mode "
     "(10,0,0,4,100,12).", "FtpFailedToReadFtpData", "auth_permission", False),
    ("adf", "IP 52.1.2.3 is not allowed to access Snowflake. Contact your local security administrator.",
     "NotAllowToAccessSnowflake", "auth_permission", False),
    ("adf", "The batch ID for Spark job is invalid. Please retry your job after some time.", "206",
     "service_unavailable", True),
    ("adf", "The input authorization token can't serve the request.", "DF-Cosmos-InvalidAccountKey",
     "auth_permission", False),
    # Databricks
    ("databricks", "Skipping this run because the limit of 3 maximum concurrent runs has been reached.", None,
     "throttling", True),
    ("databricks", "CREATE failed with error 0x83090c25 (Files and folders are being created at too high a rate).",
     None, "throttling", True),
    ("databricks", "SparkException: Job aborted due to stage failure: Total size of serialized results of 512 tasks "
     "(2.0 GB) is bigger than spark.driver.maxResultSize (2.0 GB)", None, "resource_capacity", False),
    ("databricks", "Unexpected user error while preparing the cluster for the job. Cause: INVALID_PARAMETER_VALUE: "
     "The node type is not supported.", None, "configuration", False),
    ("databricks", "java.lang.UnsupportedOperationException: this file system doesn't support append.", None,
     "configuration", False),
    ("databricks", "Cluster terminated. Reason: Driver Unreachable", None, "transient_network", True),
    # Airflow
    ("airflow", "Marking task instance <TaskInstance: etl.load manual__2025 [queued]> stuck in queued as failed.",
     None, "resource_capacity", True),
    ("airflow", "paramiko.ssh_exception.SSHException: Error reading SSH protocol banner", None, "transient_network",
     True),
    ("airflow", "Oops! 3 failures. 1 warnings. 0 errors. 12 pass.", None, "data_quality_schema", False),
    # Functions
    ("functions", "Microsoft.Azure.WebJobs.Script.Workers.WorkerProcessExitException : python exited with code 137",
     None, "resource_capacity", False),
    ("functions", "Cannot import name 'cygrpc' from 'grpc._cython'", None, "configuration", False),
    # precision guards: words that look transient or missing but are not
    ("airflow", "snowflake.connector.errors.ProgrammingError: SQL compilation error: Object 'RAW.ORDERS' does not "
     "exist or not authorized.", None, "configuration", False),
    ("adf", "Column ordinal: 503, Expected data type: INT", None, "unknown", False),
])
def test_targeted_cases(platform: str, message: str, code: str | None, category: str, retryable: bool) -> None:
    verdict = classify_fields(platform, message, code)
    assert (verdict.category, verdict.retryable) == (category, retryable)


def test_embedded_codes_in_wrappers() -> None:
    assert embedded_codes("Unexpected user error while preparing the cluster for the job. Cause: "
                          "INVALID_PARAMETER_VALUE: x") == ["INVALID_PARAMETER_VALUE"]
    assert embedded_codes("failed: [DELTA_CONCURRENT_APPEND] Files were added") == ["DELTA_CONCURRENT_APPEND"]
    assert embedded_codes("12:00:01 [ERROR] Job failed") == []
    assert embedded_codes("Livy error: Spark_User_UserApp_KeyError in line 3") == ["Spark_User_UserApp_KeyError"]
    assert embedded_codes("Cluster terminated. Reason: Cloud Provider Shutdown") == ["CLOUD_PROVIDER_SHUTDOWN"]


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
