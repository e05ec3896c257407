"""The sweep against simulated platforms and real Azurite storage (the `services` fixture)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from orchestration import processing, sweep
from orchestration.runtime import Services
from shared.config import REPO_ROOT, Settings
from shared.identity import incident_identity
from shared.models import Envelope, Failure
from shared.timeutil import to_iso, utc_now, utc_now_iso
from tests.support.fixtures_platforms import FACTORY_ID, SUB, contoso_factory, corpus
from tools.simulators.adf import AdfSimulator, SimFactory, pipeline_failed_runs_alert
from tools.simulators.databricks import SIM_TOKEN, DatabricksSimulator

PAGE = 20
NOW = utc_now().replace(microsecond=0)


@pytest.fixture
def sim() -> Iterator[AdfSimulator]:
    with AdfSimulator(page_size=PAGE) as server:
        yield server


@pytest.fixture
def dbx() -> Iterator[DatabricksSimulator]:
    with DatabricksSimulator() as server:
        yield server


@pytest.fixture
def app_values(app_values: dict[str, str], sim: AdfSimulator, dbx: DatabricksSimulator) -> dict[str, str]:
    return {**app_values, "ARM_ENDPOINT": sim.url, "SWEEP_FACTORIES": FACTORY_ID, "SWEEP_LOOKBACK_MINUTES": "180",
            "SWEEP_OVERLAP_MINUTES": "10", "SWEEP_MAX_ENQUEUE": "200", "ENRICHMENT_ENABLED": "true",
            "ENRICHMENT_TIMEOUT_SECONDS": "5", "DATABRICKS_HOST": dbx.url, "DATABRICKS_TOKEN": SIM_TOKEN}


def factory_with(sim: AdfSimulator, runs: int, failed_every: int) -> tuple[SimFactory, list[str]]:
    """`runs` runs that started 150 to 10 minutes ago; every `failed_every`-th one failed (real ADF error texts)."""
    factory = contoso_factory(sim)
    failed = []
    for i in range(runs):
        start = NOW - timedelta(minutes=150) + timedelta(seconds=i * 140 * 60 / runs)  # all ended before NOW
        if i % failed_every == failed_every - 1:
            run = factory.add_failed_run(f"Pipeline{i % 7}", f"Failure happened on 'Sink' side ({i}).", code="2200",
                                         start=start, duration=timedelta(seconds=90), run_id=f"failed-{i:05d}")
            failed.append(run.run_id)
        else:
            factory.add_run(f"Pipeline{i % 7}", start=start, duration=timedelta(seconds=90))
    return factory, failed


def adf_failure(run_id: str) -> Failure:
    return Failure(source="azure-monitor", platform="adf", resource=FACTORY_ID.lower(), run_id=run_id, pipeline="P")


def drain(services: Services) -> list[Envelope]:
    queue = services.storage.queue(services.settings.alerts_queue)
    out = []
    while True:
        batch = list(queue.receive_messages(messages_per_page=32, max_messages=32, visibility_timeout=60))
        if not batch:
            return out
        for message in batch:
            out.append(processing.decode_envelope(message.content))
            queue.delete_message(message)


def swept_run_ids(envelopes: list[Envelope]) -> list[str]:
    return sorted(str(f["run_id"]) for e in envelopes for f in e.payload["failures"])


def test_5000_runs_50_failed_20_known_enqueues_30_once_and_calls_grow_with_pages(services: Services,
                                                                                   sim: AdfSimulator) -> None:
    _, failed = factory_with(sim, 5000, 100)
    assert len(failed) == 50
    for i, run_id in enumerate(failed[::2][:20]):  # 20 of them already are incidents (an alert came first)
        services.incidents.record(adf_failure(run_id), f"earlier-alert-{i}", utc_now_iso())
    known = set(failed[::2][:20])

    report = sweep.run(services, now=NOW)
    [target] = report.targets
    assert (report.enqueued, target.found, target.known, target.error) == (30, 50, 20, None)
    envelopes = drain(services)
    assert swept_run_ids(envelopes) == sorted(set(failed) - known)
    assert {e.source for e in envelopes} == {"sweep"}
    # API calls grow with pages of failed runs -- not with the 5,000 runs, nor with the 50 failures
    assert sim.counts["queryPipelineRuns"] == math.ceil(50 / PAGE) == target.pages
    assert sim.counts["queryActivityRuns"] == 0 and sum(sim.counts.values()) == 3

    second = sweep.run(services, now=NOW + timedelta(minutes=5))
    assert second.enqueued == 0 and drain(services) == []
    assert second.targets[0].window_start == to_iso(NOW - timedelta(minutes=10))  # watermark minus overlap


def with_values(app_values: dict[str, str], **changes: str) -> Services:
    services = Services.from_settings(Settings.from_mapping({**app_values, **changes}))
    services.ensure_ready()
    return services


def test_bounded_sweeps_never_skip_what_was_left_over(sim: AdfSimulator, app_values: dict[str, str]) -> None:
    _, failed = factory_with(sim, 600, 20)  # 30 failed
    services = with_values(app_values, SWEEP_MAX_ENQUEUE="12")
    seen: list[str] = []
    marks: list[str | None] = []
    for minute in range(4):
        report = sweep.run(services, now=NOW + timedelta(minutes=minute))
        seen += swept_run_ids(drain(services))
        marks.append(report.targets[0].watermark)
    assert [len(seen[:12]), len(seen[12:24]), len(seen[24:])] == [12, 12, 6]
    assert sorted(seen) == sorted(failed)  # each exactly once
    # bounded: the watermark stops at the last enqueued run, not at "now"
    last_of_first = max(sim.factories["contoso-adf"].runs[r].last_updated for r in seen[:12])
    assert marks[0] == to_iso(last_of_first)
    assert marks[2] == to_iso(NOW + timedelta(minutes=2))  # swept completely: up to the window's end


def test_sweep_then_alert_and_alert_then_sweep_make_one_incident(services: Services, sim: AdfSimulator) -> None:
    factory, failed = factory_with(sim, 40, 10)  # 4 failed
    # An alert first: its 1 failed run becomes an incident; the sweep must not queue it again.
    pipeline = factory.runs[failed[0]].pipeline
    when: datetime = factory.runs[failed[0]].last_updated
    alert = pipeline_failed_runs_alert(FACTORY_ID, pipeline, when - timedelta(minutes=1), when + timedelta(minutes=1))
    first = processing.process_envelope(services, Envelope("alert-1", "azure-monitor", utc_now_iso(), alert))
    assert len(first.incident_ids) == 1
    assert sweep.run(services, now=NOW).enqueued == 3
    sim.reset_counts()
    # The processor enriches what the sweep queued: one activity query per run, the exact error.
    outcomes = [processing.process_envelope(services, e) for e in drain(services)]
    assert sim.counts["queryActivityRuns"] == 3 and sim.counts["queryPipelineRuns"] == 0
    incident = services.incidents.get(outcomes[0].incident_ids[0])
    assert incident is not None and incident.source == "sweep" and incident.activity == "Copy data"
    assert incident.error_code == "2200" and "Failure happened on 'Sink' side" in str(incident.error_message)
    # Then an alert for a run the sweep found: the same incident, one more occurrence.
    body = corpus("azmon__testaction-logalertsv2__1.json")
    body["data"]["alertContext"]["condition"]["allOf"][0]["dimensions"] = [
        {"name": "_ResourceId", "value": FACTORY_ID.upper()}, {"name": "RunId", "value": incident.run_id}]
    again = processing.process_envelope(services, Envelope("alert-2", "azure-monitor", utc_now_iso(), body))
    assert again.incident_ids == [incident.id]
    assert services.incidents.get(incident.id).occurrences == 2  # type: ignore[union-attr]


def test_child_runs_are_reported_through_their_parent(services: Services, sim: AdfSimulator) -> None:
    factory = contoso_factory(sim)
    parent, _child = factory.add_execute_pipeline_failure("Nightly", "LoadDW", "Login failed for user",
                                                         start=NOW - timedelta(minutes=30))
    sweep.run(services, now=NOW)
    [envelope] = drain(services)
    assert swept_run_ids([envelope]) == [parent.run_id]
    outcome = processing.process_envelope(services, envelope)
    incident = services.incidents.get(outcome.incident_ids[0])
    assert incident is not None and incident.error_message == "Login failed for user"


def test_databricks_sweep_finds_failed_job_runs_as_the_webhook_would(dbx: DatabricksSimulator,
                                                                     app_values: dict[str, str]) -> None:
    services = with_values(app_values, SWEEP_FACTORIES="", SWEEP_DATABRICKS="true")
    start = int((NOW - timedelta(minutes=40)).timestamp() * 1000)
    for i in range(30):
        dbx.add_failed_job_run(f"job{i}", "transform", f"error {i}", run_id=7000 + i * 10, start_ms=start + i * 1000)
    dbx.runs[7000]["state"]["result_state"] = "SUCCESS"  # one of them succeeded
    report = sweep.run(services, now=NOW)
    assert report.enqueued == 29, report.to_dict()
    envelopes = drain(services)
    failure = Failure.from_dict(envelopes[0].payload["failures"][0])
    assert (failure.platform, failure.resource) == ("databricks", dbx.workspace_id)
    assert dbx.counts["runs/list"] == 2 and dbx.counts["runs/get"] == 0  # 30 runs, 25 per page
    # the webhook for the same run is the same incident
    hook = corpus("databricks__webhook-jobs-on-failure-job__1.json")
    hook.update(workspace_id=dbx.workspace_id, run={"run_id": failure.run_id})
    from extractors.databricks import DatabricksExtractor

    [from_hook] = DatabricksExtractor().parse(hook).failures
    assert incident_identity(from_hook) == incident_identity(failure)
    outcome = processing.process_envelope(services, envelopes[0])
    incident = services.incidents.get(outcome.incident_ids[0])
    assert incident is not None and incident.error_message and incident.error_message.startswith("error ")


def test_synapse_workspaces_are_swept_through_the_synapse_api(sim: AdfSimulator, app_values: dict[str, str]) -> None:
    workspace = sim.add_workspace("contoso-syn", subscription=SUB, resource_group="pipelines-rg")
    for i in range(3):
        workspace.add_failed_run("LoadDW", f"Websocket connection was closed unexpectedly ({i}).",
                                 start=NOW - timedelta(minutes=20 + i), run_id=f"syn-{i}")
    services = with_values(app_values, SWEEP_FACTORIES="", SWEEP_SYNAPSE_WORKSPACES=workspace.resource_id,
                           SYNAPSE_ENDPOINT=sim.synapse_endpoint_template())
    assert sweep.run(services, now=NOW).enqueued == 3
    envelopes = drain(services)
    assert swept_run_ids(envelopes) == ["syn-0", "syn-1", "syn-2"]
    incident = services.incidents.get(processing.process_envelope(services, envelopes[0]).incident_ids[0])
    assert incident is not None and incident.platform == "synapse" and incident.activity == "Copy data"


def test_sweep_reports_an_api_error_and_keeps_the_watermark(services: Services, sim: AdfSimulator) -> None:
    factory_with(sim, 100, 10)
    sim.inject("queryPipelineRuns", status=401)
    report = sweep.run(services, now=NOW)
    assert report.enqueued == 0 and "HTTP 401" in str(report.targets[0].error)
    assert report.targets[0].watermark is None
    assert sweep.run(services, now=NOW).enqueued == 10  # the next invocation catches up


def test_the_timer_entry_point_runs_the_sweep_with_the_process_settings(services: Services, sim: AdfSimulator,
                                                                          app_values: dict[str, str]) -> None:
    factory_with(sim, 50, 10)  # 5 failed
    code = "import json; from orchestration.sweep_trigger import run_sweep; print(json.dumps(run_sweep(past_due=True)))"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env={**os.environ, **app_values},
                          capture_output=True, text=True, timeout=120, check=True)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["enqueued"] == 5 and report["targets"][0]["pages"] == 1
    assert len(drain(services)) == 5
    empty = {**app_values, "SWEEP_FACTORIES": ""}
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env={**os.environ, **empty},
                          capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"enqueued": 0, "sources": 0, "targets": []}


def test_a_failed_child_whose_parent_caught_it_is_swept(services: Services, sim: AdfSimulator) -> None:
    factory = contoso_factory(sim)
    parent, child = factory.add_execute_pipeline_failure("Nightly", "LoadDW", "Login failed for user",
                                                        start=NOW - timedelta(minutes=30))
    parent.status = "Succeeded"  # try/catch: the parent succeeded, the failed child is the only trace
    sweep.run(services, now=NOW)
    assert swept_run_ids(drain(services)) == [child.run_id]


class BrokenTableServer:
    """A local stand-in for the Table service that answers every request with 500 -- or, with
    `reads_work`, reads as an empty table (404 for an entity, no rows) and fails only the writes."""

    def __init__(self, reads_work: bool = False) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def _fail(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                status, body = 500, b'{"odata.error":{"code":"InternalError","message":{"value":"simulated outage"}}}'
                if reads_work and self.command == "GET":
                    status, body = (200, b'{"value":[]}') if "()" in self.path else (404, body.replace(
                        b"InternalError", b"ResourceNotFound"))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_MERGE = _fail

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/devstoreaccount1"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_storage_error_of_one_target_is_reported_not_raised(services: Services, sim: AdfSimulator) -> None:
    from azure.core.credentials import AzureNamedKeyCredential
    from azure.data.tables import TableClient

    from shared.platforms.adf import AdfFactory

    factory_with(sim, 20, 10)
    broken = BrokenTableServer()
    try:
        table = TableClient(broken.url, "sweepstate", credential=AzureNamedKeyCredential(
            "devstoreaccount1", "c2ltdWxhdGVkLWtleQ=="), retry_total=0)
        api = AdfFactory(FACTORY_ID, services.settings)
        budget = sweep.Budget(10)
        report = sweep._sweep(services, sweep.SweepState(table), FACTORY_ID, "adf", sweep._pipeline_runs(api),
                              budget, NOW, api)
        assert report.error and "watermark" in report.error and report.enqueued == 0
    finally:
        broken.stop()
    # the watermark read works but saving it fails (no failed run in the window: nothing to enqueue)
    quiet = sim.add_factory("quiet-adf", subscription=SUB, resource_group="pipelines-rg")
    writes_fail = BrokenTableServer(reads_work=True)
    try:
        table = TableClient(writes_fail.url, "sweepstate", credential=AzureNamedKeyCredential(
            "devstoreaccount1", "c2ltdWxhdGVkLWtleQ=="), retry_total=0)
        api = AdfFactory(quiet.resource_id, services.settings)
        report = sweep._sweep(services, sweep.SweepState(table), quiet.resource_id, "adf", sweep._pipeline_runs(api),
                              sweep.Budget(10), NOW, api)
        assert "saving the sweep watermark" in str(report.error) and report.watermark is None
    finally:
        writes_fail.stop()
