"""Property-based fuzzing of the HTTP edge (Hypothesis): the three POST routes and the query parameters.

Every answer must be 2xx or 4xx (never 5xx, never an exception) and come back within a time bound; a 4xx
must say what was wrong ({"error", "detail"}). Accepted bodies are also run through processing, which must
not raise (a raise would retry the message and end in the poison queue). Inputs: arbitrary bytes,
arbitrary JSON, and real samples with one part replaced by arbitrary values.
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import azure.functions as func
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from orchestration import actions, api, processing
from orchestration.ingest import delivery_id
from orchestration.runtime import Services
from shared.models import Envelope
from shared.redaction import redact
from shared.timeutil import utc_now_iso

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
ROUTES = ("azure-monitor", "databricks", "airflow")
ANSWER_BOUND_S = 10.0


@dataclass
class FuzzFigures:
    inputs: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    server_errors: int = 0
    exceptions: int = 0
    processed: int = 0
    processing_errors: int = 0
    slowest_s: float = 0.0
    slowest_input: str = ""
    problems: list[str] = field(default_factory=list)

    def ok(self) -> bool:
        return not (self.server_errors or self.exceptions or self.processing_errors) and self.slowest_s < ANSWER_BOUND_S

    def note(self, status: int, elapsed: float, what: str) -> None:
        self.inputs += 1
        self.by_status[status] = self.by_status.get(status, 0) + 1
        if elapsed > self.slowest_s:
            self.slowest_s, self.slowest_input = elapsed, what[:160]
        if status >= 500:
            self.server_errors += 1
            self.problems.append(f"{status} for {what[:300]}")


def _samples() -> list[dict[str, Any]]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(SAMPLES.glob("*.json"))]


_leaf = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=200)
         | st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, categories=["Cs"]), max_size=4)
         | st.sampled_from(["", "Fired", "Resolved", "jobs.on_failure", "failed", "/subscriptions/x", "0" * 40]))
json_values = st.recursive(_leaf, lambda kids: st.lists(kids, max_size=5)
                           | st.dictionaries(st.text(max_size=20), kids, max_size=5), max_leaves=25)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def mutated_samples(draw: st.DrawFn) -> bytes:
    body = copy.deepcopy(draw(st.sampled_from(_samples())))
    path = draw(st.sampled_from(_paths(body)[1:]))
    holder = body
    for key in path[:-1]:
        holder = holder[key]
    holder[path[-1]] = draw(json_values)
    return json.dumps(body).encode()


bodies = st.one_of(st.binary(max_size=600), json_values.map(lambda v: json.dumps(v).encode()), mutated_samples())
_param_names = st.sampled_from(["status", "source", "platform", "pipeline", "run_id", "since", "limit",
                                "continuation", "x"])
query_params = st.dictionaries(_param_names, st.text(max_size=60)
                               | st.sampled_from(["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "0",
                                                  "-1", "1001", "open", "bogus", "2026-01-01"]), max_size=4)
ids = st.text(max_size=80) | st.sampled_from(["a/b", "a#b", "..", " ", "x" * 2000, "%2F"])


def fuzz_edge(svc: Services, examples: int, process_every: int = 1, seed: int | None = None) -> FuzzFigures:
    """Fuzz POSTs (about 60% of the inputs) and reads; `process_every`: run every n-th accepted body through
    processing (0: none). The handlers use the process-wide services, which the caller points at `svc`."""
    figures = FuzzFigures()
    accepted = 0

    def timed(what: str, call: Any) -> func.HttpResponse | None:
        started = time.monotonic()
        try:
            response: func.HttpResponse = call()
        except Exception as exc:  # an exception is what the host turns into a 500
            figures.exceptions += 1
            figures.problems.append(f"{type(exc).__name__}: {exc} for {what[:300]}")
            return None
        figures.note(response.status_code, time.monotonic() - started, what)
        if 400 <= response.status_code < 500 and response.status_code != 404:
            answer = json.loads(response.get_body())
            if not (isinstance(answer, dict) and answer.get("error") and answer.get("detail")):
                figures.problems.append(f"{response.status_code} without error/detail for {what[:200]}")
                figures.server_errors += 1
        return response

    @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck), derandomize=seed is not None)
    @given(kind=st.integers(0, 9), route=st.sampled_from(ROUTES), body=bodies, params=query_params, key=ids)
    def one(kind: int, route: str, body: bytes, params: dict[str, str], key: str) -> None:
        nonlocal accepted
        if kind < 6:
            response = timed(f"POST /{route} {body[:200]!r}",
                             lambda: api.receive_alert(route, func.HttpRequest("POST", f"/api/{route}", body=body)))
            if response is not None and response.status_code == 202 and process_every:
                accepted += 1
                if accepted % process_every == 0:
                    _process(svc, route, body, figures)
        elif kind < 8:
            timed(f"GET /incidents {params!r}", lambda: api.list_incidents(
                func.HttpRequest("GET", "/api/incidents", body=b"", params=params)))
        elif kind == 8:
            handler = api.get_incident if len(key) % 2 else api.get_alert
            timed(f"GET {handler.__name__} {key!r}", lambda: handler(
                func.HttpRequest("GET", "/api/x", body=b"", route_params={"id": key})))
        else:
            handler = actions.acknowledge if len(key) % 2 else actions.resolve
            timed(f"POST {handler.__name__} {key!r} {body[:100]!r}", lambda: handler(
                func.HttpRequest("POST", "/api/x", body=body, route_params={"id": key})))

    one()
    return figures


def _process(svc: Services, route: str, body: bytes, figures: FuzzFigures) -> None:
    payload = redact(json.loads(body))
    envelope = Envelope(delivery_id(route, payload), route, utc_now_iso(), payload=payload)
    try:
        processing.process_envelope(svc, envelope)
        figures.processed += 1
    except Exception as exc:
        figures.processing_errors += 1
        figures.problems.append(f"processing raised {type(exc).__name__}: {exc} for {body[:300]!r}")
