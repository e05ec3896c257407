"""The one small interface every platform's remediation executor implements (ADF, Synapse, Databricks, Airflow).

An executor turns a decided plan into platform calls, over the adapters in shared/platforms. It never decides
whether to act (remediation.decide does) and never retries a non-idempotent call by itself: a 5xx or a timeout on
the call that starts work leaves the outcome unknown, and `reconcile` asks the platform what really happened
before anything is tried again.

Lifecycle of one attempt, driven by the remediation orchestration:
    look()      -> Observation   before acting: something running? a later success? a rerun made by hand?
    submit()    -> Submission    start the action once (the caller holds the attempt's claim row)
    reconcile() -> Submission|None  after an unknown outcome: the run this attempt started, if any
    check()     -> RunCheck      verify: the run's state, and the new error when it failed
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from shared.models import Incident


class Seen(enum.StrEnum):
    """What the platform shows before an attempt."""

    CLEAR = "clear"  # nothing in the way: act
    IN_PROGRESS = "in_progress"  # a run of the same pipeline / job / DAG is running or queued: wait
    SUPERSEDED = "superseded"  # a later run succeeded: resolve, no action
    ADOPT = "adopt"  # someone already reran it (run group, repair, cleared task): verify that run instead


@dataclass(frozen=True)
class Observation:
    seen: Seen
    reason: str  # in words, for the audit trail
    run_ref: dict[str, Any] = field(default_factory=dict)  # the run to verify when seen is ADOPT (or SUPERSEDED)


@dataclass(frozen=True)
class Submission:
    """What a submitted action started: enough to verify it later and to reconcile a retry."""

    action: str  # e.g. "adf.rerun_from_failure", "databricks.repair_run", "databricks.start_cluster", "airflow.clear"
    run_ref: dict[str, Any]  # platform ids of the new run / repair / cleared run (JSON-serialisable)
    calls: list[dict[str, Any]] = field(default_factory=list)  # each API call made: method, path, status, result


class Outcome(enum.StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True)
class RunCheck:
    outcome: Outcome
    detail: str  # platform state in words
    error_code: str | None = None  # when FAILED: the new error, to classify again
    error_message: str | None = None
    activity: str | None = None


class UnknownOutcome(Exception):
    """The call that starts work failed in a way that leaves unknown whether it started (5xx, timeout).
    The orchestration records it and reconciles before any new attempt."""


class Executor(ABC):
    platform: ClassVar[str]
    actions: ClassVar[tuple[str, ...]]  # the action names this executor can carry out

    @abstractmethod
    def look(self, incident: Incident, action: str) -> Observation:
        """Check the platform before acting (read-only)."""

    @abstractmethod
    def submit(self, incident: Incident, action: str, attempt: int) -> Submission:
        """Start the action exactly once; raise UnknownOutcome when the result of the start call is unknown."""

    @abstractmethod
    def reconcile(self, incident: Incident, action: str, attempt: int,
                  since: str) -> Submission | None:
        """After UnknownOutcome: find the run / repair this attempt started after `since` (ISO time), or None."""

    @abstractmethod
    def check(self, incident: Incident, run_ref: dict[str, Any]) -> RunCheck:
        """Read the state of the run an attempt started (or adopted)."""
