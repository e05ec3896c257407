"""Request framing and method handling of the local host's HTTP server, over a real socket."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator

import azure.functions as func
import pytest

from tools.devhost.app_loader import FunctionInfo
from tools.devhost.http_server import MAX_REQUEST_BODY_BYTES, DevHttpServer, build_routes


def _echo(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(json.dumps({"body": req.get_body().decode(), "route": dict(req.route_params)}))


@pytest.fixture
def server() -> Iterator[tuple[str, int]]:
    functions = [FunctionInfo("echo", {"type": "httpTrigger", "route": "echo/{id?}", "name": "req",
                                       "methods": ["POST"]}, _echo),
                 FunctionInfo("get", {"type": "httpTrigger", "route": "get", "name": "req", "methods": ["GET"]},
                              _echo)]
    srv = DevHttpServer(("127.0.0.1", 0), build_routes(functions, "api"))
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield "127.0.0.1", srv.server_address[1]
    finally:
        srv.shutdown()
        srv.server_close()


def exchange(address: tuple[str, int], raw: bytes) -> tuple[int, dict[str, str], bytes, bool]:
    """Send raw bytes; return (status, headers, body, whether the server then closed the connection)."""
    with socket.create_connection(address, timeout=5) as sock:
        sock.sendall(raw)
        reader = sock.makefile("rb")
        status = int(reader.readline().split()[1])
        headers = {}
        while (line := reader.readline().strip()):
            key, _, value = line.decode().partition(":")
            headers[key.strip().lower()] = value.strip()
        body = reader.read(int(headers.get("content-length", "0")))
        try:
            closed = reader.read(1) == b""
        except TimeoutError:
            closed = False
        return status, headers, body, closed


def post(path: str, headers: str, body: bytes = b"") -> bytes:
    return f"POST {path} HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode() + body


def test_chunked_request_body_is_decoded(server: tuple[str, int]) -> None:
    chunks = b"5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n"
    status, _, body, _ = exchange(server, post("/api/echo", "Transfer-Encoding: chunked\r\nConnection: close\r\n",
                                               chunks))
    assert status == 200 and json.loads(body)["body"] == "hello, world"


def test_content_length_body_still_works(server: tuple[str, int]) -> None:
    status, _, body, _ = exchange(server, post("/api/echo", "Content-Length: 3\r\nConnection: close\r\n", b"abc"))
    assert status == 200 and json.loads(body)["body"] == "abc"


@pytest.mark.parametrize("length", ["-1", "+3", "3 3", "0x3", "abc", "3, 4"])
def test_non_digit_content_length_is_400_and_closes_without_hanging(server: tuple[str, int], length: str) -> None:
    status, headers, _, closed = exchange(server, post("/api/echo", f"Content-Length: {length}\r\n", b"abc"))
    assert status == 400
    assert headers.get("connection") == "close" and closed


def test_malformed_chunk_size_is_400(server: tuple[str, int]) -> None:
    chunks = b"zz\r\nab\r\n0\r\n\r\n"
    status, _, _, closed = exchange(server, post("/api/echo", "Transfer-Encoding: chunked\r\n", chunks))
    assert status == 400 and closed


def test_body_above_the_host_limit_is_413(server: tuple[str, int]) -> None:
    too_big = MAX_REQUEST_BODY_BYTES + 1
    status, headers, _, closed = exchange(server, post("/api/echo", f"Content-Length: {too_big}\r\n"))
    assert status == 413 and closed and headers.get("connection") == "close"
    chunk = f"{too_big:x}\r\n".encode()
    status, _, _, closed = exchange(server, post("/api/echo", "Transfer-Encoding: chunked\r\n", chunk))
    assert status == 413 and closed


def test_route_value_decoded_once(server: tuple[str, int]) -> None:
    status, _, body, _ = exchange(server, post("/api/echo/abc%2541", "Content-Length: 0\r\nConnection: close\r\n"))
    assert status == 200 and json.loads(body)["route"] == {"id": "abc%41"}


@pytest.mark.parametrize("method", ["GET", "HEAD", "DELETE"])
def test_known_route_with_another_method_is_404_like_the_host(server: tuple[str, int], method: str) -> None:
    # azure-functions-host answers 404, not 405, for a method the function does not allow (#10098, #11625).
    request = f"{method} /api/echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    status, _, _, _ = exchange(server, request.encode())
    assert status == 404
    assert exchange(server, b"GET /api/get HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")[0] == 200
    assert exchange(server, b"HEAD /api/get HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")[0] == 404


def _large(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(b"x" * 8_000_000)


def test_a_client_that_disconnects_early_prints_no_traceback(capfd: pytest.CaptureFixture[str]) -> None:
    functions = [FunctionInfo("large", {"type": "httpTrigger", "route": "large", "name": "req", "methods": ["GET"]},
                              _large)]
    srv = DevHttpServer(("127.0.0.1", 0), build_routes(functions, "api"))
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        for _ in range(3):
            sock = socket.create_connection(srv.server_address, timeout=5)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            sock.sendall(b"GET /api/large HTTP/1.1\r\nHost: x\r\n\r\n")
            sock.recv(1024)  # the response has started; hang up with a reset in the middle of it
            sock.close()
        # The server is still answering after the resets.
        with socket.create_connection(srv.server_address, timeout=5) as sock:
            sock.sendall(b"GET /api/large HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert sock.recv(12).startswith(b"HTTP/1.1 200")
    finally:
        srv.shutdown()
        srv.server_close()
    err = capfd.readouterr().err
    assert "Traceback" not in err and "BrokenPipe" not in err and "ConnectionReset" not in err
