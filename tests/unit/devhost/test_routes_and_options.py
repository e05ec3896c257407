import base64

import pytest

from tools.devhost.app_loader import FunctionInfo, HostConfigError, resolve
from tools.devhost.http_server import Route, build_routes, compile_route
from tools.devhost.queue_listener import QueueOptions, decode_message_text, parse_timespan


def test_route_parameters_and_prefix() -> None:
    pattern = compile_route("api/incidents/{id}")
    assert pattern.match("/api/incidents/abc123") == {"id": "abc123"}
    assert pattern.match("/API/Incidents/x/")  # case-insensitive, trailing slash
    assert not pattern.match("/api/incidents")
    assert not pattern.match("/api/incidents/a/b")


def test_route_constraints_optional_and_catch_all() -> None:
    assert compile_route("api/items/{n:int}").match("/api/items/42") == {"n": "42"}
    assert not compile_route("api/items/{n:int}").match("/api/items/x")
    optional = compile_route("api/items/{n?}")
    assert optional.match("/api/items") == {} and optional.match("/api/items/7") == {"n": "7"}
    assert compile_route("api/files/{*path}").match("/api/files/a/b/c.json") == {"path": "a/b/c.json"}
    assert compile_route("api/files/{*path}").match("/api/files") == {}


def test_route_values_are_percent_decoded_exactly_once_on_raw_segments() -> None:
    pattern = compile_route("api/incidents/{id}")
    assert pattern.match("/api/incidents/abc%2541") == {"id": "abc%41"}  # not "abcA"
    assert pattern.match("/api/incidents/a%2Fb") == {"id": "a/b"}  # %2F stays inside its segment
    assert pattern.match("/api/inc%69dents/x") == {"id": "x"}  # literals compare decoded
    assert compile_route("api/files/{*path}").match("/api/files/a%2520/b") == {"path": "a%20/b"}


def _http(name: str, route: str) -> FunctionInfo:
    return FunctionInfo(name, {"type": "httpTrigger", "route": route, "name": "req", "methods": ["GET"]}, None)


def _first(routes: list[Route], path: str) -> str:
    return next(r.function.name for r in routes if r.match(path) is not None)


def test_route_precedence_is_segment_by_segment_like_asp_net() -> None:
    routes = build_routes([_http("catch", "files/{*path}"), _http("two", "files/{a}/{b}"),
                           _http("kind", "{kind}/special/x"), _http("id", "items/{id}/x"),
                           _http("opt", "things/{n?}"), _http("int", "things/{n:int}"), _http("plain", "things/{s}"),
                           _http("lit", "things/new")], "api")
    assert _first(routes, "/api/files/a/b") == "two"
    assert _first(routes, "/api/files/a/b/c") == "catch"
    assert _first(routes, "/api/items/special/x") == "id"
    assert _first(routes, "/api/other/special/x") == "kind"
    assert _first(routes, "/api/things/new") == "lit"
    assert _first(routes, "/api/things/7") == "int"
    assert _first(routes, "/api/things/seven") == "plain"
    assert _first(routes, "/api/things") == "opt"


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
