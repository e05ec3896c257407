"""Storage and host faults under a steady load: every alert that got a 202 is processed or ignored afterwards,
and none is counted twice.

A sender posts distinct Airflow failures (each its own run, so each must end as one incident with one
occurrence) at a steady rate and retries a 503 or a broken connection with the same body, as an Action Group
does. Meanwhile Azurite is paused (SIGSTOP), stopped and restarted, and the host is killed (SIGKILL) and
restarted. Afterwards every accepted alert id is looked up through the API.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.config import SETTINGS
from tools.faults.processes import AzuriteProcess, HostProcess


@dataclass
class StormFigures:
    sent: int = 0
    accepted: int = 0
    never_accepted: int = 0  # the sender gave up retrying (never told 202): the sender's to resend, not lost
    rejected_4xx: int = 0
    server_errors_5xx_other_than_503: int = 0
    answered_503: int = 0
    accounted: int = 0
    lost: int = 0
    duplicates: int = 0
    slowest_503_s: float = 0.0
    slowest_answer_s: float = 0.0
    faults: list[str] = field(default_factory=list)
    seconds: float = 0.0
    lost_ids: list[str] = field(default_factory=list)

    def ok(self) -> bool:
        return (self.lost == 0 and self.duplicates == 0 and self.server_errors_5xx_other_than_503 == 0
                and self.rejected_4xx == 0 and self.accepted > 0)


def _call(method: str, url: str, body: bytes | None = None, timeout: float = 20) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            raw, status = resp.read(), resp.status
    except urllib.error.HTTPError as err:
        raw, status = err.read(), err.code
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw


def failure_body(n: int, tag: str) -> bytes:
    return json.dumps({"dag_id": f"storm_dag_{n % 5}", "task_id": f"task_{n}", "run_id": f"{tag}-{n}",
                       "try_number": 1, "max_tries": 1, "state": "failed", "instance": "storm",
                       "exception": f"ValueError: storm failure {n}"}).encode()


class Sender:
    def __init__(self, host: HostProcess, figures: StormFigures, tag: str, attempts: int = 12) -> None:
        self.host, self.figures, self.tag, self.attempts = host, figures, tag, attempts
        self.accepted: dict[int, str] = {}
        self.lock = threading.Lock()

    def send(self, n: int) -> None:
        body = failure_body(n, self.tag)
        for attempt in range(self.attempts):
            started = time.monotonic()
            try:
                status, answer = _call("POST", f"{self.host.url}/api/airflow-monitor", body, timeout=15)
            except OSError:  # the host is down or restarting: retry as a sender would
                time.sleep(min(0.5 * (attempt + 1), 3))
                continue
            with self.lock:
                self.figures.slowest_answer_s = max(self.figures.slowest_answer_s, time.monotonic() - started)
                if status == 202:
                    self.accepted[n] = str(answer["id"])
                    return
                if status == 503:
                    self.figures.answered_503 += 1
                    self.figures.slowest_503_s = max(self.figures.slowest_503_s, time.monotonic() - started)
                elif status >= 500:
                    self.figures.server_errors_5xx_other_than_503 += 1
                else:
                    self.figures.rejected_4xx += 1
                    return
            time.sleep(min(0.5 * (attempt + 1), 3))
        with self.lock:
            self.figures.never_accepted += 1


def run_storm(duration_s: float = 24.0, rate_per_s: float = 8.0, settle_timeout_s: float = 120.0,
              verbose: bool = True) -> StormFigures:
    """Load for `duration_s` with the faults spread over it; then wait (bounded) for every accepted alert."""
    figures = StormFigures()
    work = Path(tempfile.mkdtemp(prefix="faults-"))
    azurite = AzuriteProcess(work / "azurite").start()
    env = {**{s.name: s.default for s in SETTINGS}, "AzureWebJobsStorage": azurite.connection_string,
           "ENRICHMENT_ENABLED": "false", "SWEEP_SCHEDULE": "0 0 0 1 1 *", "DEVHOST_QUEUE_LEASE_SECONDS": "15",
           "NOTIFY_CHANNELS": "console", "ANALYSIS_MODE": "rules"}
    host = HostProcess(env, work / "host.log")
    try:
        host.start()
    except Exception:
        azurite.stop()
        raise
    tag = f"storm{int(time.time())}"
    sender = Sender(host, figures, tag)
    say = print if verbose else (lambda *a, **k: None)
    started = time.monotonic()
    # (fraction of the run, what, action, run it in the background so the load goes on meanwhile)
    schedule: list[tuple[float, str, Any, bool]] = [
        (0.12, "pause storage (SIGSTOP)", azurite.pause, False), (0.28, "resume storage", azurite.resume, False),
        (0.40, "stop storage", azurite.stop, False), (0.52, "restart storage", azurite.start, False),
        (0.70, "kill the host (SIGKILL)", host.kill, False), (0.72, "restart the host", host.start, True)]
    try:
        with ThreadPoolExecutor(8) as pool:
            n, next_fault = 0, 0
            while (elapsed := time.monotonic() - started) < duration_s:
                while next_fault < len(schedule) and elapsed >= schedule[next_fault][0] * duration_s:
                    _, what, action, background = schedule[next_fault]
                    say(f"  t={elapsed:5.1f}s  {what}")
                    figures.faults.append(what)
                    if background:
                        pool.submit(action)
                    else:
                        action()
                    next_fault += 1
                pool.submit(sender.send, n)
                n += 1
                time.sleep(1 / rate_per_s)
            figures.sent = n
        figures.accepted = len(sender.accepted)
        say(f"  load stopped after {figures.sent} alerts; waiting for the accepted ones to be processed")
        _account(host, sender, figures, settle_timeout_s)
    finally:
        host.stop()
        azurite.stop()
        figures.seconds = time.monotonic() - started
        if figures.ok():
            shutil.rmtree(work, ignore_errors=True)
        else:
            say(f"  kept {work} (host.log) for a look")
    return figures


def _account(host: HostProcess, sender: Sender, figures: StormFigures, timeout_s: float) -> None:
    pending = dict(sender.accepted)
    done: dict[int, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout_s
    while pending and time.monotonic() < deadline:
        for n, alert_id in list(pending.items()):
            try:
                status, record = _call("GET", f"{host.url}/api/alerts/{alert_id}", timeout=10)
            except OSError:
                continue
            if status == 200 and record.get("status") in ("processed", "ignored", "failed"):
                done[n] = record
                del pending[n]
        if pending:
            time.sleep(1)
    figures.lost_ids = [pending[n] for n in sorted(pending)]
    for record in done.values():
        if record["status"] == "failed":
            figures.lost += 1
            figures.lost_ids.append(record["id"])
            continue
        figures.accounted += 1
        for incident_id in record.get("incident_ids") or []:
            status, incident = _call("GET", f"{host.url}/api/incidents/{incident_id}", timeout=10)
            if status == 200 and int(incident.get("occurrences") or 0) > 1:
                figures.duplicates += 1
    figures.lost += len(pending)
