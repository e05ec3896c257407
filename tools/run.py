"""`make run`: Azurite + the app on http://127.0.0.1:7071, the sample alerts posted once, the
incidents they became printed, then serve until Ctrl-C.

Uses `func start` when Core Tools is on PATH, else `python -m tools.devhost`. Embedded defaults
only: Azurite storage, rules-only analysis; remediation in mode `auto` against the SIMULATED factory only
(tools/demo_remediation_policy.toml: delays of seconds); notifications go to the console and to local
capture servers standing in for Teams, Slack, PagerDuty, Jira and an SMTP relay.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from orchestration.runtime import Services
from shared.config import REPO_ROOT, load_settings
from tools.dashboard_demo import seed as seed_demo_history

AZURITE = REPO_ROOT / "node_modules" / ".bin" / "azurite"
SAMPLES = REPO_ROOT / "samples"
DEMO_POLICY = REPO_ROOT / "tools" / "demo_remediation_policy.toml"
DEMO_RERUN_PIPELINE = "LoadCustomers"
DEMO_TRANSIENT = ("ErrorCode=SqlFailedToConnect, Cannot connect to SQL Database: 'contoso-sql.database.windows.net'. "
                  "A transport-level error has occurred when receiving results from the server.")
ENDPOINT_BY_PREFIX = {"azure-monitor": "azure-monitor", "databricks": "databricks-monitor",
                      "airflow": "airflow-monitor"}


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_for(check: Any, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.2)


def call(method: str, url: str, body: bytes | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")
    except OSError:
        return 0, None


def start_azurite(data_dir: Path) -> subprocess.Popen[bytes] | None:
    if all(port_open(p) for p in (10000, 10001, 10002)):
        print("Azurite (or another storage emulator) already listens on 10000-10002; using it.")
        return None
    if not AZURITE.exists():
        raise SystemExit("node_modules/.bin/azurite is missing: run `make run` (it runs npm install)")
    data_dir.mkdir(exist_ok=True)
    log = open(data_dir / "azurite.log", "ab")  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen([str(AZURITE), "--location", str(data_dir), "--blobHost", "127.0.0.1",
                             "--queueHost", "127.0.0.1", "--tableHost", "127.0.0.1",
                             "--skipApiVersionCheck", "--disableTelemetry", "--loose"],
                            stdout=log, stderr=subprocess.STDOUT)
    wait_for(lambda: all(port_open(p) for p in (10000, 10001, 10002)), "Azurite")
    print(f"Azurite started (data in {data_dir.relative_to(REPO_ROOT)}/)")
    return proc


def start_app(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    if port_open(port):
        raise SystemExit(f"port {port} is already in use; stop what runs there or pass --port")
    func_cli = shutil.which("func")
    if func_cli:
        print("Core Tools found: running `func start`")
        args = [func_cli, "start", "--port", str(port)]
    else:
        print("Core Tools not found: running the local host `python -m tools.devhost`")
        args = [sys.executable, "-m", "tools.devhost", "--port", str(port)]
    return subprocess.Popen(args, cwd=REPO_ROOT, env=env)


def post_samples(base: str, extra: list[tuple[str, bytes]]) -> list[tuple[str, str]]:
    """POST every sample (and the generated alerts in `extra`) to the endpoint its name starts with."""
    items = [(path.name, path.read_bytes()) for path in sorted(SAMPLES.glob("*.json"))] + extra
    posted = []
    for name, data in items:
        prefix = next((p for p in ENDPOINT_BY_PREFIX if name.startswith(p)), None)
        if prefix is None:
            continue
        status, body = call("POST", f"{base}/api/{ENDPOINT_BY_PREFIX[prefix]}", data)
        print(f"  POST {name:45} -> {status} {body.get('id') if isinstance(body, dict) else body}")
        if status == 202:
            posted.append((name, body["id"]))
    return posted


SAMPLE_SUBSCRIPTION = "1f3c6a0e-4b1d-4c55-9d2e-6a7b8c9d0e1f"


def start_simulated_factory(env: dict[str, str]) -> tuple[Any, list[tuple[str, bytes]]]:
    """A SIMULATED Data Factory (local server speaking the ADF REST shapes) with failed runs, the app
    pointed at it, and a PipelineFailedRuns alert for one of its pipelines to post. The factory the samples
    name (adf-sales-prod) is simulated too, with the runs they report, so every sample incident carries its
    real error."""
    from shared.timeutil import utc_now
    from tools.simulators.adf import pipeline_failed_runs_alert, start_demo_factory

    simulator, factory_id, arm_endpoint = start_demo_factory()
    samples_factory = simulator.add_factory("adf-sales-prod", subscription=SAMPLE_SUBSCRIPTION,
                                            resource_group="rg-data")
    samples_factory.add_failed_run(
        "pl_ingest_sales", "ErrorCode=SqlFailedToConnect,'Cannot connect to SQL Database: 'sql-sales', Database: "
        "'sales', User: 'etl'. Login timeout expired.", code="2100", failure_type="UserError",
        activity="Copy_Sales", start=datetime(2026, 11, 21, 3, 2, tzinfo=UTC))
    samples_factory.add_failed_run(
        "pl_load_customers", "ErrorCode=UserErrorSourceBlobNotExists,'The required Blob is missing. Folder path: "
        "raw/customers/2025-04-15/.'", code="2200", failure_type="UserError", activity="Copy_Customers",
        run_id="8a1c7e52-0d3b-4f6e-9b21-5c4d3e2f1a0b", start=datetime(2025, 4, 15, 18, 0, tzinfo=UTC))
    env.update(ARM_ENDPOINT=arm_endpoint, ENRICHMENT_ENABLED="true", SWEEP_FACTORIES=factory_id,
               SWEEP_SCHEDULE="*/20 * * * * *", ALLOWED_RESOURCES=f"{factory_id},{samples_factory.resource_id}")
    # Remediation acts on its own only here, against the simulator (deployed default: dry-run).
    env.update(REMEDIATION_MODE="auto", REMEDIATION_POLICY_FILE=str(DEMO_POLICY),
               REMEDIATION_VERIFY_INTERVAL_SECONDS="3")
    print(f"SIMULATED Data Factories {factory_id.rsplit('/', 1)[-1]} and adf-sales-prod at {arm_endpoint} "
          "(not Azure): enrichment and the sweep (every 20 s) read their failed runs; remediation mode auto")
    now = utc_now()
    factory = next(iter(simulator.factories.values()))
    factory.add_failed_run(DEMO_RERUN_PIPELINE, DEMO_TRANSIENT, start=now - timedelta(minutes=4))
    factory.rerun_outcomes[DEMO_RERUN_PIPELINE] = ["Failed", "Succeeded"]  # first rerun fails, second succeeds
    factory.rerun_seconds = 3
    alert = pipeline_failed_runs_alert(factory_id, "IngestOrders", now - timedelta(minutes=30), now, failed=2)
    transient = pipeline_failed_runs_alert(factory_id, DEMO_RERUN_PIPELINE, now - timedelta(minutes=6), now)
    return simulator, [("azure-monitor-simulated-factory-IngestOrders.json", json.dumps(alert).encode()),
                       (f"azure-monitor-simulated-factory-{DEMO_RERUN_PIPELINE}.json", json.dumps(transient).encode())]


def show_remediation(base: str, timeout: float = 90) -> None:
    """Follow the transient failure through rerun -> verify (fails) -> rerun -> verify (succeeds), then print
    one plan that waits for approval and the curl that approves it."""
    status, listing = call("GET", f"{base}/api/incidents?pipeline={DEMO_RERUN_PIPELINE}")
    items = listing.get("items", []) if status == 200 and isinstance(listing, dict) else []
    if not items:
        print(f"\n(no incident for {DEMO_RERUN_PIPELINE} yet)")
        return
    incident_id = items[0]["id"]
    print(f"\nRemediation of {DEMO_RERUN_PIPELINE} (transient error, pipeline declared idempotent), incident "
          f"{incident_id[:12]}:")
    printed: set[tuple[str, str]] = set()
    deadline = time.monotonic() + timeout
    incident: Any = {}
    while time.monotonic() < deadline:
        status, incident = call("GET", f"{base}/api/incidents/{incident_id}")
        for entry in incident.get("audit", []) if status == 200 else []:
            key = (entry["time"], entry["action"])
            if entry["action"].startswith(("remediation", "incident_resolved", "incident_escalated")) \
                    and key not in printed:
                printed.add(key)
                print(f"  {entry['time'][11:19]}  {entry['action']:22} {entry['reason'][:110]}")
        if status == 200 and incident.get("status") in ("resolved", "escalated"):
            break
        time.sleep(1)
    rem = incident.get("remediation") or {}
    print(f"  -> {incident.get('status')} ({incident.get('resolution') or '-'}), attempts: "
          f"{[a.get('outcome') for a in rem.get('attempts', [])]}, time to recover {rem.get('time_to_recover_s')} s")
    status, listing = call("GET", f"{base}/api/incidents?pipeline=IngestOrders")
    details = [call("GET", f"{base}/api/incidents/{i['id']}")[1] for i in (listing.get("items", []) if status == 200
                                                                           else [])]  # list rows are summaries
    waiting = [i for i in details if isinstance(i, dict)
               and (i.get("remediation") or {}).get("state") == "waiting_approval"]
    if waiting:
        plan = waiting[0]["remediation"]
        print(f"\nWaiting for approval: incident {waiting[0]['id'][:12]}: {plan.get('reason', '')[:150]}")
        print("Approve it (starts the rerun from failure against the simulated factory):")
        print(f"  curl -s -X POST {base}/api/incidents/{waiting[0]['id']}/approve -H 'Content-Type: application/json' "
              "-d '{\"by\": \"you\", \"reason\": \"demo\"}'")


def start_simulated_databricks(env: dict[str, str]) -> Any:
    """A SIMULATED Databricks workspace with the failed job run the Databricks sample reports."""
    from tools.simulators.databricks import SIM_TOKEN, DatabricksSimulator

    simulator = DatabricksSimulator()
    simulator.start()
    simulator.add_failed_job_run(
        "nightly_customer_features", "build_features", "AnalysisException: [UNRESOLVED_COLUMN.WITH_SUGGESTION] "
        "A column or function parameter with name `customer_segment` cannot be resolved.", run_id=455644833,
        job_id=11223344, other_tasks=("ingest_customers",))
    env.update(DATABRICKS_HOST=simulator.url, DATABRICKS_TOKEN=SIM_TOKEN)
    print(f"SIMULATED Databricks workspace at {simulator.url} (not Azure): the Databricks sample's run")
    return simulator


def report(base: str, posted: list[tuple[str, str]], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    results: dict[str, Any] = {}
    while len(results) < len(posted) and time.monotonic() < deadline:
        for name, alert_id in posted:
            if name not in results:
                status, body = call("GET", f"{base}/api/alerts/{alert_id}")
                if status == 200:
                    results[name] = body
        time.sleep(0.3)
    print("\nWhat became of each sample alert:")
    incident_ids: list[str] = []
    for name, _ in posted:
        result = results.get(name)
        if result is None:
            print(f"  {name:45} still queued")
            continue
        detail = result.get("ignored_reason") or ", ".join(result["incident_ids"]) or result.get("error")
        print(f"  {name:45} {result['status']:9} {detail}")
        incident_ids += [i for i in result["incident_ids"] if i not in incident_ids]
    print(f"\nIncidents ({len(incident_ids)}), as GET {base}/api/incidents returns them:")
    for incident_id in incident_ids:
        status, incident = call("GET", f"{base}/api/incidents/{incident_id}")
        if status != 200:
            continue
        error = incident.get("error") or {}
        verdict = incident.get("verdict") or {}
        print(f"  {incident_id[:12]}  {incident['platform']:10} {incident.get('pipeline') or '-':28} "
              f"run={incident.get('run_id') or '-'}  occurrences={incident['occurrences']}  {incident['status']}")
        if error.get("code") or error.get("message"):
            print(f"      error: {error.get('code') or ''} {str(error.get('message') or '')[:160]}")
        if verdict:
            print(f"      verdict: {verdict.get('category')} retryable={verdict.get('retryable')} "
                  f"(rule {verdict.get('matched_rule')})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.run", description=__doc__)
    parser.add_argument("--port", type=int, default=7071)
    parser.add_argument("--no-samples", action="store_true", help="do not post the sample alerts")
    parser.add_argument("--exit-after-samples", action="store_true", help="stop once the samples are reported")
    args = parser.parse_args(argv)

    settings_file = REPO_ROOT / "local.settings.json"
    if not settings_file.exists():
        shutil.copy(REPO_ROOT / "local.settings.json.example", settings_file)
        print("created local.settings.json from local.settings.json.example")
    env = dict(os.environ)
    children: list[subprocess.Popen[bytes]] = []
    azurite = start_azurite(REPO_ROOT / ".azurite")
    if azurite:
        children.append(azurite)
    simulator, generated = start_simulated_factory(env)
    from tools.simulators.capture import DemoChannels

    channels = DemoChannels()
    env.update(channels.start())
    for name, default in (("EVENTS_QUEUE", "incident-events"), ("NOTIFY_QUEUE", "notifications"),
                          ("SLA_SCHEDULE", "0 */5 * * * *")):
        env.setdefault(name, default)  # trigger bindings; an older local.settings.json may lack them
    print("LOCAL CAPTURE SERVERS (not Teams, Slack, PagerDuty, Jira or a mail relay) receive the notifications")
    databricks = start_simulated_databricks(env)
    base = f"http://127.0.0.1:{args.port}"
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        app = start_app(args.port, env)
        children.insert(0, app)
        wait_for(lambda: call("GET", f"{base}/api/health")[0] == 200 or app.poll() is not None, "the app")
        if app.poll() is not None:
            raise SystemExit("the app exited during start-up; see its output above")
        print(f"\nThe app is up on {base}/api (health: {base}/api/health)")
        if not args.no_samples:
            print("Posting the sample alerts from samples/:")
            report(base, post_samples(base, generated))
            show_remediation(base)
            print("\nNotifications (after the 5 s quiet period that folds bursts), as the capture servers got them:")
            time.sleep(12)
            print("\n".join(channels.summary()))
            seeded = seed_demo_history(Services.from_settings(load_settings()))
            print(f"\nAdded {len(seeded)} demo incidents of the last week (tools/dashboard_demo.py) for the dashboard.")
        print(f"\nDashboard: {base}/api/dashboard  (trends: {base}/api/dashboard/trends, "
              f"health: {base}/api/dashboard/health)")
        if args.exit_after_samples:
            return 0
        print(f"\nServing on {base} until Ctrl-C. Try: curl {base}/api/incidents")
        print("The sweep finds the simulated factory's other failed runs within 20 s: "
              f"{base}/api/incidents?source=sweep")
        while not stopping and app.poll() is None:
            time.sleep(0.5)
    finally:
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(15)
            except subprocess.TimeoutExpired:
                child.kill()
        simulator.stop()
        channels.stop()
        databricks.stop()
        print("stopped the app, the simulated factory and workspace, the capture servers and Azurite")
    return 0


if __name__ == "__main__":
    sys.exit(main())
