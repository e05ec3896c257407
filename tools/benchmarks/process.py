"""`process` and `storm`: queued alerts through the local host's queue trigger, against the raw storage floor.

process: N alerts, each a new failed run (so each makes an incident, verdict, analysis, alert record and audit).
  The floor is the storage work one such alert needs, done with the plain SDK clients by as many threads as the
  host's worker has: receive + delete the message, archive the body, read the incident (absent), one transaction
  (incident + occurrence marker), one audit row, the alert record. Rates come from the alert records' processed_at
  (first to last, so the host's start-up is not counted); CPU per alert from /proc for the host process.
storm: N alerts for R failed runs in LLM mode against the local OpenAI stub: exactly R incidents, each with
  N / R occurrences, and no more LLM calls than distinct error signatures; prints the drain time.
"""

from __future__ import annotations

import base64
import json
import os
import statistics
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableClient, TableServiceClient, UpdateMode
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueClient, TextBase64EncodePolicy

from shared.redaction import redact
from tests.support.azurite import Azurite, DevHostProcess
from tools.benchmarks.common import airflow_alert, corpus_messages, cpu_seconds, stopping
from tools.simulators.openai_server import OpenAIStub

RECEIVED_AT = "2026-11-21T03:00:00.000000Z"


def host_workers() -> int:
    """The Python worker's default thread pool (PYTHON_THREADPOOL_THREAD_COUNT unset): min(32, cpus + 4)."""
    return int(os.environ.get("PYTHON_THREADPOOL_THREAD_COUNT") or min(32, (os.cpu_count() or 1) + 4))


def envelope_text(index: int, runs: int, messages: list[str]) -> str:
    run = index % runs
    body = airflow_alert(f"dag{run:05d}", f"run{run:05d}", messages[run % len(messages)])
    return json.dumps({"id": uuid.uuid4().hex, "source": "airflow", "received_at": RECEIVED_AT,
                       "payload": redact(body)}, separators=(",", ":"))


def fill_queue(connection: str, queue: str, texts: list[str], threads: int = 16) -> None:
    client = QueueClient.from_connection_string(connection, queue, message_encode_policy=TextBase64EncodePolicy())
    try:
        client.create_queue()
    except ResourceExistsError:
        pass
    cursor = iter(texts)
    lock = threading.Lock()

    def send() -> None:
        while True:
            with lock:
                text = next(cursor, None)
            if text is None:
                return
            client.send_message(text)

    workers = [threading.Thread(target=send) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    alerts: int
    seconds: float
    cpu_ms_per_alert: float

    @property
    def rate(self) -> float:
        return self.alerts / self.seconds if self.seconds else 0.0


def _processed_span(queue: QueueClient, alerts: TableClient, expected: int, deadline: float) -> float:
    """Wait until the queue is empty and `expected` alert records exist; the seconds from the first processed_at
    to the last. The queue's length is polled, not the records (a query of thousands of rows every second would
    slow Azurite down, and with it what is measured)."""
    while time.monotonic() < deadline and (queue.get_queue_properties().approximate_message_count or 0) > 0:
        time.sleep(1.0)
    while True:
        try:
            stamps = [e["processed_at"] for e in alerts.query_entities("RowKey eq 'alert'", select=["processed_at"])]
        except ResourceNotFoundError:  # the host creates its tables on the first message
            stamps = []
        if len(stamps) >= expected or time.monotonic() > deadline:
            break
        time.sleep(1.0)
    if len(stamps) < expected:
        raise RuntimeError(f"only {len(stamps)} of {expected} alerts were processed in time")
    moments = sorted(datetime.fromisoformat(s.replace("Z", "+00:00")) for s in stamps)
    return (moments[-1] - moments[0]).total_seconds() * expected / max(expected - 1, 1)


def _feed(connection: str, queue_name: str, texts: list[str], backlog: int) -> None:
    """Send `texts`, keeping at most about `backlog` messages queued (alerts arriving while others are handled)."""
    queue = QueueClient.from_connection_string(connection, queue_name)
    while texts:
        room = backlog - (queue.get_queue_properties().approximate_message_count or 0)
        if room < backlog // 2:
            time.sleep(0.5)
            continue
        batch, texts[:] = texts[:room], texts[room:]
        fill_queue(connection, queue_name, batch, threads=4)


def host_run(azurite: Azurite, total: int, runs: int, suffix: str, log_path: Path,
             extra: dict[str, str] | None = None, timeout: float = 1800,
             backlog: int | None = None) -> tuple[Run, dict[str, str]]:
    """`backlog`: queue at most this many alerts at a time (Azurite's queue slows down with its length, as
    docs/performance.md notes), the rest as room frees up; None queues them all before the host starts."""
    values = {"AzureWebJobsStorage": azurite.connection_string, "ALERTS_QUEUE": f"alerts{suffix}",
              "EVENTS_QUEUE": f"events{suffix}", "INCIDENTS_TABLE": f"incidents{suffix}",
              "ALERTS_TABLE": f"alerts{suffix}", "AUDIT_TABLE": f"audit{suffix}", "STATE_TABLE": f"state{suffix}",
              "ANALYSIS_CACHE_TABLE": f"analysiscache{suffix}", "RAW_CONTAINER": f"raw{suffix}",
              "PAYLOADS_CONTAINER": f"payloads{suffix}", "AzureWebJobs.sweep.Disabled": "true",
              "ENRICHMENT_ENABLED": "false", **(extra or {})}
    messages = [m["message"] for m in corpus_messages()]
    texts = [envelope_text(i, runs, messages) for i in range(total)]
    first = len(texts) if backlog is None else min(backlog, len(texts))
    fill_queue(azurite.connection_string, values["ALERTS_QUEUE"], texts[:first])
    host = DevHostProcess(env=values, log_path=log_path)
    with stopping(host):
        host.start()
        assert host.process is not None
        cpu_start = process_cpu_seconds(host.process.pid)
        feeder = threading.Thread(target=_feed, daemon=True,
                                  args=(azurite.connection_string, values["ALERTS_QUEUE"], texts[first:],
                                        backlog or total))
        feeder.start()
        feeder.join(timeout)
        alerts = TableServiceClient.from_connection_string(azurite.connection_string).get_table_client(
            values["ALERTS_TABLE"])
        queue = QueueClient.from_connection_string(azurite.connection_string, values["ALERTS_QUEUE"])
        span = _processed_span(queue, alerts, total, time.monotonic() + timeout)
        cpu = process_cpu_seconds(host.process.pid) - cpu_start
    return Run(total, span, cpu * 1000 / total), values


def raw_floor_run(azurite: Azurite, total: int, suffix: str, workers: int) -> Run:
    """The floor: the storage operations of one new-incident alert, with the plain clients."""
    conn = azurite.connection_string
    queue_name = f"floor{suffix}"
    messages = [m["message"] for m in corpus_messages()]
    fill_queue(conn, queue_name, [envelope_text(i, total, messages) for i in range(total)])
    tables = TableServiceClient.from_connection_string(conn)
    incidents, audit, alerts = (tables.create_table_if_not_exists(f"{name}{suffix}")
                                for name in ("floorinc", "flooraudit", "flooralerts"))
    blobs = BlobServiceClient.from_connection_string(conn).get_container_client(f"floorraw{suffix}")
    blobs.create_container()
    queue = QueueClient.from_connection_string(conn, queue_name)
    padding = "x" * 3000  # an incident row carries its verdict and analysis
    done = 0
    lock = threading.Lock()

    def one(message: Any) -> None:
        envelope = json.loads(base64.b64decode(message.content))
        key = uuid.uuid4().hex
        blobs.upload_blob(f"{key}.json", json.dumps(envelope["payload"]).encode(), overwrite=True)
        try:
            incidents.get_entity(key, "incident")
        except ResourceNotFoundError:  # absent, as for a new failed run
            pass
        incidents.submit_transaction([("create", {"PartitionKey": key, "RowKey": "incident", "analysis": padding}),
                                      ("create", {"PartitionKey": key, "RowKey": "occ|" + envelope["id"]})])
        audit.create_entity({"PartitionKey": key, "RowKey": f"{RECEIVED_AT}|{key[:12]}", "action": "created"})
        alerts.upsert_entity({"PartitionKey": envelope["id"], "RowKey": "alert", "status": "processed"},
                             mode=UpdateMode.REPLACE)
        queue.delete_message(message.id, message.pop_receipt)

    def worker() -> None:
        nonlocal done
        while True:
            with lock:
                if done >= total:
                    return
            batch = list(queue.receive_messages(messages_per_page=16, max_messages=16, visibility_timeout=600))
            if not batch:
                with lock:
                    if done >= total:
                        return
                time.sleep(0.05)
                continue
            for message in batch:
                one(message)
                with lock:
                    done += 1

    cpu_start, started = cpu_seconds(), time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Run(total, time.perf_counter() - started, (cpu_seconds() - cpu_start) * 1000 / total)


def bench_process(total: int, repeat: int, work_dir: Path) -> None:
    azurite = Azurite().start()
    workers = host_workers()
    ratios: list[float] = []
    with stopping(azurite):
        print(f"process: {total} alerts (each a new failed run), {workers} worker threads, {repeat} runs")
        for attempt in range(repeat):
            raw = raw_floor_run(azurite, total, f"r{attempt}", workers)
            app, _ = host_run(azurite, total, total, f"p{attempt}", work_dir / "bench-process.log")
            ratios.append(app.rate / raw.rate)
            print(f"  run {attempt + 1}: raw floor {raw.rate:6.1f}/s ({raw.cpu_ms_per_alert:5.1f} ms CPU/alert)   "
                  f"host {app.rate:6.1f}/s ({app.cpu_ms_per_alert:5.1f} ms host CPU/alert)   "
                  f"ratio {app.rate / raw.rate:.2f}")
    print(f"process / raw floor = {statistics.median(ratios):.2f} (median of {repeat}; aim >= 0.5)")


def bench_storm(total: int, runs: int, work_dir: Path, backlog: int = 1000) -> None:
    azurite = Azurite().start()
    stub = OpenAIStub().start()
    with stopping(azurite, stub):
        print(f"storm: {total} alerts for {runs} failed runs, ANALYSIS_MODE=llm against the local OpenAI stub; "
              f"at most {backlog} queued at a time")
        started = time.perf_counter()
        run, values = host_run(azurite, total, runs, "storm", work_dir / "bench-storm.log",
                               {"ANALYSIS_MODE": "llm", "OPENAI_BASE_URL": stub.base_url,
                                "OPENAI_API_KEY": "bench-key"}, timeout=3600, backlog=backlog)
        table = TableServiceClient.from_connection_string(azurite.connection_string).get_table_client(
            values["INCIDENTS_TABLE"])
        rows = list(table.query_entities("RowKey eq 'incident'", select=["PartitionKey", "occurrences",
                                                                            "verdict_json"]))
        counts = sorted({int(r["occurrences"]) for r in rows})
        signatures = {json.loads(r["verdict_json"])["signature"]["hash"] for r in rows if r.get("verdict_json")}
        calls = len(stub.requests)
        exact = len(rows) == runs and counts == [total // runs]
        print(f"  incidents {len(rows)} (expected {runs}); occurrences per incident {counts} "
              f"(expected [{total // runs}])")
        print(f"  LLM calls {calls} for {len(signatures)} distinct signatures")
        print(f"  drain {run.seconds:.1f}s ({run.rate:.1f} alerts/s, {run.cpu_ms_per_alert:.1f} ms host CPU/alert); "
              f"whole scenario incl. enqueue and start-up {time.perf_counter() - started:.0f}s")
        print(f"storm exact: {'yes' if exact and calls <= len(signatures) else 'NO'}")
