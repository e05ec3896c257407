"""The local host runs functions as the Python worker does: on one thread pool, sized as the worker sizes it."""

from __future__ import annotations

import http.client
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import azure.functions as func
import pytest

from tools.devhost.app_loader import FunctionInfo, HostConfigError
from tools.devhost.host import worker_threads
from tools.devhost.http_server import DevHttpServer, build_routes


def test_pool_size_follows_python_threadpool_thread_count() -> None:
    assert worker_threads({"PYTHON_THREADPOOL_THREAD_COUNT": "3"}) == 3
    default = worker_threads({})
    assert 5 <= default <= 32  # min(32, cpus + 4)
    with pytest.raises(HostConfigError):
        worker_threads({"PYTHON_THREADPOOL_THREAD_COUNT": "64"})


def test_http_invocations_share_the_worker_pool() -> None:
    running, peak, names = 0, 0, set()
    lock = threading.Lock()

    def slow(req: func.HttpRequest) -> func.HttpResponse:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
            names.add(threading.current_thread().name)
        time.sleep(0.2)
        with lock:
            running -= 1
        return func.HttpResponse("ok")

    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="invoke")
    functions = [FunctionInfo("slow", {"type": "httpTrigger", "route": "slow", "name": "req", "methods": ["GET"]},
                              slow)]
    server = DevHttpServer(("127.0.0.1", 0), build_routes(functions, "api"), pool)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()

    def get() -> int:
        conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
        conn.request("GET", "/api/slow")
        return conn.getresponse().status

    try:
        with ThreadPoolExecutor(6) as clients:
            statuses = list(clients.map(lambda _: get(), range(6)))
    finally:
        server.shutdown()
        server.server_close()
        pool.shutdown()
    assert statuses == [200] * 6
    assert peak == 2  # six concurrent requests, two worker threads
    assert all(name.startswith("invoke") for name in names)
