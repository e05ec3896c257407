"""Storage clients (tables, queues, blobs) built from the same settings the Functions host reads.

Either `AzureWebJobsStorage` holds a connection string (Azurite, or a key-based account), or the
identity-based settings `AzureWebJobsStorage__accountName` / `__queueServiceUri` / ... are used
with DefaultAzureCredential (a user-assigned identity via `__clientId`).

Retries are short on purpose: ingest must answer 503 within a second or two when storage is
down so the Action Group retries, instead of hanging until its own timeout.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError, ResourceExistsError
from azure.data.tables import TableClient, TableServiceClient
from azure.storage.blob import BlobServiceClient, ContainerClient
from azure.storage.queue import (
    BinaryBase64DecodePolicy,
    LinearRetry,
    QueueClient,
    QueueServiceClient,
    TextBase64EncodePolicy,
)

from shared.config import STORAGE, Settings

log = logging.getLogger(__name__)
CONNECT_TIMEOUT_S = 2
READ_TIMEOUT_S = 15


_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


def use_environment_settings(environ: dict[str, str] | os._Environ[str] | None = None) -> bool:
    """Whether the HTTP transport should read proxy settings from the environment. requests' `trust_env` also
    looks for a ~/.netrc file on every request (a measurable share of each storage call); without a proxy
    variable there is nothing in the environment the storage clients need."""
    env = os.environ if environ is None else environ
    return any(env.get(name) for name in _PROXY_VARIABLES)


def _storage_retry(retries: int = 2) -> LinearRetry:
    return LinearRetry(backoff=0.3, random_jitter_range=0.2, retry_total=retries)  # type: ignore[arg-type]


@dataclass(frozen=True)
class StorageEndpoints:
    connection_string: str | None
    blob_url: str | None = None
    queue_url: str | None = None
    table_url: str | None = None
    client_id: str | None = None


def storage_endpoints(settings: Settings) -> StorageEndpoints:
    conn = settings.get(STORAGE).strip()
    if conn:
        if conn.lower() == "usedevelopmentstorage=true":
            conn = azurite_connection_string()
        return StorageEndpoints(connection_string=conn)
    account = settings.get(f"{STORAGE}__accountName").strip()

    def uri(kind: str) -> str | None:
        explicit = settings.get(f"{STORAGE}__{kind}ServiceUri").strip()
        if explicit:
            return explicit
        return f"https://{account}.{kind}.core.windows.net" if account else None

    endpoints = StorageEndpoints(
        connection_string=None, blob_url=uri("blob"), queue_url=uri("queue"), table_url=uri("table"),
        client_id=settings.get(f"{STORAGE}__clientId").strip() or None,
    )
    if not (endpoints.blob_url and endpoints.queue_url and endpoints.table_url):
        raise ValueError(f"storage is not configured: set {STORAGE} (connection string) or "
                         f"{STORAGE}__accountName (identity-based access)")
    return endpoints


AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def azurite_connection_string(host: str = "127.0.0.1", blob: int = 10000, queue: int = 10001,
                              table: int = 10002) -> str:
    """Azurite's well-known development account (public, documented key -- not a secret)."""
    account = "devstoreaccount1"
    return (f"DefaultEndpointsProtocol=http;AccountName={account};AccountKey={AZURITE_KEY};"
            f"BlobEndpoint=http://{host}:{blob}/{account};QueueEndpoint=http://{host}:{queue}/{account};"
            f"TableEndpoint=http://{host}:{table}/{account};")


class StorageClients:
    """One set of service clients per process (their HTTP connection pools are reused)."""

    def __init__(self, settings: Settings, request_hook: Callable[[Any], None] | None = None, *,
                 request_path: bool = False) -> None:
        """`request_hook(PipelineRequest)` sees every outgoing request (benchmarks and tests count them).
        `request_path`: clients for HTTP handlers, whose every call must fail within a few seconds
        (REQUEST_STORAGE_TIMEOUT_SECONDS per try, REQUEST_STORAGE_RETRIES retries) so a sender gets a fast 503;
        otherwise the processor's clients, which may wait longer for large blobs."""
        self.settings = settings
        self.endpoints = storage_endpoints(settings)
        self._credential: TokenCredential | None = None
        read_timeout: float = READ_TIMEOUT_S
        retries = 2
        if request_path:
            read_timeout = float(settings.get("REQUEST_STORAGE_TIMEOUT_SECONDS"))
            retries = settings.int_setting("REQUEST_STORAGE_RETRIES")
        common: dict[str, Any] = {"connection_timeout": min(CONNECT_TIMEOUT_S, read_timeout),
                                  "read_timeout": read_timeout, "use_env_settings": use_environment_settings()}
        if request_hook is not None:
            common["raw_request_hook"] = request_hook
        e = self.endpoints
        if e.connection_string:
            self.tables = TableServiceClient.from_connection_string(
                e.connection_string, retry_total=retries, retry_backoff_factor=0.3, **common)
            self.queues = QueueServiceClient.from_connection_string(
                e.connection_string, retry_policy=_storage_retry(retries), **common)
            self.blobs = BlobServiceClient.from_connection_string(
                e.connection_string, retry_policy=_storage_retry(retries), **common)
        else:
            from azure.identity import DefaultAzureCredential

            self._credential = DefaultAzureCredential(managed_identity_client_id=e.client_id)
            assert e.table_url and e.queue_url and e.blob_url
            self.tables = TableServiceClient(e.table_url, credential=self._credential, retry_total=retries,
                                             retry_backoff_factor=0.3, **common)
            self.queues = QueueServiceClient(e.queue_url, credential=self._credential,
                                             retry_policy=_storage_retry(retries), **common)
            self.blobs = BlobServiceClient(e.blob_url, credential=self._credential,
                                           retry_policy=_storage_retry(retries), **common)
        self._lock = threading.Lock()
        self._table_clients: dict[str, TableClient] = {}
        self._queue_clients: dict[tuple[str, bool], QueueClient] = {}

    def table(self, name: str) -> TableClient:
        with self._lock:
            if name not in self._table_clients:
                self._table_clients[name] = self.tables.get_table_client(name)
            return self._table_clients[name]

    def queue(self, name: str, *, base64: bool = True) -> QueueClient:
        """A queue client that writes base64 text, as the Functions queue trigger reads by default."""
        key = (name, base64)
        with self._lock:
            if key not in self._queue_clients:
                kwargs: dict[str, Any] = {}
                if base64:
                    kwargs = {"message_encode_policy": TextBase64EncodePolicy(),
                              "message_decode_policy": BinaryBase64DecodePolicy()}
                self._queue_clients[key] = self.queues.get_queue_client(name, **kwargs)
            return self._queue_clients[key]

    def container(self, name: str) -> ContainerClient:
        return self.blobs.get_container_client(name)

    def ensure_resources(self) -> None:
        """Create the app's tables, queues and containers when missing (idempotent)."""
        s = self.settings
        for table in s.tables():
            self.tables.create_table_if_not_exists(table)
        for queue in s.queues():
            try:
                self.queues.create_queue(queue)
            except ResourceExistsError:
                pass
        for container in s.containers():
            try:
                self.blobs.create_container(container)
            except ResourceExistsError:
                pass

    def healthy(self) -> tuple[bool, str]:
        """Whether the queue ingest writes to and the incident table are reachable."""
        try:
            self.queue(self.settings.alerts_queue).get_queue_properties()
            next(iter(self.table(self.settings.incidents_table).query_entities(
                "PartitionKey eq ''", results_per_page=1)), None)
        except AzureError as exc:
            # Anonymous callers read this: the kind of error only, never the endpoint, host or port in its text.
            log.warning("storage health check failed: %s", str(exc).splitlines()[0] if str(exc) else "")
            return False, f"unreachable ({type(exc).__name__})"
        return True, "ok"
