"""The process-wide services: settings, storage clients, stores and the incident stages.

Built lazily on first use (never at import, so the host can index functions without storage),
and once per process so HTTP connection pools are reused across invocations.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from orchestration.stages import default_stages
from shared.config import Settings, load_settings
from shared.incidents import IncidentStore
from shared.records import AlertStore, AuditLog
from shared.stages import IncidentStage
from shared.storage import StorageClients
from shared.transitions import Lifecycle


@dataclass
class Services:
    settings: Settings
    storage: StorageClients
    incidents: IncidentStore
    alerts: AlertStore
    audit: AuditLog
    lifecycle: Lifecycle
    stages: list[IncidentStage] = field(default_factory=list)
    _ready: bool = False
    _ready_lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_settings(cls, settings: Settings, *, request_path: bool = False) -> Services:
        """`request_path`: storage clients with short timeouts, for HTTP handlers (see StorageClients)."""
        storage = StorageClients(settings, request_path=request_path)
        incidents = IncidentStore(storage.table(settings.incidents_table),
                                  storage.container(settings.payloads_container))
        audit = AuditLog(storage.table(settings.audit_table))
        return cls(
            settings=settings,
            storage=storage,
            incidents=incidents,
            alerts=AlertStore(storage.table(settings.alerts_table)),
            audit=audit,
            lifecycle=Lifecycle(incidents, audit, storage.queue(settings.events_queue)),
            stages=default_stages(settings, storage),
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
