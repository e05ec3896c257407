"""The local host: loads the app, serves HTTP, polls queues, fires timers."""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from azure.storage.queue import QueueServiceClient

from shared.storage import azurite_connection_string
from tools.devhost.app_loader import (
    FunctionInfo,
    HostConfigError,
    apply_local_settings,
    load_functions,
    load_host_json,
    resolve,
)
from tools.devhost.http_server import FUNCTION_KEYS_ENV, DevHttpServer, build_routes
from tools.devhost.queue_listener import QueueListener, QueueOptions
from tools.devhost.timers import TimerRunner

log = logging.getLogger("devhost")


def queue_service(connection: str) -> QueueServiceClient:
    """A queue client for a binding's `connection` setting: connection string or identity-based."""
    value = os.environ.get(connection, "")
    if value.strip().lower() == "usedevelopmentstorage=true":
        value = azurite_connection_string()
    if value:
        return QueueServiceClient.from_connection_string(value)
    uri = os.environ.get(f"{connection}__queueServiceUri") or (
        f"https://{os.environ[f'{connection}__accountName']!s}.queue.core.windows.net"
        if os.environ.get(f"{connection}__accountName") else "")
    if not uri:
        raise HostConfigError(f"queue connection {connection!r} is not configured")
    from azure.identity import DefaultAzureCredential

    credential = DefaultAzureCredential(managed_identity_client_id=os.environ.get(f"{connection}__clientId"))
    return QueueServiceClient(uri, credential=credential)


def worker_threads(environ: dict[str, str] | os._Environ[str] | None = None) -> int:
    """The Python worker's thread pool for synchronous functions: PYTHON_THREADPOOL_THREAD_COUNT, else (Python
    3.9+ workers) ThreadPoolExecutor's default of min(32, cpus + 4). HTTP and queue invocations share it."""
    env = os.environ if environ is None else environ
    value = (env.get("PYTHON_THREADPOOL_THREAD_COUNT") or "").strip()
    if value:
        count = int(value)
        if not 1 <= count <= 32:
            raise HostConfigError("PYTHON_THREADPOOL_THREAD_COUNT must be between 1 and 32")
        return count
    return min(32, (os.cpu_count() or 1) + 4)


class DevHost:
    def __init__(self, app_dir: Path, target: str = "function_app:app", address: str = "127.0.0.1",
                 port: int = 7071) -> None:
        apply_local_settings(app_dir)
        os.chdir(app_dir)
        self.host_json = load_host_json(app_dir)
        self.functions: list[FunctionInfo] = load_functions(target, app_dir)
        http = (self.host_json.get("extensions") or {}).get("http") or {}
        self.route_prefix = str(http.get("routePrefix", "api"))
        self.routes = build_routes(self.functions, self.route_prefix)
        keys = tuple(k.strip() for k in os.environ.get(FUNCTION_KEYS_ENV, "").split(",") if k.strip())
        self.workers = worker_threads()
        self.executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="invoke")
        self.server = DevHttpServer((address, port), self.routes, self.executor, function_keys=keys)
        if int(os.environ.get("FUNCTIONS_WORKER_PROCESS_COUNT") or 1) > 1:
            log.warning("FUNCTIONS_WORKER_PROCESS_COUNT > 1: the local host runs one worker process; figures "
                        "measured here are per worker process")
        options = QueueOptions.from_host_json(self.host_json)
        self.listeners: list[QueueListener] = []
        self.timers: list[TimerRunner] = []
        for info in self.functions:
            if info.trigger_type == "queueTrigger":
                if info.disabled():
                    continue
                queue_name = resolve(str(info.trigger["queueName"]))
                connection = str(info.trigger.get("connection") or "AzureWebJobsStorage")
                self.listeners.append(QueueListener(info, queue_service(connection), queue_name, options,
                                                    self.executor))
            elif info.trigger_type == "timerTrigger":
                if info.disabled():
                    continue  # as the host: a disabled function's binding expressions are never resolved
                self.timers.append(TimerRunner(info))
        self._server_thread = threading.Thread(target=self.server.serve_forever, name="http", daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def start(self) -> None:
        self._server_thread.start()
        for listener in self.listeners:
            listener.start()
        for timer in self.timers:
            timer.start()

    def stop(self) -> None:
        self.server.shutdown()
        for timer in self.timers:
            timer.stop()
        for listener in self.listeners:
            listener.stop()
        self.executor.shutdown(wait=True, cancel_futures=False)
        self.server.server_close()

    def describe(self) -> list[str]:
        host, port = str(self.server.server_address[0]), self.port
        lines = [f"Functions (local host, http://{host}:{port}; {self.workers} worker threads):"]
        for route in self.routes:
            methods = ",".join(sorted(route.methods))
            lines.append(f"  {route.function.name}: [{methods}] http://{host}:{port}/{route.template}")
        for listener in self.listeners:
            lines.append(f"  {listener.function.name}: queueTrigger {listener.queue.queue_name}")
        for timer in self.timers:
            lines.append(f"  {timer.function.name}: timerTrigger {timer.expression}")
        return lines
