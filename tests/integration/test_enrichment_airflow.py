"""shared.platforms.airflow (for the remediation stage) against the simulated Airflow 2 / 3 API; the
clear body is checked against the corpus excerpts of the official v1 / v2 OpenAPI specs."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from shared.platforms.airflow import AirflowApi, AirflowApiError
from tests.support.fixtures_platforms import corpus, sim_settings
from tools.simulators.airflow import SIM_AIRFLOW_TOKEN, AirflowSimulator

RUN = "scheduled__2025-04-15T00:00:00+00:00"


@pytest.fixture(params=[2, 3])
def airflow(request: pytest.FixtureRequest) -> Iterator[AirflowSimulator]:
    server = AirflowSimulator(major=request.param)
    server.start()
    server.add_task_instance("orders_daily", RUN, "load_orders", try_number=3, max_tries=2)
    server.add_task_instance("orders_daily", RUN, "extract", state="success")
    yield server
    server.stop()


def api(sim: AirflowSimulator) -> AirflowApi:
    return AirflowApi(sim_settings(AIRFLOW_URL=sim.url, AIRFLOW_TOKEN=SIM_AIRFLOW_TOKEN))


def test_version_is_detected_and_task_instances_read(airflow: AirflowSimulator) -> None:
    client = api(airflow)
    assert client.api_version == ("v2" if airflow.major == 3 else "v1")
    ti = client.get_task_instance("orders_daily", RUN, "load_orders")
    assert (ti["state"], ti["try_number"]) == ("failed", 3)
    assert client.task_link("orders_daily", RUN, "load_orders").startswith(airflow.url)


def test_clear_is_a_dry_run_unless_asked(airflow: AirflowSimulator) -> None:
    client = api(airflow)
    would = client.clear_task_instances("orders_daily", RUN, ["load_orders", "extract"])
    assert [t["task_id"] for t in would] == ["load_orders"] and airflow.cleared == []
    done = client.clear_task_instances("orders_daily", RUN, ["load_orders"], dry_run=False)
    assert [t["task_id"] for t in done] == ["load_orders"] and len(airflow.cleared) == 1
    schema = corpus(f"airflow__restapi-v{1 if airflow.major == 2 else 2}-clearTaskInstances-schema__1.json")
    body_schema = schema["components"]["schemas"]["ClearTaskInstances" if airflow.major == 2
                                                   else "ClearTaskInstancesBody"]
    sent = {k for k in airflow.cleared[0] if k != "dag_id"}
    assert sent <= set(body_schema["properties"]), json.dumps(sorted(sent))


def test_429_is_retried_and_401_is_reported(airflow: AirflowSimulator) -> None:
    client = api(airflow)
    assert client.api_version
    airflow.inject("taskInstance", status=429, retry_after=1)
    assert client.get_task_instance("orders_daily", RUN, "load_orders")["state"] == "failed"
    first, second = airflow.times_of("taskInstance")
    assert second - first >= 0.95
    airflow.inject("taskInstance", status=401)
    with pytest.raises(AirflowApiError) as err:
        client.get_task_instance("orders_daily", RUN, "load_orders")
    assert err.value.status == 401
