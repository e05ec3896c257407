"""Remediation state in Table Storage (REMEDIATION_TABLE): attempt claims, circuit-breaker counters, learning.

  PartitionKey = incident id, RowKey = "attempt|<nnn>": the claim of one attempt, inserted (never upserted)
    BEFORE the platform call, so of any number of workers only one may act for that attempt. Then updated with
    ETag conditions: state (claimed -> unknown -> started -> succeeded | failed | refused), action, run_ref_json,
    claimed_at, started_at, finished_at, calls_json.
  PartitionKey = "breaker", RowKey = "<scope>|<window start>": count of actions in that window (ETag-conditional
    increments, so concurrent workers never exceed the limit).
  PartitionKey = "stats", RowKey = "sig|<signature hash>" or "pipe|<platform>|<pipeline>": attempts, successes,
    failures of remediation (learning), plus `label` for reading.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from remediation.decide import Figures

ATTEMPT_PREFIX = "attempt|"
BREAKER_PARTITION = "breaker"
STATS_PARTITION = "stats"
MAX_TRIES = 100
_KEY_FORBIDDEN = str.maketrans(dict.fromkeys("/\\#?\t\n\r", "_"))


def table_key(text: str) -> str:
    """A RowKey part: forbidden characters replaced, long values shortened with a hash."""
    clean = text.translate(_KEY_FORBIDDEN)
    if len(clean) > 200:
        clean = clean[:160] + "~" + hashlib.sha256(text.encode()).hexdigest()[:16]
    return clean


@dataclass
class Claim:
    incident_id: str
    attempt: int
    state: str
    action: str = ""
    run_ref: dict[str, Any] = field(default_factory=dict)
    claimed_at: str = ""
    started_at: str = ""
    finished_at: str = ""
    etag: str = ""

    @classmethod
    def from_entity(cls, e: dict[str, Any]) -> Claim:
        return cls(incident_id=str(e["PartitionKey"]), attempt=int(e["attempt"]), state=str(e.get("state", "")),
                   action=str(e.get("action", "")), run_ref=json.loads(e.get("run_ref_json") or "{}"),
                   claimed_at=str(e.get("claimed_at", "")), started_at=str(e.get("started_at", "")),
                   finished_at=str(e.get("finished_at", "")), etag=str(e.metadata["etag"]) if hasattr(e, "metadata")
                   else "")


class RemediationStore:
    def __init__(self, table: TableClient) -> None:
        self.table = table

    # --- claims ---------------------------------------------------------------------------
    def claim(self, incident_id: str, attempt: int, action: str, now: str) -> Claim | None:
        """Insert the attempt's claim; None when it exists already (another delivery or worker has it)."""
        entity = {"PartitionKey": incident_id, "RowKey": f"{ATTEMPT_PREFIX}{attempt:03d}", "attempt": attempt,
                  "state": "claimed", "action": action, "claimed_at": now, "run_ref_json": "{}"}
        try:
            meta = self.table.create_entity(entity)
        except ResourceExistsError:
            return None
        return Claim(incident_id, attempt, "claimed", action, {}, now, etag=str(meta.get("etag", "")))

    def get_claim(self, incident_id: str, attempt: int) -> Claim | None:
        try:
            return Claim.from_entity(self.table.get_entity(incident_id, f"{ATTEMPT_PREFIX}{attempt:03d}"))
        except ResourceNotFoundError:
            return None

    def claims(self, incident_id: str) -> list[Claim]:
        query = (f"PartitionKey eq '{incident_id.replace(chr(39), chr(39) * 2)}' and RowKey ge '{ATTEMPT_PREFIX}' "
                 f"and RowKey lt 'attempt}}'")
        return sorted((Claim.from_entity(e) for e in self.table.query_entities(query)), key=lambda c: c.attempt)

    def move_claim(self, claim: Claim, from_states: tuple[str, ...], **changes: Any) -> Claim | None:
        """Change a claim if it is still in one of `from_states` (ETag-conditional); None if another worker moved
        it first. `run_ref` and `calls` are stored as JSON."""
        for _ in range(MAX_TRIES):
            current = self.get_claim(claim.incident_id, claim.attempt)
            if current is None or current.state not in from_states:
                return None
            update: dict[str, Any] = {"PartitionKey": claim.incident_id,
                                      "RowKey": f"{ATTEMPT_PREFIX}{claim.attempt:03d}"}
            for name, value in changes.items():
                if name in ("run_ref", "calls"):
                    update[f"{name}_json"] = json.dumps(value, default=str)[:30_000]
                else:
                    update[name] = value
            try:
                self.table.update_entity(update, mode=UpdateMode.MERGE, etag=current.etag,
                                         match_condition=MatchConditions.IfNotModified)
            except HttpResponseError as exc:
                if getattr(exc, "status_code", None) == 412:
                    continue
                raise
            return self.get_claim(claim.incident_id, claim.attempt)
        return None

    # --- circuit breakers ------------------------------------------------------------------
    def _count_row(self, partition: str, row: str) -> tuple[int, str | None, dict[str, Any]]:
        try:
            e = self.table.get_entity(partition, row)
        except ResourceNotFoundError:
            return 0, None, {}
        return int(e.get("count") or 0), str(e.metadata["etag"]), dict(e)

    def breaker_count(self, scope: str, window_start: str) -> int:
        return self._count_row(BREAKER_PARTITION, table_key(f"{scope}|{window_start}"))[0]

    def reserve(self, scope: str, window_start: str, limit: int) -> bool:
        """Count one action in the window if fewer than `limit` were counted; False when the breaker is open."""
        row = table_key(f"{scope}|{window_start}")

        def bump(count: int) -> int | None:
            return count + 1 if count < limit else None

        return self._conditional(BREAKER_PARTITION, row, bump, {"scope": scope[:1000], "window": window_start})

    def release(self, scope: str, window_start: str) -> None:
        """Give back a reserved slot (the action was not taken after all)."""
        self._conditional(BREAKER_PARTITION, table_key(f"{scope}|{window_start}"),
                          lambda c: max(0, c - 1), {})

    def _conditional(self, partition: str, row: str, change: Callable[[int], int | None],
                     extra: dict[str, Any]) -> bool:
        for _ in range(MAX_TRIES):
            count, etag, _entity = self._count_row(partition, row)
            new = change(count)
            if new is None:
                return False
            entity = {"PartitionKey": partition, "RowKey": row, "count": new, **extra}
            try:
                if etag is None:
                    self.table.create_entity(entity)
                else:
                    self.table.update_entity(entity, mode=UpdateMode.MERGE, etag=etag,
                                             match_condition=MatchConditions.IfNotModified)
                return True
            except ResourceExistsError:
                pass
            except HttpResponseError as exc:
                if getattr(exc, "status_code", None) != 412:
                    raise
            time.sleep(random.uniform(0, 0.02))
        raise RuntimeError(f"too much contention on {partition}/{row}")

    # --- learning ------------------------------------------------------------------------------
    def bump_stats(self, keys: dict[str, str], field_name: str) -> None:
        """Add one to `field_name` (attempts | successes | failures) of each stats row (key -> label)."""
        for key, label in keys.items():
            row = table_key(key)
            for _ in range(MAX_TRIES):
                e: dict[str, Any] = {}
                etag: str | None = None
                try:
                    found = self.table.get_entity(STATS_PARTITION, row)
                    e, etag = dict(found), str(found.metadata["etag"])
                except ResourceNotFoundError:
                    pass
                entity: dict[str, Any] = {"PartitionKey": STATS_PARTITION, "RowKey": row, "label": label[:1000],
                          "attempts": int(e.get("attempts") or 0), "successes": int(e.get("successes") or 0),
                          "failures": int(e.get("failures") or 0)}
                entity[field_name] += 1
                try:
                    if etag is None:
                        self.table.create_entity(entity)
                    else:
                        self.table.update_entity(entity, mode=UpdateMode.MERGE, etag=etag,
                                                 match_condition=MatchConditions.IfNotModified)
                    break
                except ResourceExistsError:
                    continue
                except HttpResponseError as exc:
                    if getattr(exc, "status_code", None) != 412:
                        raise

    def figures(self, key: str) -> Figures:
        try:
            e = self.table.get_entity(STATS_PARTITION, table_key(key))
        except ResourceNotFoundError:
            return Figures()
        return Figures(int(e.get("attempts") or 0), int(e.get("successes") or 0), int(e.get("failures") or 0))

    def all_stats(self, limit: int = 1000) -> list[dict[str, Any]]:
        rows = []
        for e in self.table.query_entities(f"PartitionKey eq '{STATS_PARTITION}'", results_per_page=limit):
            figures = Figures(int(e.get("attempts") or 0), int(e.get("successes") or 0), int(e.get("failures") or 0))
            kind = "signature" if str(e["RowKey"]).startswith("sig|") else "pipeline"
            rows.append({"kind": kind, "key": e["RowKey"], "label": e.get("label", ""), "attempts": figures.attempts,
                         "successes": figures.successes, "failures": figures.failures,
                         "success_rate": figures.success_rate})
            if len(rows) >= limit:
                break
        return rows
