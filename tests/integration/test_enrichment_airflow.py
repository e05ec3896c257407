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
    with AirflowSimulator(major=request.param) as server:
        server.add_task_instance("orders_daily", RUN, "load_orders", try_number=3, max_tries=2)
        server.add_task_instance("orders_daily", RUN, "extract", state="success")
        yield server


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


@pytest.mark.parametrize("header,attempts,waited", [
    ("in 100 s", 1, (0.0, 1.0)),  # beyond ENRICHMENT_MAX_RETRY_AFTER_SECONDS: not waited for
    ("in 2 s", 2, (0.9, 4.5)),  # an HTTP-date within the cap: waited for
    ("-1", 2, (0.0, 0.9)),  # negative: clamped to 0
    ("soon", 2, (0.0, 2.0)),  # unparseable: the ordinary backoff
])
def test_retry_after_as_seconds_or_http_date_is_honoured_up_to_the_cap(header: str, attempts: int,
                                                                        waited: tuple[float, float]) -> None:
    import threading
    import time
    from email.utils import formatdate
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    arrivals: list[float] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            arrivals.append(time.monotonic())
            value = formatdate(time.time() + float(header.split()[1]), usegmt=True) if header.startswith("in ") \
                else header
            self.send_response(429)
            self.send_header("Retry-After", value)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = AirflowApi(sim_settings(AIRFLOW_URL=f"http://127.0.0.1:{server.server_address[1]}",
                                         AIRFLOW_TOKEN="t", ENRICHMENT_MAX_RETRIES="1",
                                         ENRICHMENT_MAX_RETRY_AFTER_SECONDS="30"), api_version="v2")
        started = time.monotonic()
        with pytest.raises(AirflowApiError) as caught:
            client.get_task_instance("d", "r", "t")
        assert caught.value.status == 429 and len(arrivals) == attempts
        if attempts == 2:
            assert waited[0] <= arrivals[1] - arrivals[0] <= waited[1]
        else:
            assert time.monotonic() - started < waited[1]
    finally:
        server.shutdown()
        server.server_close()


def test_retry_after_parsing() -> None:
    from email.utils import formatdate

    from shared.platforms.airflow import _retry_after

    assert _retry_after("5") == 5.0 and _retry_after("-3") == 0.0 and _retry_after(None) is None
    assert _retry_after("garbage") is None and _retry_after("nan") is None
    assert _retry_after(formatdate(0, usegmt=True)) == 0.0  # a date in the past
    import time

    assert 50 < (_retry_after(formatdate(time.time() + 60, usegmt=True)) or 0) <= 60
