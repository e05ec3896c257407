"""tools.devhost behaves as the Functions host documents: routes, queue retries, poison, base64, timers."""

from __future__ import annotations

import base64
import itertools
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.queue import QueueClient, TextBase64EncodePolicy

from tests.conftest import http, wait_until
from tests.support.azurite import REPO, Azurite, free_port, wait_for_port

SAMPLE = REPO / "tests" / "support" / "sample_app"


class Sample:
    def __init__(self, url: str, out: Path, queue: QueueClient, poison: QueueClient, raw: QueueClient) -> None:
        self.url, self.out, self.queue, self.poison, self.raw = url, out, queue, poison, raw

    def lines(self, name: str) -> list[dict[str, object]]:
        path = self.out / name
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
def sample(azurite: Azurite, tmp_path: Path, unique_suffix: str) -> Iterator[Sample]:
    port = free_port()
    queue_name = f"work{unique_suffix}"
    env = {**os.environ, "AzureWebJobsStorage": azurite.connection_string, "WORK_QUEUE": queue_name,
           "SAMPLE_OUT_DIR": str(tmp_path), "AzureWebJobs.switched_off.Disabled": "true"}
    env.pop("TICK_SCHEDULE", None)
    proc = subprocess.Popen([sys.executable, "-m", "tools.devhost", "--port", str(port), "--app-dir", str(SAMPLE),
                             "--app", "sample_functions:app"], cwd=REPO, env=env,
                            stdout=open(tmp_path / "host.log", "wb"), stderr=subprocess.STDOUT)  # noqa: SIM115
    try:
        wait_for_port(port)
        cs = azurite.connection_string
        queue = QueueClient.from_connection_string(cs, queue_name, message_encode_policy=TextBase64EncodePolicy())
        poison = QueueClient.from_connection_string(cs, f"{queue_name}-poison")
        raw = QueueClient.from_connection_string(cs, queue_name)  # sends text as is, not base64

        def created(client: QueueClient) -> bool:
            try:
                client.get_queue_properties()
            except ResourceNotFoundError:
                return False
            return True

        # The host creates its trigger queue and the poison queue when its listener starts.
        wait_until(lambda: created(queue) and created(poison), timeout=15, interval=0.05)
        yield Sample(f"http://127.0.0.1:{port}", tmp_path, queue, poison, raw)
    finally:
        proc.terminate()
        proc.wait(15)


def test_http_routes_come_from_the_app_under_the_route_prefix(sample: Sample) -> None:
    status, headers, body = http("POST", f"{sample.url}/sample/echo/hello?x=1&y=two", b"payload")
    assert status == 201
    assert headers["X-Sample"] == "yes"
    assert body == {"name": "hello", "params": {"x": "1", "y": "two"}, "body": "payload", "method": "POST"}
    assert http("GET", f"{sample.url}/api/echo/hello")[0] == 404  # prefix from host.json, not "api"
    # The Functions host answers 404, not 405, for a method the route does not allow
    # (azure-functions-host #10098), HEAD on a GET-only route included (#11625).
    assert http("DELETE", f"{sample.url}/sample/echo/hello")[0] == 404
    assert http("HEAD", f"{sample.url}/sample/boom")[0] == 404
    assert http("GET", f"{sample.url}/sample/boom")[0] == 500
    assert http("GET", f"{sample.url}/sample/off")[0] == 404  # AzureWebJobs.<name>.Disabled


def test_queue_message_is_base64_decoded_and_deleted_after_success(sample: Sample) -> None:
    sample.queue.send_message("hello queue")
    records = wait_until(lambda: sample.lines("queue.jsonl"), timeout=20)
    assert records[0]["body"] == "hello queue" and records[0]["dequeue_count"] == 1
    wait_until(lambda: sample.queue.get_queue_properties().approximate_message_count == 0, timeout=10)
    assert len(sample.lines("queue.jsonl")) == 1


def test_failing_message_is_retried_max_dequeue_count_times_then_poisoned(sample: Sample) -> None:
    sample.queue.send_message("please fail")

    def poisoned() -> list[object]:
        return list(sample.poison.receive_messages(visibility_timeout=1))

    messages = wait_until(poisoned, timeout=30, interval=0.3)
    attempts = [r["dequeue_count"] for r in sample.lines("queue.jsonl") if r["body"] == "please fail"]
    assert attempts == [1, 2, 3]  # host.json maxDequeueCount = 3
    # The poison message keeps the original (base64) text.
    assert base64.b64decode(messages[0].content) == b"please fail"


def test_plain_text_message_is_poisoned_on_first_receive_without_reaching_the_function(sample: Sample) -> None:
    # Extensions.Storage.Queues: a message that fails decoding goes straight to poison (no retries).
    sent = sample.raw.send_message("not base64 {")
    messages = wait_until(lambda: list(sample.poison.receive_messages(visibility_timeout=1)), timeout=30,
                          interval=0.3)
    assert messages[0].content == "not base64 {"
    assert not [r for r in sample.lines("queue.jsonl") if "base64" in str(r["body"])]
    log_lines = [line for line in (sample.out / "host.log").read_text().splitlines() if sent.id in line]
    assert len(log_lines) == 1, log_lines  # one receive: no failed deliveries before the poison move
    assert "(dequeue count 1) moved to" in log_lines[0] and "decoding failed" in log_lines[0]


def test_timer_fires_on_its_six_field_schedule_from_local_settings(sample: Sample) -> None:
    ticks = wait_until(lambda: len(sample.lines("timer.jsonl")) >= 4 and sample.lines("timer.jsonl"), timeout=15)[:4]
    gaps = [float(b["at"]) - float(a["at"]) for a, b in itertools.pairwise(ticks)]  # type: ignore[arg-type]
    # Every second: each gap tolerates a late tick on a loaded machine (a late tick shortens the next gap),
    # while the mean over three gaps still tells 1 s from 0.5 s or 2 s schedules.
    assert all(0.1 < gap < 2.5 for gap in gaps), gaps
    assert 0.7 < sum(gaps) / len(gaps) < 1.5, gaps
    # The host never marks a scheduled invocation past due, however late (TimerListener.HandleTimerEvent).
    assert not any(t["past_due"] for t in ticks)
