"""The process-wide services: settings, storage clients, stores and the incident stages.

Built lazily on first use (never at import, so the host can index functions without storage),
and once per process so HTTP connection pools are reused across invocations.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from orchestration.stages import default_stages
from remediation.service import RemediationService
from remediation.store import RemediationStore
from shared.config import Settings, load_settings
from shared.incidents import IncidentStore
from shared.readmodel import IncidentIndex
from shared.records import AlertStore, AuditLog
from shared.stages import IncidentStage
from shared.storage import StorageClients
from shared.transitions import Lifecycle
from shared.trendstats import IncidentStats, ReadModel


@dataclass
class Services:
    settings: Settings
    storage: StorageClients
    incidents: IncidentStore
    alerts: AlertStore
    audit: AuditLog
    lifecycle: Lifecycle
    stages: list[IncidentStage] = field(default_factory=list)
    # --- remediation (issue 8) ---
    remediation: RemediationService | None = None
    # --- end remediation ---
    index: IncidentIndex | None = None
    stats: IncidentStats | None = None
    _ready: bool = False
    _ready_lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_settings(cls, settings: Settings, request_hook: Callable[[Any], None] | None = None, *,
                      request_path: bool = False) -> Services:
        """`request_hook` sees every storage request (see StorageClients): benchmarks and tests count them.
        `request_path`: storage clients with short timeouts, for HTTP handlers (see StorageClients)."""
        storage = StorageClients(settings, request_hook, request_path=request_path)
        incidents_table = storage.table(settings.incidents_table)
        index = IncidentIndex(storage.table(settings.incident_index_table))
        stats = IncidentStats(storage.table(settings.stats_table), incidents_table)
        incidents = IncidentStore(incidents_table, storage.container(settings.payloads_container),
                                  ReadModel(index, stats))
        audit = AuditLog(storage.table(settings.audit_table))
        lifecycle = Lifecycle(incidents, audit, storage.queue(settings.events_queue))
        remediation = RemediationService(settings, incidents, audit, lifecycle,
                                         RemediationStore(storage.table(settings.remediation_table)),
                                         storage.queue(settings.remediation_queue))
        return cls(
            settings=settings,
            storage=storage,
            incidents=incidents,
            alerts=AlertStore(storage.table(settings.alerts_table)),
            audit=audit,
            lifecycle=lifecycle,
            stages=default_stages(settings, storage, remediation=remediation),
            remediation=remediation,
            index=index,
            stats=stats,
        )

    def ensure_ready(self) -> None:
        """Create tables, queues and containers once; retried on the next call if storage was down."""
        if self._ready:
            return
        with self._ready_lock:
            if not self._ready:
                self.storage.ensure_resources()
                self._ready = True


_lock = threading.Lock()
_services: Services | None = None
_request_services: Services | None = None


def services() -> Services:
    """For triggers that may take their time (queue, timer)."""
    global _services
    with _lock:
        if _services is None:
            _services = Services.from_settings(load_settings())
        return _services


def request_services() -> Services:
    """For HTTP handlers: the same settings as services(), with storage clients whose every call gives up
    within a few seconds, so a sender gets a fast 503 instead of waiting out the processor's timeouts."""
    global _request_services
    base = services()
    with _lock:
        if _request_services is None or _request_services.settings is not base.settings:
            _request_services = Services.from_settings(base.settings, request_path=True)
        return _request_services
