"""Review findings on the dashboard's read model: the index row ends as the incident's latest state when writers race,
and odd query parameters answer 400 (never a 500) on the list page and the list API."""

from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from dashboard import listing
from orchestration.runtime import Services
from shared.lifecycle import Event
from shared.models import Failure
from shared.timeutil import to_iso

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def test_index_row_matches_the_incident_after_concurrent_writes(services: Services) -> None:
    failure = Failure(source="airflow", platform="airflow", resource="https://airflow.example", pipeline="race",
                      run_id="r1", message="boom")
    incident_id = services.incidents.record(failure, "alert-0", to_iso(NOW)).incident.id

    def occurrence(n: int) -> None:
        services.incidents.record(failure, f"alert-{n}", to_iso(NOW))

    def acknowledge(n: int) -> None:
        services.lifecycle.try_apply(incident_id, Event.ACKNOWLEDGED, actor=f"op{n}", reason="looking")

    assert services.index is not None
    for round_ in range(3):
        with ThreadPoolExecutor(8) as pool:
            for n in range(1, 13):
                pool.submit(occurrence, round_ * 100 + n)
                if n % 4 == 0:
                    pool.submit(acknowledge, n)
        incident = services.incidents.get(incident_id)
        assert incident is not None
        [row] = [i for i in listing.list_page(services.index, {"pipeline": "race"}).items]
        assert (row["occurrences"], row["status"], row["acknowledged"]) == (
            incident.occurrences, incident.status, bool(incident.acknowledged_at)), f"round {round_}"


def _token(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


@pytest.mark.parametrize("params", [
    {"from": "0001-01-01"}, {"to": "0001-01-01T00:00:00+14:00"}, {"since": "9999-12-31T23:59:59-10:00"},
    {"to": "9999-12-31"}, {"pipeline": "\U0010ffff"}, {"continuation": _token({"PartitionKey": "x" * 100_000})},
    {"continuation": _token({"PartitionKey": 5, "RowKey": [1]})},
])
def test_odd_query_parameters_are_400_or_served(services: Services, params: dict[str, str]) -> None:
    assert services.index is not None
    try:
        listing.list_page(services.index, params)
    except listing.BadQuery:
        pass  # -> 400 {"error","detail"} in the handlers
