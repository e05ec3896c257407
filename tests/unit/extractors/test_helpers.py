"""Pure helpers: ARM ids, alert-context shapes, the loopback rule, error texts."""

from __future__ import annotations

import pytest
from azure.core.exceptions import ServiceRequestError
from azure.core.pipeline import PipelineRequest
from azure.core.pipeline.transport import HttpRequest

from extractors import alert_context as ac
from shared.platforms.common import (
    LOCAL_DEV_TOKEN,
    LocalDevCredential,
    LoopbackBearerPolicy,
    azure_credential,
    error_text,
    is_loopback_http,
    parse_arm_id,
)
from shared.platforms.runs import invoked_by_pipeline, run_filter
from shared.timeutil import parse_iso


def test_parse_arm_id_trims_to_the_top_level_resource_in_any_case() -> None:
    ref = parse_arm_id("/SUBSCRIPTIONS/S1/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.DATAFACTORY/FACTORIES/F1/pipelines/p")
    assert ref is not None
    assert (ref.subscription, ref.resource_group, ref.type, ref.name) == ("S1", "RG", "microsoft.datafactory/factories",
                                                                          "F1")
    assert ref.resource_id == "/SUBSCRIPTIONS/S1/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.DATAFACTORY/FACTORIES/F1"
    for junk in (None, "", "test-computer", "/subscriptions/s", "/subscriptions/s/resourceGroups/g/providers/x"):
        assert parse_arm_id(junk) is None


def test_dims_and_event_rows_tolerate_null_and_both_event_shapes() -> None:
    assert ac.dims(None) == {} and ac.dims([{"name": "A", "value": None}, "junk"]) == {"A": ""}
    pairs = [{"name": "type", "value": "E"}]
    assert ac.result_rows({"event": pairs}, []) == [{"type": "E"}]
    assert ac.result_rows({}, [{"event": [pairs, pairs]}]) == [{"type": "E"}, {"type": "E"}]
    assert ac.first({"pipelinename": "p"}, ("PipelineName",)) == "p"


def test_when_reads_iso_and_log_v1_times_and_keeps_other_text() -> None:
    assert ac.when("2019-03-22T13:58:24.3713213Z") == "2019-03-22T13:58:24.371321Z"
    assert ac.when("3/22/2019 1:51:31 PM") == "2019-03-22T13:51:31.000000Z"
    assert ac.when("soon") == "soon" and ac.when(None) is None


def test_loopback_rule() -> None:
    assert is_loopback_http("http://127.0.0.1:5000/x") and is_loopback_http("http://localhost:1")
    assert not is_loopback_http("https://127.0.0.1:5000") and not is_loopback_http("http://10.0.0.4:80")
    assert isinstance(azure_credential("http://127.0.0.1:1"), LocalDevCredential)
    assert LocalDevCredential().get_token("scope").token == LOCAL_DEV_TOKEN


def test_loopback_policy_never_sends_a_token_over_plain_http_elsewhere() -> None:
    policy = LoopbackBearerPolicy(LocalDevCredential(), "scope")
    local = PipelineRequest(HttpRequest("GET", "http://127.0.0.1:9/x"), None)  # type: ignore[arg-type]
    policy.on_request(local)
    assert local.http_request.headers["Authorization"] == f"Bearer {LOCAL_DEV_TOKEN}"
    remote = PipelineRequest(HttpRequest("GET", "http://management.example.com/x"), None)  # type: ignore[arg-type]
    with pytest.raises(ServiceRequestError):
        policy.on_request(remote)
    assert "Authorization" not in remote.http_request.headers


def test_run_filter_is_the_rest_shape() -> None:
    body = run_filter(parse_iso("2025-01-01T00:00:00Z"), parse_iso("2025-01-01T01:00:00Z"), pipeline="P",
                      continuation="tok")
    assert body["filters"] == [{"operand": "Status", "operator": "Equals", "values": ["Failed"]},
                               {"operand": "PipelineName", "operator": "Equals", "values": ["P"]}]
    assert body["orderBy"] == [{"orderBy": "LastUpdated", "order": "ASC"}] and body["continuationToken"] == "tok"
    assert invoked_by_pipeline({"invokedBy": {"invokedByType": "PipelineActivity"}})
    assert not invoked_by_pipeline({"invokedBy": {"invokedByType": "ScheduleTrigger"}})


def test_error_text_is_one_readable_line() -> None:
    class Fake(Exception):
        error_code = "UNAUTHENTICATED"

    text = error_text(Fake("bad token. Config: host=x, token=***"), "runs/get 1")
    assert text == "runs/get 1: Fake (UNAUTHENTICATED): bad token"
