"""The on_failure_callback in docs/airflow.md: it runs without Airflow installed, reads only keys the
Airflow Context really has (corpus airflow__callback-context-keys), and what it posts is understood."""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import pytest

from extractors.airflow import AirflowExtractor
from shared.config import REPO_ROOT
from tests.support.fixtures_platforms import corpus

DOC = REPO_ROOT / "docs" / "airflow.md"


def callback_module() -> dict[str, Any]:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    [code] = [b for b in blocks if "def report_failure" in b]
    namespace: dict[str, Any] = {"__name__": "incident_callback"}
    exec(compile(code, str(DOC), "exec"), namespace)
    return namespace


def failing() -> BaseException:
    try:
        raise ValueError("column order_id is missing in orders_2025_04_15.csv")
    except ValueError as exc:
        return exc


def airflow2_context() -> dict[str, Any]:
    ti = SimpleNamespace(dag_id="orders_daily", task_id="load_orders", run_id="scheduled__2025-04-15T00:00:00+00:00",
                         try_number=3, max_tries=2, map_index=-1, log_url="https://af2.example.com/log?x=1",
                         start_date=datetime(2025, 4, 15, 0, 5, tzinfo=UTC),
                         end_date=datetime(2025, 4, 15, 0, 6, tzinfo=UTC))
    return {"ti": ti, "task_instance": ti, "dag_run": SimpleNamespace(run_id=ti.run_id, dag_id=ti.dag_id),
            "run_id": ti.run_id, "exception": failing(), "logical_date": datetime(2025, 4, 15, tzinfo=UTC)}


def airflow3_context() -> dict[str, Any]:
    # Runtime task instance: no log_url; exception may be a plain string; logical_date may be None.
    ti = SimpleNamespace(dag_id="orders_daily", task_id="load_orders", run_id="manual__2025-04-15T08:00:00+00:00",
                         try_number=1, max_tries=0, map_index=2, start_date=None, end_date=None)
    return {"ti": ti, "task_instance": ti, "dag_run": SimpleNamespace(run_id=ti.run_id, dag_id=ti.dag_id),
            "run_id": ti.run_id, "exception": "Task was terminated: heartbeat timed out", "logical_date": None,
            "reason": "heartbeat timeout"}


def test_the_callback_reads_only_keys_the_airflow_context_has() -> None:
    code = "".join(re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S))
    used = set(re.findall(r'context(?:\.get\(|\[)"([a-z_]+)"', code))
    assert used, "the callback reads the context"
    assert used <= set(corpus("airflow__callback-context-keys__1.json")["Context"])


@pytest.mark.parametrize("make_context", [airflow2_context, airflow3_context])
def test_the_body_is_understood_for_airflow_2_and_3(make_context: Any) -> None:
    body = callback_module()["incident_body"](make_context())
    json.dumps(body)  # serializable
    [failure] = AirflowExtractor().parse(body).failures
    assert (failure.pipeline, failure.activity) == ("orders_daily", "load_orders")
    assert failure.run_id == f"orders_daily/{body['run_id']}"
    if make_context is airflow2_context:
        assert failure.error_code == "ValueError"
        assert "Traceback" in str(failure.message) and "column order_id is missing" in str(failure.message)
        assert failure.links["log"] == "https://af2.example.com/log?x=1"
    else:
        assert failure.message == "Task was terminated: heartbeat timed out" and failure.error_code is None
        assert failure.origin["map_index"] == 2


def test_report_failure_posts_the_body_and_never_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, fmt: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    module = callback_module()
    try:
        monkeypatch.setenv("PIPELINE_INCIDENTS_URL", f"http://127.0.0.1:{server.server_address[1]}/api/airflow-monitor")
        module["report_failure"](airflow2_context())
        assert received and received[0]["dag_id"] == "orders_daily" and received[0]["state"] == "failed"
        monkeypatch.setenv("PIPELINE_INCIDENTS_URL", "http://127.0.0.1:9/nothing-listens-here")
        module["report_failure"](airflow3_context())  # must not raise
        monkeypatch.delenv("PIPELINE_INCIDENTS_URL")
        module["report_failure"](airflow3_context())
    finally:
        server.shutdown()
        server.server_close()
