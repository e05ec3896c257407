"""Run the agent's evaluation cases (agent/evals/*.toml) and print pass rates per case.

For each case: a SIMULATED Data Factory (tools/simulators/adf.py) filled with the case's runs and faults,
incidents recorded in storage, then the case's questions asked through the same agent the HTTP route builds.
The model is the local OpenAI-compatible server playing the case's script (deterministic, the default without
LLM settings) or a real one (`--model live`, or `auto` when OPENAI_API_KEY / AZURE_OPENAI_ENDPOINT is set).

    python -m tools.eval_agent [--model auto|scripted|live] [--case NAME] [--storage CONNECTION_STRING]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from agent.evaluation import Case, Observed, Score, fill, load_cases, score
from analysis.classifier import classify
from orchestration.agent_api import build_agent
from orchestration.runtime import Services
from shared.config import REPO_ROOT, Settings, load_settings
from shared.models import Failure
from shared.storage import azurite_connection_string
from shared.timeutil import utc_now, utc_now_iso
from tools.simulators.adf import AdfSimulator, SimFactory
from tools.simulators.openai_server import OpenAIStub

SUBSCRIPTION = "aaaa0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4e"
LLM_KEYS = ("OPENAI_BASE_URL", "OPENAI_API_KEY", "OPENAI_MODEL", "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_VERSION")


def storage_names(suffix: str) -> dict[str, str]:
    return {"ALERTS_QUEUE": f"alerts{suffix}", "EVENTS_QUEUE": f"events{suffix}", "INCIDENTS_TABLE": f"inc{suffix}",
            "ALERTS_TABLE": f"alerts{suffix}", "AUDIT_TABLE": f"audit{suffix}", "STATE_TABLE": f"state{suffix}",
            "ANALYSIS_CACHE_TABLE": f"cache{suffix}", "AGENT_SESSIONS_TABLE": f"sessions{suffix}",
            "REMEDIATION_QUEUE": f"remediation{suffix}", "REMEDIATION_TABLE": f"remediation{suffix}",
            "RAW_CONTAINER": f"raw{suffix}", "PAYLOADS_CONTAINER": f"payloads{suffix}"}


def fill_factory(factory: SimFactory, state: dict[str, Any]) -> dict[str, str]:
    """The case's runs in the simulated factory; returns the placeholder names ({run:Pipeline}, {factory})."""
    names = {"factory": factory.resource_id}
    now = utc_now()
    for run in state.get("runs", []):
        start = now - timedelta(hours=float(run.get("hours_ago", 1)))
        if run.get("status", "Failed") == "Failed":
            message = str(run.get("error", "failed"))
            if run.get("error_repeat"):
                message = message * int(run["error_repeat"])
            made = factory.add_failed_run(run["pipeline"], message, code=str(run.get("code", "2200")),
                                          failure_type=str(run.get("failure_type", "UserError")),
                                          activity=str(run.get("activity", "Copy data")), start=start)
        else:
            made = factory.add_run(run["pipeline"], run["status"], start=start)
        names.setdefault(f"run:{run['pipeline']}", made.run_id)
    return names


def record_incidents(svc: Services, factory: SimFactory, state: dict[str, Any], names: dict[str, str]) -> None:
    for spec in state.get("incidents", []):
        run = factory.runs[names[f"run:{spec['pipeline']}"]]
        failed = next((a for a in run.activities if a.error), None)
        failure = Failure(source="azure-monitor", platform="adf", resource=factory.resource_id,
                          pipeline=run.pipeline, run_id=run.run_id, activity=failed.name if failed else None,
                          error_code=(failed.error or {}).get("errorCode") if failed else None,
                          failure_type=(failed.error or {}).get("failureType") if failed else None,
                          message=(failed.error or {}).get("message") if failed else run.message)
        recorded = svc.incidents.record(failure, f"eval-{run.run_id}", utc_now_iso())
        svc.incidents.update_fields(recorded.incident.id, verdict=classify(failure).to_dict())
        names[f"incident:{spec['pipeline']}"] = recorded.incident.id


def run_case(case: Case, connection_string: str, suffix: str, live: dict[str, str] | None) -> tuple[Score, Observed]:
    with AdfSimulator() as sim, _stub(live is None) as stub:
        factory = sim.add_factory("contoso-adf", subscription=SUBSCRIPTION, resource_group="pipelines-rg")
        names = fill_factory(factory, case.state)
        values = {"AzureWebJobsStorage": connection_string, **storage_names(suffix), "ARM_ENDPOINT": sim.url,
                  "SWEEP_FACTORIES": factory.resource_id, "ENRICHMENT_TIMEOUT_SECONDS": "5",
                  "ENRICHMENT_MAX_RETRIES": "1", "ENRICHMENT_MAX_RETRY_AFTER_SECONDS": "2",
                  "LLM_MAX_RETRIES": "0", "LLM_TIMEOUT_SECONDS": "60" if live else "5",
                  **{k: str(v) for k, v in (case.state.get("settings") or {}).items()}}
        values.update(live or {"OPENAI_BASE_URL": stub.base_url if stub else "", "OPENAI_API_KEY": "eval-key"})
        svc = Services.from_settings(Settings.from_mapping(values))
        svc.ensure_ready()
        record_incidents(svc, factory, case.state, names)
        for fault in case.state.get("faults", []):
            sim.inject(fault.get("endpoint"), status=fault.get("status"), retry_after=fault.get("retry_after"),
                       times=int(fault.get("times", 1)))
        agent = build_agent(svc, "eval")
        answers, calls, stopped, session = [], [], "", None
        usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0, "model_calls": 0}
        for question in case.questions:
            if stub is not None:
                stub.turns = fill(question.script, names)
            answer = agent.ask(question.text, session)
            session = answer.session_id
            answers.append(answer.answer)
            calls += answer.tool_calls
            stopped = answer.stopped
            usage = {k: usage[k] + answer.usage.get(k, 0) for k in usage}
        sent = json.dumps([r["body"] for r in stub.requests]) if stub else ""
        plans, statuses = {}, {}
        for spec in case.state.get("incidents", []):
            incident = svc.incidents.get(names[f"incident:{spec['pipeline']}"])
            plans[spec["pipeline"]] = ((incident.remediation or {}).get("state") if incident else None)
            statuses[spec["pipeline"]] = incident.status if incident else None
        seen = Observed(answers, calls, stopped, sum(len(f.created_runs) for f in sim.factories.values()), sent,
                        usage, plans, statuses)
        return score(case, seen, scripted=live is None), seen


@contextmanager
def _stub(scripted: bool) -> Iterator[OpenAIStub | None]:
    if not scripted:
        yield None
        return
    stub = OpenAIStub().start()
    try:
        yield stub
    finally:
        stub.stop()


def live_settings(mode: str) -> dict[str, str] | None:
    settings = load_settings()
    configured = bool(settings.get("OPENAI_API_KEY").strip() or settings.get("AZURE_OPENAI_ENDPOINT").strip())
    if mode == "scripted" or (mode == "auto" and not configured):
        return None
    if not configured:
        raise SystemExit("--model live needs OPENAI_API_KEY (+ OPENAI_BASE_URL) or AZURE_OPENAI_ENDPOINT")
    return {k: settings.get(k) for k in LLM_KEYS}


def run_all(cases: list[Case], connection_string: str, live: dict[str, str] | None) -> list[Score]:
    scores = []
    stamp = int(time.time()) % 100_000
    for i, case in enumerate(cases):
        if live and "scripted-only" in case.tags:
            print(f"SKIP {case.name}: needs the scripted model", flush=True)
            continue
        result, seen = run_case(case, connection_string, f"ev{stamp}n{i}", live)
        scores.append(result)
        status = "PASS" if result.passed else "FAIL"
        print(f"{status} {case.name}: {sum(result.checks.values())}/{len(result.checks)} checks "
              f"({result.rate:.0%}), {seen.usage['model_calls']} model calls, {seen.usage['total_tokens']} tokens",
              flush=True)
        for failure in result.failures:
            print(f"     failed: {failure}", flush=True)
    passed = sum(s.passed for s in scores)
    print(f"{passed}/{len(scores)} cases passed ({passed / max(1, len(scores)):.0%}); model: "
          f"{'live ' + (live or {}).get('OPENAI_MODEL', '') if live else 'scripted (local OpenAI-compatible server)'}")
    return scores


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def azurite_in_memory() -> Iterator[str]:
    binary = REPO_ROOT / "node_modules" / ".bin" / "azurite"
    if not binary.exists():
        raise SystemExit("node_modules/.bin/azurite is missing: run `make setup`")
    ports = [_free_port() for _ in range(3)]
    args = [str(binary), "--inMemoryPersistence", "--skipApiVersionCheck", "--disableTelemetry", "--loose",
            "--blobHost", "127.0.0.1", "--queueHost", "127.0.0.1", "--tableHost", "127.0.0.1",
            "--blobPort", str(ports[0]), "--queuePort", str(ports[1]), "--tablePort", str(ports[2])]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not all(_listening(p) for p in ports):
            if time.monotonic() > deadline or process.poll() is not None:
                raise SystemExit("Azurite did not start")
            time.sleep(0.1)
        yield azurite_connection_string(blob=ports[0], queue=ports[1], table=ports[2])
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Evaluate the operations agent on agent/evals/*.toml")
    parser.add_argument("--model", choices=["auto", "scripted", "live"], default="auto")
    parser.add_argument("--case", help="only cases whose name contains this")
    parser.add_argument("--storage", default=os.environ.get("AGENT_EVAL_STORAGE", ""),
                        help="storage connection string (default: an in-memory Azurite started here)")
    args = parser.parse_args(argv)
    cases = load_cases(only=args.case)
    live = live_settings(args.model)
    if args.storage:
        scores = run_all(cases, args.storage, live)
    else:
        with azurite_in_memory() as connection:
            scores = run_all(cases, connection, live)
    return 0 if all(s.passed for s in scores) else 1


if __name__ == "__main__":
    sys.exit(main())
