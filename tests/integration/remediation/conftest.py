"""Remediation against the SIMULATED Data Factory on Azurite: services in mode auto with a fast policy, and a
driver that runs REMEDIATION_QUEUE messages the way the host's queue trigger does (visibility delays honoured)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from orchestration import processing
from orchestration.runtime import Services
from remediation import steps
from shared.config import Settings
from shared.models import Envelope, Incident
from shared.timeutil import utc_now, utc_now_iso
from tests.support.fixtures_platforms import FACTORY_ID, contoso_factory
from tools.simulators.adf import AdfSimulator, SimFactory, pipeline_failed_runs_alert

TRANSIENT = ("ErrorCode=SqlFailedToConnect, Cannot connect to SQL Database. A transport-level error has occurred "
             "when receiving results from the server.")
FAST_POLICY = """
[defaults]
max_attempts = 3
first_delay_s = 1
max_delay_s = 1
jitter = 0.0

[[pipelines]]
pipeline = "Load*"
idempotent = true
"""


@dataclass
class Env:
    services: Services
    sim: AdfSimulator
    factory: SimFactory

    @property
    def service(self) -> Any:
        assert self.services.remediation is not None
        return self.services.remediation

    def fail(self, pipeline: str = "LoadOrders", message: str = TRANSIENT, alert_id: str | None = None) -> str:
        """A failed run in the factory, reported by a PipelineFailedRuns alert and processed; the incident id."""
        run = self.factory.add_failed_run(pipeline, message, start=utc_now() - timedelta(minutes=5))
        return self.report(pipeline, run.run_start, alert_id)

    def report(self, pipeline: str, start: Any, alert_id: str | None = None) -> str:
        body = pipeline_failed_runs_alert(FACTORY_ID, pipeline, start - timedelta(minutes=1), utc_now())
        envelope = Envelope(id=alert_id or uuid.uuid4().hex, source="azure-monitor", received_at=utc_now_iso(),
                            payload=body)
        outcome = processing.process_envelope(self.services, envelope)
        assert outcome.incident_ids, outcome
        return outcome.incident_ids[0]

    def incident(self, incident_id: str) -> Incident:
        found = self.services.incidents.get(incident_id)
        assert found is not None
        return found

    def drain(self, until: Callable[[], bool], timeout: float = 30) -> list[str]:
        """Run visible REMEDIATION_QUEUE messages until `until()` holds; returns what each step did."""
        queue = self.services.storage.queue(self.services.settings.remediation_queue)
        done: list[str] = []
        deadline = time.monotonic() + timeout
        while not until():
            assert time.monotonic() < deadline, f"not reached in {timeout} s; steps so far: {done}"
            batch = list(queue.receive_messages(max_messages=16, visibility_timeout=30))

            def run(msg: Any) -> str:
                outcome = steps.handle(self.service, msg.content)
                queue.delete_message(msg)
                return outcome

            with ThreadPoolExecutor(max_workers=8) as pool:  # as the host runs a batch concurrently
                done += list(pool.map(run, batch))
            if not batch:
                time.sleep(0.2)
        return done

    def queue_empty(self) -> bool:
        queue = self.services.storage.queue(self.services.settings.remediation_queue)
        return int(queue.get_queue_properties().approximate_message_count or 0) == 0

    def queued_steps(self) -> list[dict[str, Any]]:
        queue = self.services.storage.queue(self.services.settings.remediation_queue)
        return [json.loads(m.content) for m in queue.peek_messages(max_messages=32)]


def remediation_values(app_values: dict[str, str], sim: AdfSimulator, policy: Path, **more: str) -> dict[str, str]:
    return {**app_values, "ARM_ENDPOINT": sim.url, "ALLOWED_RESOURCES": FACTORY_ID, "ENRICHMENT_ENABLED": "true",
            "ENRICHMENT_TIMEOUT_SECONDS": "3", "ENRICHMENT_MAX_RETRIES": "1", "REMEDIATION_MODE": "auto",
            "REMEDIATION_POLICY_FILE": str(policy), "REMEDIATION_VERIFY_INTERVAL_SECONDS": "1", **more}


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(FAST_POLICY, encoding="utf-8")
    return path


@pytest.fixture
def make_env(app_values: dict[str, str], policy_file: Path) -> Iterator[Callable[..., Env]]:
    sims: list[AdfSimulator] = []

    def build(**more: str) -> Env:
        sim = AdfSimulator().start()
        sims.append(sim)
        factory = contoso_factory(sim)
        factory.rerun_seconds = 0.5
        svc = Services.from_settings(Settings.from_mapping(remediation_values(app_values, sim, policy_file, **more)))
        svc.ensure_ready()
        return Env(svc, sim, factory)

    yield build
    for sim in sims:
        sim.stop()
