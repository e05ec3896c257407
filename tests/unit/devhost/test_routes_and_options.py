import base64

import pytest

from tools.devhost.app_loader import HostConfigError, resolve
from tools.devhost.http_server import compile_route
from tools.devhost.queue_listener import QueueOptions, decode_message_text, parse_timespan


def test_route_parameters_and_prefix() -> None:
    pattern = compile_route("api/incidents/{id}")
    match = pattern.match("/api/incidents/abc123")
    assert match and match.group("id") == "abc123"
    assert pattern.match("/API/Incidents/x/")  # case-insensitive, trailing slash
    assert not pattern.match("/api/incidents")
    assert not pattern.match("/api/incidents/a/b")


def test_route_constraints_optional_and_catch_all() -> None:
    assert compile_route("api/items/{n:int}").match("/api/items/42")
    assert not compile_route("api/items/{n:int}").match("/api/items/x")
    optional = compile_route("api/items/{n?}")
    assert optional.match("/api/items") and optional.match("/api/items/7")
    rest = compile_route("api/files/{*path}").match("/api/files/a/b/c.json")
    assert rest and rest.group("path") == "a/b/c.json"


def test_binding_expressions_resolve_from_settings() -> None:
    assert resolve("%Q%-x", {"Q": "alerts"}) == "alerts-x"
    with pytest.raises(HostConfigError, match="MISSING"):
        resolve("%MISSING%", {})


def test_host_json_queue_options() -> None:
    options = QueueOptions.from_host_json({"extensions": {"queues": {
        "batchSize": 4, "maxDequeueCount": 3, "visibilityTimeout": "00:00:05", "maxPollingInterval": "00:01:00"}}})
    assert (options.batch_size, options.new_batch_threshold, options.max_dequeue_count) == (4, 2, 3)
    assert options.visibility_timeout_s == 5 and options.max_polling_interval_s == 60
    assert options.base64
    assert QueueOptions.from_host_json({}).batch_size == 16
    with pytest.raises(HostConfigError):
        QueueOptions.from_host_json({"extensions": {"queues": {"batchSize": 64}}})
    assert parse_timespan("1.00:00:01", 0) == 86_401


def test_message_decoding_follows_message_encoding() -> None:
    text = base64.b64encode(b'{"a":1}').decode()
    assert decode_message_text(text, True) == b'{"a":1}'
    assert decode_message_text('{"a":1}', False) == b'{"a":1}'
    with pytest.raises(ValueError, match="base64"):
        decode_message_text('{"a":1}', True)
