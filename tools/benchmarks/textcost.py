"""`classify` and `coldstart`: classification cost by text length, and the local host's start-up.

classify: the corpus through the classifier (ms per message), then one error text at 1 KB, 100 KB and 1 MiB
  (CPU seconds; the target is < 0.5 s at 1 MiB).
coldstart: a fresh host process until its first 202, and the resident memory of a process that imported what
  the ingest route imports, with the modules of optional features (Databricks SDK, OpenAI, management SDK) that
  were, or were not, loaded.
"""

from __future__ import annotations

import http.client
import subprocess
import sys
import time
from pathlib import Path

from analysis.classifier import classify_fields
from shared.config import REPO_ROOT
from tests.support.azurite import Azurite, DevHostProcess
from tools.benchmarks.common import corpus_messages, stopping

SAMPLE = REPO_ROOT / "samples" / "azure-monitor-adf-pipeline-failed.json"
PROBE = """
import resource, sys, function_app
from orchestration import api, ingest, processing
heavy = [m for m in ("databricks.sdk", "openai", "azure.mgmt.datafactory", "azure.identity") if m in sys.modules]
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024, ",".join(heavy) or "none")
"""


def bench_classify() -> None:
    rows = corpus_messages()
    classify_fields("adf", "warm-up")
    started = time.process_time()
    for _ in range(5):
        for row in rows:
            classify_fields(row["platform"], row["message"], row.get("error_code"), row.get("failure_type"))
    per_message = (time.process_time() - started) * 1000 / (5 * len(rows))
    print(f"classify: {per_message:.2f} ms CPU per corpus message ({len(rows)} messages x 5)")
    base = " ".join(str(r["message"]) for r in rows)
    for size in (1024, 100 * 1024, 1024 * 1024):
        text = (base * (size // len(base) + 1))[:size]
        started = time.process_time()
        classify_fields("adf", text)
        seconds = time.process_time() - started
        print(f"  {size:>8} characters of error text: {seconds:.3f} s CPU ({seconds / size * 1e6:.2f} us/char)")


def bench_coldstart(repeat: int, work_dir: Path) -> None:
    body = SAMPLE.read_bytes()
    azurite = Azurite().start()
    with stopping(azurite):
        for attempt in range(repeat):
            host = DevHostProcess(env={"AzureWebJobsStorage": azurite.connection_string,
                                       "ALERTS_QUEUE": f"coldstart{attempt}",
                                       "AzureWebJobs.process.Disabled": "true",
                                       "AzureWebJobs.sweep.Disabled": "true"},
                                  log_path=work_dir / "bench-coldstart.log")
            started = time.perf_counter()
            with stopping(host):
                host.start(wait_healthy=False)
                while True:
                    try:
                        conn = http.client.HTTPConnection("127.0.0.1", host.port, timeout=30)
                        conn.request("POST", "/api/azure-monitor", body, {"Content-Type": "application/json"})
                        status = conn.getresponse().status
                    except OSError:
                        status = 0
                    if status == 202 or time.perf_counter() - started > 60:
                        break
                    time.sleep(0.02)
                print(f"coldstart: process start to first 202: {time.perf_counter() - started:.2f} s")
    probe = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO_ROOT, capture_output=True, text=True,
                           check=True, env={"PATH": "/usr/bin:/bin"})
    rss, heavy = probe.stdout.split()
    print(f"  after importing the app and its HTTP/queue paths: {rss} MB RSS; optional SDKs loaded: {heavy}")
