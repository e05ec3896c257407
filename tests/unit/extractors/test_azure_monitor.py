"""AzureMonitorExtractor.parse: pure, fast. Envelopes are corpus samples (essentials of the test
actions / common samples, corpus alertContext fragments) with the target or metric changed to a
pipeline resource where a test needs one -- each test says what it changed."""

from __future__ import annotations

from extractors.azure_monitor import NOT_COMMON_SCHEMA, AzureMonitorExtractor
from shared.identity import incident_identity
from tests.support.fixtures_platforms import (
    APP_INSIGHTS_ID,
    FACTORY_ID,
    LOG_WORKSPACE_ID,
    SYNAPSE_ID,
    corpus,
    envelope,
    essentials,
    fragment,
    metric_context,
)

X = AzureMonitorExtractor()
FACTORY_TARGET = FACTORY_ID.lower()  # Azure Monitor sends target ids lower-cased


def test_pipeline_failed_runs_metric_alert_names_the_pipeline_but_no_run() -> None:
    # corpus metric-static essentials + fragment; target -> a factory, metric -> PipelineFailedRuns
    body = envelope(metric_context("PipelineFailedRuns", {"Name": "IngestOrders", "FailureType": "UserError"}),
                    essentials(alertTargetIDs=[FACTORY_TARGET]))
    result = X.parse(body)
    assert result.ignored_reason is None and not result.resolved
    assert result.alert_key == body["data"]["essentials"]["alertId"]
    [failure] = result.failures
    assert (failure.platform, failure.pipeline, failure.run_id, failure.failure_type) == (
        "adf", "IngestOrders", None, "UserError")
    assert failure.resource == FACTORY_TARGET
    assert failure.origin["alert_id"] == body["data"]["essentials"]["alertId"]
    assert failure.origin["metric"] == "PipelineFailedRuns"
    assert failure.origin["window_start"] == "2025-04-15T18:10:00.000000Z"
    assert failure.links["factory"].startswith("https://adf.azure.com/")
    assert incident_identity(failure)[1] == "fingerprint"


def test_activity_failed_runs_takes_pipeline_and_activity_from_their_dimensions() -> None:
    context = metric_context("ActivityFailedRuns", {"PipelineName": "IngestOrders", "Name": "Copy data",
                                                    "ActivityType": "Copy", "FailureType": "SystemError"})
    [failure] = X.parse(envelope(context, essentials(alertTargetIDs=[FACTORY_TARGET]))).failures
    assert (failure.pipeline, failure.activity, failure.failure_type) == ("IngestOrders", "Copy data", "SystemError")


def test_resolved_metric_alert_is_marked_resolved_with_the_same_alert_key() -> None:
    # corpus Resolved sample, target -> a factory: a Resolved closes what the Fired with that alertId opened
    sample = corpus("azmon__common-metric-static-resolved__1.json")
    sample["data"]["essentials"]["alertTargetIDs"] = [FACTORY_TARGET]
    result = X.parse(sample)
    assert result.resolved and result.ignored_reason is None
    assert result.alert_key == sample["data"]["essentials"]["alertId"]


def test_tolerates_missing_configuration_items_rule_id_and_null_dimensions() -> None:
    # corpus older Resolved sample has neither configurationItems nor alertRuleId; dimensions set to null
    sample = corpus("azmon__common-metric-static-resolved__2.json")
    sample["data"]["essentials"]["alertTargetIDs"] = [FACTORY_TARGET]
    sample["data"]["alertContext"]["condition"]["allOf"][0]["dimensions"] = None
    result = X.parse(sample)
    assert result.resolved and len(result.failures) == 1
    assert result.failures[0].origin["dimensions"] == {}


def test_metric_namespace_decides_when_the_target_is_not_an_arm_id() -> None:
    body = envelope(metric_context("PipelineFailedRuns", {"Name": "P"}), essentials(alertTargetIDs=["contoso-adf"]))
    [failure] = X.parse(body).failures
    assert failure.platform == "adf" and failure.resource == "contoso-adf"


def test_synapse_pipeline_runs_ended_failed_is_a_failure_succeeded_is_not() -> None:
    failed = metric_context("IntegrationPipelineRunsEnded", {"Result": "Failed", "Pipeline": "LoadDW",
                                                             "FailureType": "UserError"},
                            namespace="Microsoft.Synapse/workspaces")
    [failure] = X.parse(envelope(failed, essentials(alertTargetIDs=[SYNAPSE_ID]))).failures
    assert (failure.platform, failure.pipeline, failure.resource) == ("synapse", "LoadDW", SYNAPSE_ID)
    ok = metric_context("IntegrationPipelineRunsEnded", {"Result": "Succeeded", "Pipeline": "LoadDW"},
                        namespace="Microsoft.Synapse/workspaces")
    result = X.parse(envelope(ok, essentials(alertTargetIDs=[SYNAPSE_ID])))
    assert result.failures == [] and "Result=Succeeded" in str(result.ignored_reason)


def test_pipeline_elapsed_time_alert_carries_the_run_id_and_is_a_warning() -> None:
    context = metric_context("PipelineElapsedTimeRuns", {"Name": "IngestOrders", "RunId": "run-42"})
    [failure] = X.parse(envelope(context, essentials(alertTargetIDs=[FACTORY_TARGET]))).failures
    assert (failure.run_id, failure.level) == ("run-42", "warning")


def test_log_alerts_v2_split_by_run_id_on_a_workspace_gives_one_failure_per_run() -> None:
    # corpus Log Alerts V2 test action (target: Log Analytics workspace); dimensions -> ADFPipelineRun columns
    body = corpus("azmon__testaction-logalertsv2__1.json")
    body["data"]["alertContext"]["condition"]["allOf"][0]["dimensions"] = [
        {"name": "_ResourceId", "value": FACTORY_ID.upper()}, {"name": "PipelineName", "value": "IngestOrders"},
        {"name": "RunId", "value": "0f6c5d3e-run"}]
    [failure] = X.parse(body).failures
    assert (failure.platform, failure.run_id, failure.pipeline) == ("adf", "0f6c5d3e-run", "IngestOrders")
    assert failure.resource.lower() == FACTORY_ID.lower()  # the factory, not the workspace
    assert failure.links["search_results"].startswith("https://portal.azure.com")


def test_log_v1_search_results_rows_become_failures_with_their_error_text() -> None:
    # corpus log v1 fragment + log v1 test-action essentials; the rows -> ADFActivityRun rows
    context = fragment("azmon__alertcontext-log-v1-loganalytics-searchresults__1.json")
    table = context["SearchResults"]["tables"][0]
    table["columns"] = [{"name": n, "type": "string"} for n in
                        ("_ResourceId", "PipelineName", "PipelineRunId", "ActivityName", "ErrorCode", "ErrorMessage",
                         "FailureType", "Start", "End")]
    long_message = "ErrorCode=SqlFailedToConnect,'Cannot connect to SQL Database: ... " + "x" * 3000
    table["rows"] = [[FACTORY_ID, "IngestOrders", "run-1", "Copy data", "2200", long_message, "UserError",
                      "2025-04-15T18:00:00Z", "2025-04-15T18:04:00Z"],
                     [FACTORY_ID, "IngestOrders", "run-2", "Copy data", "2200", "second", "UserError", None, None],
                     [FACTORY_ID, "IngestOrders", "run-2", "Notify", "2011", "follow-up", "UserError", None, None]]
    body = envelope(context, essentials("azmon__testaction-log-v1-numresults__1.json"))
    result = X.parse(body)
    assert [f.run_id for f in result.failures] == ["run-1", "run-2"]
    first = result.failures[0]
    assert (first.activity, first.error_code, first.failure_type) == ("Copy data", "2200", "UserError")
    assert first.message == long_message  # complete, not cut
    assert first.start == "2025-04-15T18:00:00.000000Z"
    # The v1 interval "3/22/2019 1:36:31 PM" is understood as a time.
    assert result.failures[1].start == "2019-03-22T13:36:31.000000Z"


def test_log_workspace_with_pipeline_columns_but_no_factory_id_is_adf_on_the_workspace() -> None:
    body = corpus("azmon__testaction-logalertsv2__1.json")
    body["data"]["alertContext"]["condition"]["allOf"][0]["dimensions"] = [
        {"name": "PipelineName", "value": "IngestOrders"}]
    [failure] = X.parse(body).failures
    assert failure.platform == "adf" and failure.resource.lower() == LOG_WORKSPACE_ID.lower()


def test_simple_log_alert_event_is_a_functions_failure_with_the_exception() -> None:
    # corpus simple-log-alert fragment (an App Insights `exceptions` row) + Log Alerts V2 essentials,
    # target -> the Application Insights component
    body = envelope(fragment("azmon__alertcontext-simple-log-alert__1.json"),
                    essentials("azmon__testaction-logalertsv2__1.json", alertTargetIDs=[APP_INSIGHTS_ID],
                               monitoringService="Simple Log Alert"))
    [failure] = X.parse(body).failures
    assert failure.platform == "functions" and failure.resource == APP_INSIGHTS_ID
    assert failure.pipeline == "GET /api/orders"
    assert failure.error_code == "System.NullReferenceException"
    assert failure.message == "Object reference not set to an instance of an object."


def test_app_insights_requests_rows_without_error_text_collapse_into_one_failure() -> None:
    context = fragment("azmon__alertcontext-log-v1-appinsights-searchresults__1.json")
    body = envelope(context, essentials("azmon__testaction-log-v1-numresults__1.json",
                                        alertTargetIDs=[APP_INSIGHTS_ID], monitoringService="Application Insights"))
    [failure] = X.parse(body).failures
    assert failure.platform == "functions"
    assert "requests | where resultCode == \"500\"" in str(failure.message)


def test_app_insights_exception_rows_with_invocation_ids_are_one_failure_each() -> None:
    context = fragment("azmon__alertcontext-log-v1-appinsights-searchresults__1.json")
    context["SearchResults"]["tables"][0]["columns"] = [{"name": n} for n in
                                                        ("timestamp", "operation_Name", "type", "outerMessage",
                                                         "innermostMessage", "customDimensions")]
    context["SearchResults"]["tables"][0]["rows"] = [
        ["2025-04-15T18:00:00Z", "LoadOrders", "System.TimeoutException", "Outer", "Inner cause",
         '{"InvocationId": "inv-1"}'],
        ["2025-04-15T18:01:00Z", "LoadOrders", "System.TimeoutException", "Outer", "Inner cause",
         '{"InvocationId": "inv-2"}']]
    body = envelope(context, essentials("azmon__testaction-log-v1-numresults__1.json",
                                        alertTargetIDs=[APP_INSIGHTS_ID]))
    failures = X.parse(body).failures
    assert [f.run_id for f in failures] == ["inv-1", "inv-2"]
    assert failures[0].message == "Outer\n(innermost) Inner cause" and failures[0].pipeline == "LoadOrders"


def test_non_common_schema_is_ignored_with_the_fix() -> None:
    result = X.parse(corpus("azmon__noncommon-metric-static__1.json"))
    assert result.failures == []
    assert "enable the common alert schema on the Action Group" in str(result.ignored_reason)
    assert "enable the common alert schema on the Action Group" in NOT_COMMON_SCHEMA
    assert "enable the common alert schema on the Action Group" in str(X.parse([1, 2]).ignored_reason)


def test_activity_log_is_ignored_in_both_spellings() -> None:
    body = corpus("azmon__testaction-activitylog-administrative__1.json")
    assert "Activity Log" in str(X.parse(body).ignored_reason)
    body["data"]["essentials"].update(signalType="ActivityLog", monitoringService="Activity Log - Policy",
                                      alertTargetIDs=[FACTORY_TARGET])
    assert "policy" in str(X.parse(body).ignored_reason)


def test_service_health_with_numbers_as_numbers_is_ignored() -> None:
    body = envelope(fragment("azmon__alertcontext-servicehealth__1.json"),
                    essentials("azmon__testaction-activitylog-administrative__1.json",
                               monitoringService="ServiceHealth"))
    assert "Service Health" in str(X.parse(body).ignored_reason)


def test_budget_alert_with_null_fields_is_ignored() -> None:
    body = envelope({"properties": None}, {"alertId": "/x", "alertRule": None, "severity": None, "signalType": None,
                                           "monitoringService": "Budget", "alertTargetIDs": None})
    assert "budget" in str(X.parse(body).ignored_reason)


def test_a_storage_account_metric_alert_is_not_a_pipeline_alert() -> None:
    result = X.parse(corpus("azmon__testaction-metric-static__1.json"))
    assert result.failures == [] and "microsoft.storage/storageaccounts" in str(result.ignored_reason)


def test_a_run_found_by_an_alert_and_by_the_sweep_is_one_incident() -> None:
    body = corpus("azmon__testaction-logalertsv2__1.json")
    body["data"]["alertContext"]["condition"]["allOf"][0]["dimensions"] = [
        {"name": "_ResourceId", "value": FACTORY_ID.upper()}, {"name": "PipelineRunId", "value": "run-7"}]
    [from_alert] = X.parse(body).failures
    from shared.models import Failure

    from_sweep = Failure(source="sweep", platform="adf", resource=FACTORY_ID, run_id="run-7", pipeline="P")
    assert incident_identity(from_alert) == incident_identity(from_sweep)
