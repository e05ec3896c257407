"""`ingest`: alerts accepted per second over HTTP (POST /api/azure-monitor through the local host, processing
switched off so only ingest is measured) next to raw `send_message` of the same envelope size to the same Azurite
with the same concurrency, with p50 / p99 latency and the host's CPU per accepted alert."""

from __future__ import annotations

import http.client
import json
import statistics
import uuid
from collections.abc import Callable
from pathlib import Path

from azure.storage.queue import QueueClient, TextBase64EncodePolicy

from shared.config import REPO_ROOT
from tests.support.azurite import Azurite, DevHostProcess
from tools.benchmarks.common import run_load, stopping
from tools.benchmarks.process import process_cpu_seconds

SAMPLE = REPO_ROOT / "samples" / "azure-monitor-adf-pipeline-failed.json"


def bench_ingest(total: int, concurrency: int, repeat: int, work_dir: Path) -> None:
    body = SAMPLE.read_bytes()
    azurite = Azurite().start()
    host = DevHostProcess(env={"AzureWebJobsStorage": azurite.connection_string, "ALERTS_QUEUE": "benchalerts",
                               "AzureWebJobs.process.Disabled": "true", "AzureWebJobs.sweep.Disabled": "true"},
                          log_path=work_dir / "bench-devhost.log")
    with stopping(azurite, host):
        host.start()
        assert host.process is not None
        envelope = json.dumps({"id": uuid.uuid4().hex, "source": "azure-monitor",
                               "received_at": "2026-01-01T00:00:00.000000Z", "payload": json.loads(body)},
                              separators=(",", ":"))

        def raw_worker() -> Callable[[int], None]:
            client = QueueClient.from_connection_string(azurite.connection_string, "benchraw",
                                                        message_encode_policy=TextBase64EncodePolicy())

            def send(_: int) -> None:
                client.send_message(envelope)

            return send

        def http_worker() -> Callable[[int], None]:
            conn = http.client.HTTPConnection("127.0.0.1", host.port, timeout=30)

            def post(_: int) -> None:
                conn.request("POST", "/api/azure-monitor", body, {"Content-Type": "application/json"})
                response = conn.getresponse()
                response.read()
                if response.status != 202:
                    raise RuntimeError(f"ingest answered {response.status}")

            return post

        QueueClient.from_connection_string(azurite.connection_string, "benchraw").create_queue()
        warm = max(50, total // 20)
        run_load("warm-up (raw, not counted)", warm, concurrency, raw_worker, quiet=True)
        run_load("warm-up (http, not counted)", warm, concurrency, http_worker, quiet=True)
        print(f"ingest: {total} alerts of {len(body)} bytes, concurrency {concurrency}, {repeat} runs")
        ratios = []
        for _ in range(repeat):
            raw = run_load("raw send_message to Azurite", total, concurrency, raw_worker)
            cpu = process_cpu_seconds(host.process.pid)
            ingest = run_load("POST /api/azure-monitor (devhost)", total, concurrency, http_worker)
            cpu = process_cpu_seconds(host.process.pid) - cpu
            print(f"    host CPU {cpu * 1000 / total:.2f} ms per accepted alert; ratio {ingest / raw:.2f}")
            ratios.append(ingest / raw)
        print(f"ingest / raw = {statistics.median(ratios):.2f} (median of {repeat}; aim >= 0.6)")
