"""What the platform adapters share: credentials, bounded retries, timeouts, a client cache.

Credentials: DefaultAzureCredential (managed identity in Azure, `az login` on a laptop), created once
per process. The only exception is a simulator on the loopback interface (`http://127.0.0.1:...`):
the Azure SDK refuses to send a bearer token over plain HTTP, and a simulator has no Entra ID, so a
fixed `LocalDevCredential` token is sent by our own `LoopbackBearerPolicy`. Both refuse to work for
any other endpoint, so a real token never travels over HTTP and a fake one never reaches Azure.

Resilience: every call has a read timeout; 408/429/5xx and timeouts are retried a bounded number of
times; a 429/503 `Retry-After` is honoured when it is at most ENRICHMENT_MAX_RETRY_AFTER_SECONDS,
otherwise the call fails at once (the caller records the error and keeps what it had).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from azure.core.credentials import AccessToken, TokenCredential
from azure.core.exceptions import AzureError, HttpResponseError, ServiceRequestError, ServiceResponseError
from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import RetryPolicy, SansIOHTTPPolicy

from shared.config import Settings

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
LOCAL_DEV_TOKEN = "local-dev-token"  # what simulators accept; meaningless anywhere else
# Read-only queries (queryPipelineRuns, queryActivityruns) are POSTs, so POST is retried too;
# a call that is not idempotent (createRun) passes `retry_on_methods=NON_IDEMPOTENT_RETRY`.
READ_RETRY_METHODS = frozenset({"GET", "HEAD", "POST"})
NON_IDEMPOTENT_RETRY = frozenset({"GET", "HEAD"})

T = TypeVar("T")


def is_loopback_http(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "http" and (parts.hostname or "") in LOOPBACK_HOSTS


def require_secure_endpoint(url: str, what: str) -> str:
    """`url` when a credential may be sent to it: https, or plain HTTP to a loopback simulator.

    Anything else (http:// to another host, no scheme, another scheme) raises ValueError, so a
    bearer token or API key never travels in clear text over the network."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() == "https" and parts.hostname:
        return url
    if is_loopback_http(url.strip()):
        return url
    raise ValueError(f"{what} must be an https:// URL (plain http is only allowed to a loopback simulator such as "
                     f"http://127.0.0.1:port); refusing to send credentials to {url!r}")


def optional_setting(settings: Settings, name: str, default: str) -> str:
    """A setting that may not be declared in shared.config yet: its value, else `default`."""
    try:
        value = settings.get(name)
    except KeyError:
        value = ""
    return value.strip() or default


@dataclass(frozen=True)
class CallOptions:
    """Timeout and retry bounds of one platform call."""

    timeout_s: float = 20.0
    max_retries: int = 3
    max_retry_after_s: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings) -> CallOptions:
        return cls(
            timeout_s=float(optional_setting(settings, "ENRICHMENT_TIMEOUT_SECONDS", "20")),
            max_retries=int(optional_setting(settings, "ENRICHMENT_MAX_RETRIES", "3")),
            max_retry_after_s=float(optional_setting(settings, "ENRICHMENT_MAX_RETRY_AFTER_SECONDS", "30")),
        )

    @property
    def budget_s(self) -> float:
        """Longest one call may take, all retries included."""
        return (self.timeout_s + self.max_retry_after_s) * (self.max_retries + 1)


class LocalDevCredential:
    """A fixed token for a simulator on 127.0.0.1. Only `azure_credential` hands it out, and only
    for a loopback HTTP endpoint."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(LOCAL_DEV_TOKEN, int(time.time()) + 3600)


class LoopbackBearerPolicy(SansIOHTTPPolicy[Any, Any]):
    """Adds `Authorization: Bearer` on plain HTTP, which the SDK's own policy refuses -- for loopback only."""

    def __init__(self, credential: TokenCredential, scope: str) -> None:
        self._credential = credential
        self._scope = scope

    def on_request(self, request: PipelineRequest[Any]) -> None:
        url = request.http_request.url
        if not is_loopback_http(url) and not url.startswith("https://"):
            raise ServiceRequestError(f"refusing to send a bearer token over plain HTTP to {url}")
        token = self._credential.get_token(self._scope)
        request.http_request.headers["Authorization"] = f"Bearer {token.token}"


class BoundedRetryPolicy(RetryPolicy[Any, Any]):
    """azure-core's retry (408/429/5xx, timeouts; Retry-After honoured), bounded: at most
    `max_retries` retries, and a Retry-After longer than `max_retry_after_s` is not waited for."""

    def __init__(self, options: CallOptions) -> None:
        super().__init__(retry_total=options.max_retries, retry_connect=options.max_retries,
                         retry_read=options.max_retries, retry_status=options.max_retries,
                         retry_backoff_factor=0.5, retry_backoff_max=10, timeout=int(options.budget_s) + 1)
        self._method_whitelist = READ_RETRY_METHODS
        self.max_retry_after_s = options.max_retry_after_s

    def is_retry(self, settings: dict[str, Any], response: PipelineResponse[Any, Any]) -> bool:
        retry_after = self.get_retry_after(response)
        if retry_after is not None and retry_after > self.max_retry_after_s:
            return False
        return bool(super().is_retry(settings, response))


_credential_lock = threading.Lock()
_default_credential: TokenCredential | None = None


def azure_credential(endpoint: str, injected: TokenCredential | None = None) -> TokenCredential:
    """The credential for an Azure endpoint: an injected one, the loopback one, or DefaultAzureCredential."""
    if injected is not None:
        return injected
    if is_loopback_http(endpoint):
        return LocalDevCredential()
    global _default_credential
    with _credential_lock:
        if _default_credential is None:
            from azure.identity import DefaultAzureCredential

            _default_credential = DefaultAzureCredential()
        return _default_credential


class ClientCache:
    """One client per key per process (their connection pools are reused across invocations)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clients: dict[tuple[Any, ...], Any] = {}

    def get(self, key: tuple[Any, ...], build: Callable[[], T]) -> T:
        with self._lock:
            if key not in self._clients:
                self._clients[key] = build()
            client: T = self._clients[key]
            return client

    def clear(self) -> None:
        with self._lock:
            self._clients.clear()


def error_text(exc: BaseException, what: str) -> str:
    """One line for `Extraction.enrichment_errors`: which call failed and how."""
    if isinstance(exc, HttpResponseError) and exc.status_code is not None:
        status = exc.status_code
        reason = exc.reason or ""
        detail = (exc.message or str(exc)).strip().splitlines()[0] if (exc.message or str(exc)).strip() else ""
        hint = {401: "not authenticated", 403: "not authorized (grant the app's identity a reader role)",
                404: "not found", 429: "throttled"}.get(status, "")
        parts = [f"{what}: HTTP {status} {reason}".rstrip(), hint, detail[:300]]
        return " - ".join(p for p in parts if p)
    if isinstance(exc, ServiceResponseError | ServiceRequestError):
        return f"{what}: no answer in time or connection failed ({type(exc).__name__}: {str(exc)[:200]})"
    # databricks-sdk errors end with ". Config: host=..., token=***" -- the first part is the message.
    text = str(exc).split(". Config: ")[0].strip()
    code = getattr(exc, "error_code", None) or getattr(exc, "status", None)
    label = f"{type(exc).__name__} ({code})" if code and not isinstance(exc, AzureError) else type(exc).__name__
    return f"{what}: {label}: {text[:300]}"


@dataclass(frozen=True)
class ArmResource:
    """A top-level ARM resource: /subscriptions/{s}/resourceGroups/{g}/providers/{ns}/{type}/{name}."""

    resource_id: str  # trimmed to the top-level resource, case kept as given
    subscription: str
    resource_group: str
    type: str  # lower case, e.g. "microsoft.datafactory/factories"
    name: str


def parse_arm_id(value: str | None) -> ArmResource | None:
    """The top-level resource an ARM id names (a child path such as /pipelines/x is trimmed), else None."""
    if not value or not isinstance(value, str):
        return None
    parts = [p for p in value.strip().strip("/").split("/") if p]
    lowered = [p.lower() for p in parts]
    try:
        sub = lowered.index("subscriptions")
        group = lowered.index("resourcegroups")
        provider = lowered.index("providers")
    except ValueError:
        return None
    if not (sub < group < provider) or len(parts) < provider + 4:
        return None
    top = parts[: provider + 4]
    return ArmResource(
        resource_id="/" + "/".join(top),
        subscription=parts[sub + 1],
        resource_group=parts[group + 1],
        type=f"{lowered[provider + 1]}/{lowered[provider + 2]}",
        name=parts[provider + 3],
    )
