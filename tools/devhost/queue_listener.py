"""Queue triggers polled as the Functions host does (host.json `extensions.queues`).

- Fetch up to `batchSize` messages; fetch again when in-flight work drops to `newBatchThreshold`.
- Messages are invisible for 10 minutes while a function runs (the host's default lease);
  DEVHOST_QUEUE_LEASE_SECONDS shortens it for fault tests (a killed host's messages come back sooner).
- Success deletes the message. Failure makes it visible again after `visibilityTimeout`, and
  once its dequeue count reaches `maxDequeueCount` it is copied to `<queue>-poison` and deleted.
  A message received with a count already above the limit (a crash mid-run) goes straight there.
- `messageEncoding` base64 (default): the message text is base64-decoded before the function sees
  it; text that is not base64 goes to the poison queue on its first receive, without invoking the
  function or retrying (the host's Extensions.Storage.Queues MessageDecodingFailed handling).
- Idle polling backs off exponentially from 100 ms to `maxPollingInterval`.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import azure.functions.queue as func_queue
from azure.core.exceptions import AzureError, ResourceExistsError
from azure.storage.queue import QueueClient, QueueMessage, QueueServiceClient

from tools.devhost.app_loader import FunctionInfo, HostConfigError
from tools.devhost.http_server import invoke

log = logging.getLogger("devhost.queue")
LEASE_SECONDS = int(os.environ.get("DEVHOST_QUEUE_LEASE_SECONDS") or 600)


def parse_timespan(value: Any, default: float) -> float:
    """host.json TimeSpan "hh:mm:ss[.fff]" (or a number of seconds) -> seconds."""
    if value is None:
        return default
    if isinstance(value, int | float):
        return float(value)
    text = str(value)
    days = 0
    if "." in text.split(":")[0]:
        day_text, text = text.split(".", 1)
        days = int(day_text)
    h, m, s = text.split(":")
    return timedelta(days=days, hours=int(h), minutes=int(m), seconds=float(s)).total_seconds()


@dataclass(frozen=True)
class QueueOptions:
    batch_size: int = 16
    new_batch_threshold: int = 8
    max_dequeue_count: int = 5
    visibility_timeout_s: float = 0.0
    max_polling_interval_s: float = 60.0
    base64: bool = True

    @classmethod
    def from_host_json(cls, host: dict[str, Any]) -> QueueOptions:
        q = (host.get("extensions") or {}).get("queues") or {}
        batch = int(q.get("batchSize", 16))
        if not 1 <= batch <= 32:
            raise HostConfigError("host.json queues.batchSize must be between 1 and 32")
        encoding = str(q.get("messageEncoding", "base64")).lower()
        if encoding not in {"base64", "none"}:
            raise HostConfigError("host.json queues.messageEncoding must be base64 or none")
        return cls(
            batch_size=batch,
            new_batch_threshold=int(q.get("newBatchThreshold", batch // 2)),
            max_dequeue_count=int(q.get("maxDequeueCount", 5)),
            visibility_timeout_s=parse_timespan(q.get("visibilityTimeout"), 0.0),
            max_polling_interval_s=parse_timespan(q.get("maxPollingInterval"), 60.0),
            base64=encoding == "base64",
        )


def decode_message_text(text: str, use_base64: bool) -> bytes:
    if not use_base64:
        return text.encode("utf-8")
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError(f"message is not valid base64 text ({exc}); senders must base64-encode "
                         "(azure-storage-queue: TextBase64EncodePolicy)") from exc


class QueueListener:
    def __init__(self, function: FunctionInfo, service: QueueServiceClient, queue_name: str,
                 options: QueueOptions, executor: ThreadPoolExecutor) -> None:
        self.function = function
        self.options = options
        self.queue: QueueClient = service.get_queue_client(queue_name)
        self.poison: QueueClient = service.get_queue_client(f"{queue_name}-poison")
        self.executor = executor
        self._in_flight = 0
        self._lock = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"queue:{queue_name}", daemon=True)
        self.invocations = 0

    def start(self) -> None:
        for client in (self.queue, self.poison):
            try:
                client.create_queue()
            except ResourceExistsError:
                pass
            except AzureError as exc:
                log.warning("could not create queue %s yet: %s", client.queue_name, type(exc).__name__)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._in_flight and time.monotonic() < deadline:
                self._lock.wait(0.1)

    def _run(self) -> None:
        idle = 0.1
        while not self._stop.is_set():
            with self._lock:
                while self._in_flight > self.options.new_batch_threshold and not self._stop.is_set():
                    self._lock.wait(0.05)
                room = self.options.batch_size
            if self._stop.is_set():
                break
            try:
                messages = list(self.queue.receive_messages(messages_per_page=room, max_messages=room,
                                                            visibility_timeout=LEASE_SECONDS))
            except AzureError as exc:
                log.warning("polling %s failed: %s", self.queue.queue_name, type(exc).__name__)
                messages = []
            if not messages:
                self._stop.wait(idle)
                idle = min(idle * 2, max(self.options.max_polling_interval_s, 0.1))
                continue
            idle = 0.1
            for message in messages:
                with self._lock:
                    self._in_flight += 1
                self.executor.submit(self._handle, message)

    def _handle(self, message: QueueMessage) -> None:
        try:
            if message.dequeue_count and message.dequeue_count > self.options.max_dequeue_count:
                self._to_poison(message, "dequeue count already above maxDequeueCount")
                return
            try:
                body = decode_message_text(str(message.content), self.options.base64)
            except ValueError as exc:
                self._to_poison(message, f"message decoding failed: {exc}")
                return
            try:
                argument = func_queue.QueueMessage(  # type: ignore[no-untyped-call]
                    id=message.id, body=body, dequeue_count=message.dequeue_count,
                    expiration_time=message.expires_on, insertion_time=message.inserted_on,
                    time_next_visible=message.next_visible_on, pop_receipt=message.pop_receipt)
                self.invocations += 1
                invoke(self.function, {self.function.arg_name: argument})
            except Exception as exc:
                log.warning("function %s failed on message %s (delivery %s): %s: %s", self.function.name,
                            message.id, message.dequeue_count, type(exc).__name__, exc)
                self._after_failure(message)
                return
            self.queue.delete_message(message.id, message.pop_receipt)
        except AzureError as exc:
            log.warning("completing message %s failed: %s", message.id, type(exc).__name__)
        finally:
            with self._lock:
                self._in_flight -= 1
                self._lock.notify_all()

    def _after_failure(self, message: QueueMessage) -> None:
        if (message.dequeue_count or 0) >= self.options.max_dequeue_count:
            self._to_poison(message, f"failed {message.dequeue_count} times")
        else:
            self.queue.update_message(message.id, message.pop_receipt,
                                      visibility_timeout=int(self.options.visibility_timeout_s))

    def _to_poison(self, message: QueueMessage, why: str) -> None:
        log.error("message %s (dequeue count %s) moved to %s: %s", message.id, message.dequeue_count,
                  self.poison.queue_name, why)
        # Same text as received: the poison queue keeps the original encoding.
        self.poison.send_message(message.content)
        self.queue.delete_message(message.id, message.pop_receipt)
