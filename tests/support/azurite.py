"""Start real Azurite and the local host as subprocesses on free loopback ports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from shared.config import SETTINGS
from shared.storage import azurite_connection_string

REPO = Path(__file__).resolve().parents[2]
AZURITE_BIN = REPO / "node_modules" / ".bin" / "azurite"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def stop_process(process: subprocess.Popen[bytes] | None, grace: float) -> None:
    """Terminate a child process, killing it when it outlives the grace period."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


@dataclass
class Azurite:
    """One Azurite process. `location=None` keeps data in memory; a folder survives restarts."""

    location: Path | None = None
    blob_port: int = field(default_factory=free_port)
    queue_port: int = field(default_factory=free_port)
    table_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def connection_string(self) -> str:
        return azurite_connection_string(blob=self.blob_port, queue=self.queue_port, table=self.table_port)

    def start(self) -> Azurite:
        if not AZURITE_BIN.exists():
            raise RuntimeError(f"{AZURITE_BIN} is missing: run `make test` (it runs npm install)")
        args = [str(AZURITE_BIN), "--skipApiVersionCheck", "--disableTelemetry", "--loose",
                "--blobHost", "127.0.0.1", "--queueHost", "127.0.0.1", "--tableHost", "127.0.0.1",
                "--blobPort", str(self.blob_port), "--queuePort", str(self.queue_port),
                "--tablePort", str(self.table_port)]
        if self.location is None:
            args.append("--inMemoryPersistence")
        else:
            self.location.mkdir(parents=True, exist_ok=True)
            args += ["--location", str(self.location)]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for port in (self.blob_port, self.queue_port, self.table_port):
            wait_for_port(port)
        return self

    def stop(self) -> None:
        stop_process(self.process, grace=10)
        self.process = None


BINDING_SETTINGS = ("ALERTS_QUEUE", "EVENTS_QUEUE", "NOTIFY_QUEUE", "REMEDIATION_QUEUE", "SWEEP_SCHEDULE",
                    "SLA_SCHEDULE")


@dataclass
class DevHostProcess:
    """`python -m tools.devhost` serving the real function_app with the given settings."""

    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait_healthy: bool = True) -> DevHostProcess:
        # The trigger bindings' %SETTING% expressions need a value, as in the real host; a caller that names only
        # some (benchmarks, older tests) gets the app's defaults for the rest.
        defaults = {s.name: s.default for s in SETTINGS if s.name in BINDING_SETTINGS}
        env = {**defaults, **os.environ, **self.env}
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen([sys.executable, "-m", "tools.devhost", "--port", str(self.port)],
                                        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        wait_for_port(self.port)
        if wait_healthy:
            deadline = time.monotonic() + 30
            while True:
                try:
                    with urllib.request.urlopen(f"{self.url}/api/health", timeout=5) as resp:
                        if resp.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError("devhost did not become healthy")
                time.sleep(0.1)
        return self

    def stop(self) -> None:
        stop_process(self.process, grace=15)
        self.process = None
