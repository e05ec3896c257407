"""Aggregates kept up to date as incidents change, so trend and count panels read a few rows, not every incident.

Table STATS_TABLE:
  PartitionKey "day", RowKey "YYYY-MM-DD": opened, resolved, auto_resolved (resolved with no person: remediated,
    superseded or cleared by the alert), mttr_sum_s / mttr_n (time from first seen to resolved, on the resolution
    day), by_category_json and by_pipeline_json ({name: count} of the incidents first seen that day).
  PartitionKey "sig", RowKey <error signature hash>: text, category, incidents, retries (remediation started),
    retry_successes (remediation succeeded).
  PartitionKey "totals", RowKey "status": one count per incident status.

Each change is counted once: a marker row "stat|<what>" is created in the incident's own partition of the
incidents table before the counters move, and a change whose marker exists is skipped (a redelivered alert or a
re-run stage). Counters move with ETag-conditional merges, so concurrent writers never lose an increment. A crash
between the marker and the counter loses that one count (at most once), which a trend tolerates.
"""

from __future__ import annotations

import json
import logging
import random
import time
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableClient, TableEntity, UpdateMode

from shared.lifecycle import Event, IncidentStatus
from shared.models import Incident
from shared.readmodel import day_of, seconds_between

log = logging.getLogger(__name__)
MAP_CAP = 200  # distinct names kept per day and map; the rest count under OTHER
OTHER = "(other)"
AUTO_RESOLUTIONS = frozenset({"auto_remediated", "superseded", "by_resolve_alert"})
_DAY_NUMBERS = ("opened", "resolved", "auto_resolved", "mttr_sum_s", "mttr_n")


class IncidentStats:
    def __init__(self, table: TableClient, markers: TableClient) -> None:
        self.table = table
        self.markers = markers

    # --- writes ----------------------------------------------------------------------------
    def _first_time(self, incident_id: str, what: str) -> bool:
        try:
            self.markers.create_entity({"PartitionKey": incident_id, "RowKey": f"stat|{what}"})
        except ResourceExistsError:
            return False
        return True

    def _bump(self, pk: str, rk: str, add: dict[str, float], maps: dict[str, str] | None = None,
              fixed: dict[str, Any] | None = None) -> None:
        """Add `add` to numeric properties and +1 to `maps` ({map property: key}), conditional on the ETag."""
        for attempt in range(100):
            try:
                current: TableEntity | None = self.table.get_entity(pk, rk)
            except ResourceNotFoundError:
                current = None
            row: dict[str, Any] = {"PartitionKey": pk, "RowKey": rk, **(fixed or {})}
            before: dict[str, Any] = dict(current) if current is not None else {}
            for name, delta in add.items():
                row[name] = before.get(name, 0) + delta
            for prop, key in (maps or {}).items():
                counts: dict[str, int] = json.loads(before.get(prop) or "{}")
                key = key if key in counts or len(counts) < MAP_CAP else OTHER
                counts[key] = counts.get(key, 0) + 1
                row[prop] = json.dumps(counts)
            try:
                if current is None:
                    self.table.create_entity(row)
                    return
                else:
                    self.table.update_entity(row, mode=UpdateMode.MERGE, etag=current.metadata["etag"],
                                             match_condition=MatchConditions.IfNotModified)
                return
            except (ResourceExistsError, ResourceNotFoundError):
                pass
            except Exception as exc:  # 412: changed meanwhile
                if getattr(exc, "status_code", None) != 412:
                    raise
            time.sleep(random.uniform(0, min(0.02 * (attempt + 1), 0.3)))
        raise RuntimeError(f"stats row {pk}/{rk}: too much contention")

    def opened(self, incident: Incident) -> None:
        if not self._first_time(incident.id, "opened"):
            return
        self._bump("day", day_of(incident.first_seen), {"opened": 1},
                   {"by_pipeline_json": incident.pipeline or incident.resource or "(unnamed)"})
        self._bump("totals", "status", {incident.status: 1})

    def classified(self, incident: Incident) -> None:
        verdict = incident.verdict or {}
        if not verdict or not self._first_time(incident.id, "classified"):
            return
        category = str(verdict.get("category") or "unknown")
        self._bump("day", day_of(incident.first_seen), {}, {"by_category_json": category})
        signature = verdict.get("signature") or {}
        if signature.get("hash"):
            self._bump("sig", str(signature["hash"]), {"incidents": 1},
                       fixed={"text": str(signature.get("text") or "")[:500], "category": category})

    def transitioned(self, before: str, incident: Incident, event: Event, seq: int, now: str) -> None:
        if not self._first_time(incident.id, f"evt|{seq:06d}"):
            return
        if before != incident.status:
            self._bump("totals", "status", {before: -1, incident.status: 1})
        if incident.status == IncidentStatus.RESOLVED.value and event is not Event.REOPENED:
            add = {"resolved": 1.0, "mttr_sum_s": seconds_between(incident.first_seen, now), "mttr_n": 1.0}
            if incident.resolution in AUTO_RESOLUTIONS:
                add["auto_resolved"] = 1
            self._bump("day", day_of(now), add)
        signature = ((incident.verdict or {}).get("signature") or {}).get("hash")
        if signature and event in (Event.REMEDIATION_STARTED, Event.REMEDIATION_SUCCEEDED):
            name = "retries" if event is Event.REMEDIATION_STARTED else "retry_successes"
            self._bump("sig", str(signature), {name: 1})

    # --- reads -----------------------------------------------------------------------------
    def status_counts(self) -> dict[str, int]:
        try:
            row: dict[str, Any] = dict(self.table.get_entity("totals", "status"))
        except ResourceNotFoundError:
            row = {}
        return {s.value: int(row.get(s.value) or 0) for s in IncidentStatus}

    def days(self, first: str, last: str) -> list[dict[str, Any]]:
        """Day rows from `first` to `last` (YYYY-MM-DD, inclusive), oldest first; missing days are absent."""
        query = f"PartitionKey eq 'day' and RowKey ge '{first}' and RowKey le '{last}'"
        out = []
        for e in self.table.query_entities(query):
            day: dict[str, Any] = {"day": e["RowKey"]}
            day.update({name: float(e.get(name) or 0) for name in _DAY_NUMBERS})
            day["by_category"] = json.loads(e.get("by_category_json") or "{}")
            day["by_pipeline"] = json.loads(e.get("by_pipeline_json") or "{}")
            out.append(day)
        return sorted(out, key=lambda d: str(d["day"]))

    def signatures(self, top: int = 10) -> list[dict[str, Any]]:
        rows = [dict(e) for e in self.table.query_entities("PartitionKey eq 'sig'")]
        rows.sort(key=lambda r: (-int(r.get("incidents") or 0), str(r["RowKey"])))
        out = []
        for r in rows[:top]:
            retries = int(r.get("retries") or 0)
            successes = int(r.get("retry_successes") or 0)
            out.append({"signature": r["RowKey"], "text": r.get("text") or "", "category": r.get("category") or "",
                        "incidents": int(r.get("incidents") or 0), "retries": retries,
                        "retry_successes": successes,
                        "retry_success_rate": round(successes / retries, 3) if retries else None})
        return out


class ReadModel:
    """Keeps the index and the counters in step with the incident; errors are logged, never raised, because the
    incident write they follow has already happened (the next change or tools.reindex repairs the index)."""

    def __init__(self, index: Any, stats: IncidentStats) -> None:
        self.index = index
        self.stats = stats

    def recorded(self, incident: Incident, created: bool) -> None:
        try:
            self.index.put(incident)
            if created:
                self.stats.opened(incident)
        except Exception:
            log.exception("read model update (record) of incident %s failed", incident.id)

    def fields_changed(self, incident: Incident) -> None:
        try:
            self.index.put(incident)
            self.stats.classified(incident)
        except Exception:
            log.exception("read model update (fields) of incident %s failed", incident.id)

    def transitioned(self, before: str, incident: Incident, event: Event, seq: int, now: str) -> None:
        try:
            self.index.put(incident)
            self.stats.transitioned(before, incident, event, seq, now)
        except Exception:
            log.exception("read model update (transition) of incident %s failed", incident.id)
