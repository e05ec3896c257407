"""End to end with the remediation core (branch `remed`: decide, policy, claims, steps): a Databricks failure is
repaired twice (the first repair fails, the second names latest_repair_id and succeeds) and auto-resolved; an
Airflow failure is cleared once and auto-resolved. Webhook -> processing -> plan -> REMEDIATION_QUEUE steps ->
executor -> simulator, on Azurite.

Skipped until the remediation core is on the same branch (it lands with the `remed` merge)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

steps = pytest.importorskip("remediation.steps", reason="the remediation core (branch remed) is not merged yet")

from orchestration import processing  # noqa: E402
from orchestration.runtime import Services  # noqa: E402
from shared.config import Settings  # noqa: E402
from shared.models import Envelope  # noqa: E402
from shared.timeutil import utc_now_iso  # noqa: E402
from tests.support.fixtures_platforms import corpus  # noqa: E402
from tools.simulators.airflow import SIM_AIRFLOW_TOKEN, AirflowSimulator  # noqa: E402
from tools.simulators.databricks import SIM_TOKEN, DatabricksSimulator  # noqa: E402

POLICY = """
[defaults]
max_attempts = 3
first_delay_s = 1
max_delay_s = 1
jitter = 0.0

[[pipelines]]
pipeline = "job_name"
idempotent = true

[[pipelines]]
pipeline = "orders_daily"
idempotent = true
"""
TRANSIENT = ("com.microsoft.sqlserver.jdbc.SQLServerException: The TCP/IP connection to the host sql.contoso.com, "
             "port 1433 has failed. Error: Connection timed out.")
DAG_RUN = "scheduled__2025-04-15T00:00:00+00:00"


def services(app_values: dict[str, str], tmp_path: Path, **more: str) -> Services:
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY, encoding="utf-8")
    svc = Services.from_settings(Settings.from_mapping({
        **app_values, "ENRICHMENT_ENABLED": "true", "ENRICHMENT_TIMEOUT_SECONDS": "3", "ENRICHMENT_MAX_RETRIES": "1",
        "REMEDIATION_MODE": "auto", "REMEDIATION_POLICY_FILE": str(policy), "REMEDIATION_VERIFY_INTERVAL_SECONDS": "1",
        **more}))
    svc.ensure_ready()
    return svc


def report(svc: Services, source: str, body: Any) -> str:
    outcome = processing.process_envelope(svc, Envelope(id=uuid.uuid4().hex, source=source,
                                                        received_at=utc_now_iso(), payload=body))
    assert outcome.incident_ids, outcome
    return outcome.incident_ids[0]


def drain(svc: Services, until: Callable[[], bool], timeout: float = 45) -> list[str]:
    """Run visible REMEDIATION_QUEUE messages (as the queue trigger does) until `until()` holds."""
    queue = svc.storage.queue(svc.settings.remediation_queue)
    done: list[str] = []
    deadline = time.monotonic() + timeout
    while not until():
        assert time.monotonic() < deadline, f"not reached in {timeout} s; steps so far: {done}"
        batch = list(queue.receive_messages(max_messages=16, visibility_timeout=30))
        for msg in batch:
            done.append(steps.handle(svc.remediation, msg.content))
            queue.delete_message(msg)
        if not batch:
            time.sleep(0.2)
    return done


def test_databricks_failure_repaired_twice_and_auto_resolved(app_values: dict[str, str], tmp_path: Path) -> None:
    with DatabricksSimulator() as dbx:
        dbx.add_failed_job_run("nightly_orders", "transform", TRANSIENT, run_id=9100)
        svc = services(app_values, tmp_path, DATABRICKS_HOST=dbx.url, DATABRICKS_TOKEN=SIM_TOKEN)
        body = corpus("databricks__webhook-jobs-on-failure-job__1.json")
        body.update(run={"run_id": "9100"}, workspace_id=dbx.workspace_id)
        incident_id = report(svc, "databricks", body)

        drain(svc, lambda: len(dbx.repairs) == 1)
        dbx.finish_repair(9100, error="java.net.SocketException: Connection reset")
        drain(svc, lambda: len(dbx.repairs) == 2)
        dbx.finish_repair(9100)
        drain(svc, lambda: (svc.incidents.get(incident_id) or pytest.fail("gone")).status == "resolved")

        incident = svc.incidents.get(incident_id)
        assert incident is not None and incident.resolution == "auto_remediated"
        assert [a["outcome"] for a in (incident.remediation or {})["attempts"]] == ["failed", "succeeded"]
        assert [r.get("latest_repair_id") for r in dbx.repairs] == [None, dbx.repairs[0]["repair_id"]]
        assert all(r["rerun_all_failed_tasks"] and r["rerun_dependent_tasks"] for r in dbx.repairs)


def test_airflow_failure_cleared_once_and_auto_resolved(app_values: dict[str, str], tmp_path: Path) -> None:
    with AirflowSimulator(major=3) as af:
        af.add_dag_run("orders_daily", DAG_RUN, "failed", tasks={"extract": "success", "load": "failed"},
                       error=TRANSIENT)
        af.add_dag_run("orders_daily", "scheduled__2025-04-14T00:00:00+00:00", "failed", tasks={"load": "failed"},
                       start_date="2025-04-14T00:00:05+00:00", logical_date="2025-04-14T00:00:00+00:00")
        svc = services(app_values, tmp_path, AIRFLOW_URL=af.url, AIRFLOW_TOKEN=SIM_AIRFLOW_TOKEN)
        incident_id = report(svc, "airflow", {"dag_id": "orders_daily", "task_id": "load", "run_id": DAG_RUN,
                                              "try_number": 1, "state": "failed", "exception": TRANSIENT,
                                              "exception_type": "SQLServerException"})
        drain(svc, lambda: len(af.cleared) == 1)
        af.finish_dag_run("orders_daily", DAG_RUN)
        drain(svc, lambda: (svc.incidents.get(incident_id) or pytest.fail("gone")).status == "resolved")

        incident = svc.incidents.get(incident_id)
        assert incident is not None and incident.resolution == "auto_remediated"
        assert [(c["dag_run_id"], c["dry_run"], c["only_failed"]) for c in af.cleared] == [(DAG_RUN, False, True)]
        other = af.task_instances[("orders_daily", "scheduled__2025-04-14T00:00:00+00:00", "load", -1)]
        assert other["state"] == "failed"  # the other run of the DAG was not touched
