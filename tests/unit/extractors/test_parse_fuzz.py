"""parse() never raises, whatever the body: deterministic mutations of the corpus payloads, plus the
shapes the reviewer's fuzzing found (allOf: true, alertTargetIDs -1 or a single string, tables /
columns / rows as numbers, a window start before year 1 in UTC, a sweep message with an empty failure)."""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from typing import Any

import pytest

from analysis.classifier import classify
from extractors import EXTRACTORS
from extractors.azure_monitor import AzureMonitorExtractor
from extractors.sweep import SweepExtractor
from shared.identity import incident_identity
from tests.support.fixtures_platforms import FACTORY_ID, PAYLOADS, corpus, envelope, essentials, metric_context

ODD: list[Any] = [None, 0, 1, -1, 1.5, True, False, "", "x", [], {}, [None], [1], ["a"], {"a": 1}, [[1, 2]],
                  [{"name": None}], 10**30, "3/22/2019 1:36:31 PM", "9999-99-99", "0001-01-01T00:00:00+01:00",
                  {"name": "x", "value": {"y": 1}}, "/subscriptions/s/resourceGroups/g/providers/a/b/c"]


def corpus_payloads() -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for path in sorted(PAYLOADS.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        out.append((path.name, data))
        if isinstance(data, dict):
            out += [(f"{path.name}:{k}", data[k]) for k in ("body", "payload", "example")
                    if isinstance(data.get(k), dict)]
    # complete envelopes around the alertContext fragments, and a sweep message
    out.append(("metric-envelope", envelope(metric_context("PipelineFailedRuns", {"Name": "P"}),
                                            essentials(alertTargetIDs=[FACTORY_ID]))))
    out.append(("log-v1-envelope", envelope(corpus("azmon__alertcontext-log-v1-loganalytics-searchresults__1.json")
                                            ["alertContext"], essentials(alertTargetIDs=[FACTORY_ID]))))
    out.append(("sweep", {"failures": [{"source": "sweep", "platform": "adf", "resource": FACTORY_ID, "run_id": "r",
                                        "links": {}, "origin": {}, "fingerprint_parts": {}}]}))
    return out


def paths(obj: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from paths(value, (*prefix, key))
    elif isinstance(obj, list):
        for index, value in enumerate(obj):
            yield from paths(value, (*prefix, index))


def replaced(obj: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    cursor = obj
    for key in path[:-1]:
        cursor = cursor[key]
    cursor[path[-1]] = value
    return obj


def check(payload: Any) -> None:
    for source, extractor in EXTRACTORS.items():
        try:
            result = extractor.parse(payload)
            for failure in result.failures:
                incident_identity(failure)
                classify(failure)
            json.dumps(result.to_dict(), default=str)
        except Exception as exc:  # pragma: no cover - the failure message is the point
            raise AssertionError(f"{source}.parse raised {type(exc).__name__}: {exc} on "
                                 f"{json.dumps(payload, default=str)[:800]}") from exc


@pytest.mark.parametrize("name,base", corpus_payloads(), ids=lambda v: v if isinstance(v, str) else "")
def test_mutated_corpus_payloads_never_make_parse_raise(name: str, base: Any) -> None:
    rng = random.Random(f"fuzz:{name}")  # deterministic per payload
    for _ in range(300):
        payload = copy.deepcopy(base)
        for _ in range(rng.randint(1, 3)):
            path = rng.choice(list(paths(payload)))
            payload = replaced(payload, path, copy.deepcopy(rng.choice(ODD)))
        check(payload)


def metric_alert(**essential_changes: Any) -> dict[str, Any]:
    return envelope(metric_context("PipelineFailedRuns", {"Name": "IngestOrders"}),
                    essentials(**{"alertTargetIDs": [FACTORY_ID], **essential_changes}))


def test_the_shapes_fuzzing_found_do_not_raise() -> None:
    x = AzureMonitorExtractor()
    body = metric_alert()
    body["data"]["alertContext"]["condition"]["allOf"] = True
    check(body)
    check(metric_alert(alertTargetIDs=-1))
    check(metric_alert(configurationItems=7))
    body = metric_alert()
    body["data"]["alertContext"]["condition"]["windowStartTime"] = "0001-01-01T00:00:00+01:00"
    check(body)
    [failure] = x.parse(body).failures
    assert failure.start == "0001-01-01T00:00:00+01:00"  # kept as the raw text
    log = envelope(corpus("azmon__alertcontext-log-v1-loganalytics-searchresults__1.json")["alertContext"],
                   essentials(alertTargetIDs=[FACTORY_ID]))
    for key, value in (("tables", 3), ("tables", [{"columns": 3, "rows": [[1]]}]),
                       ("tables", [{"columns": [{"name": "a"}], "rows": 5}])):
        mutated = copy.deepcopy(log)
        mutated["data"]["alertContext"]["SearchResults"] = {key: value}
        check(mutated)


def test_a_single_target_string_is_one_target_not_its_characters() -> None:
    [failure] = AzureMonitorExtractor().parse(metric_alert(alertTargetIDs=FACTORY_ID)).failures
    assert failure.resource == FACTORY_ID and failure.platform == "adf"
    assert failure.fingerprint_parts["targets"] == [FACTORY_ID]


def test_sweep_messages_with_invalid_failures_are_ignored_or_skipped() -> None:
    sweep = SweepExtractor()
    for items in ([{}], [{"source": 1, "platform": "adf", "resource": "r"}],
                  [{"source": "sweep", "platform": "adf", "resource": "r", "origin": []}],
                  [{"source": "sweep", "platform": "adf", "resource": "r", "message": {"x": 1}}]):
        result = sweep.parse({"failures": items})
        assert result.failures == [] and result.ignored_reason, items
    good = {"source": "sweep", "platform": "adf", "resource": "r", "run_id": 42}
    result = sweep.parse({"failures": [{}, good]})
    [failure] = result.failures
    assert failure.run_id == "42" and result.enrichment_errors and "failure 0" in result.enrichment_errors[0]
