"""The sweep: find failed runs that no alert reported, and queue them like an alert.

For each target (SWEEP_FACTORIES, SWEEP_SYNAPSE_WORKSPACES, the Databricks workspace when
SWEEP_DATABRICKS) the sweep lists the runs that failed since the target's watermark minus
SWEEP_OVERLAP_MINUTES (SWEEP_LOOKBACK_MINUTES back on the first run), oldest update first, one
API call per page of failed runs. A run that already has an incident (shared.identity, the source
is not part of it, so an alert and the sweep make one incident) or that an earlier sweep already
queued (a marker row) is skipped; the others are enqueued as `{"failures": [failure]}` with their
run id, and the processor's enrichment (SweepExtractor.enrich) fetches the activity error -- so
the sweep's own API calls grow with pages, not runs.

Work is bounded: at most SWEEP_MAX_ENQUEUE enqueued per invocation over all targets. The watermark
advances only after enqueueing: to the end of the window when the target was swept completely, else
to the last enqueued run's update time, so nothing left over is skipped by the next invocation.

State, table STATE_TABLE:
  PartitionKey "sweep-watermark", RowKey = key(target): target, watermark (ISO), updated_at, last_report
  PartitionKey "sweep-queued-<key(target)>", RowKey = incident id: run_id, last_updated, enqueued_at
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from orchestration.ingest import enqueue
from orchestration.runtime import Services
from shared.config import Settings
from shared.identity import incident_identity
from shared.models import Failure, Platform, Source
from shared.platforms.adf import AdfFactory
from shared.platforms.common import error_text
from shared.platforms.runs import PipelineRunsApi, iter_run_pages, moment, reported_by_parent
from shared.platforms.synapse import SynapseWorkspace
from shared.timeutil import to_iso, utc_now

if TYPE_CHECKING:
    from shared.platforms.databricks import DatabricksWorkspace

log = logging.getLogger(__name__)
WATERMARK_PARTITION = "sweep-watermark"


def target_key(target: str) -> str:
    return hashlib.sha256(target.strip().lower().encode()).hexdigest()[:32]


@dataclass
class TargetReport:
    target: str
    platform: str
    window_start: str = ""
    window_end: str = ""
    pages: int = 0
    found: int = 0  # failed runs seen
    known: int = 0  # already an incident, or queued by an earlier sweep
    enqueued: int = 0
    bounded: bool = False  # stopped at SWEEP_MAX_ENQUEUE
    watermark: str | None = None  # after this invocation
    api_calls: dict[str, int] = field(default_factory=dict)
    error: str | None = None


@dataclass
class SweepReport:
    targets: list[TargetReport] = field(default_factory=list)

    @property
    def enqueued(self) -> int:
        return sum(t.enqueued for t in self.targets)

    def to_dict(self) -> dict[str, Any]:
        return {"enqueued": self.enqueued, "sources": len(self.targets), "targets": [asdict(t) for t in self.targets]}


class SweepState:
    """Watermarks and queued-run markers in the state table."""

    def __init__(self, table: TableClient) -> None:
        self.table = table

    def watermark(self, target: str) -> datetime | None:
        try:
            entity = self.table.get_entity(WATERMARK_PARTITION, target_key(target))
        except ResourceNotFoundError:
            return None
        return moment(entity.get("watermark"))

    def set_watermark(self, target: str, value: datetime, report: TargetReport) -> None:
        self.table.upsert_entity({
            "PartitionKey": WATERMARK_PARTITION, "RowKey": target_key(target), "target": target,
            "watermark": to_iso(value), "updated_at": to_iso(utc_now()),
            "last_report": json.dumps(asdict(report))[:30_000]}, mode=UpdateMode.REPLACE)

    def _partition(self, target: str) -> str:
        return f"sweep-queued-{target_key(target)}"

    def queued(self, target: str) -> dict[str, datetime | None]:
        query = "PartitionKey eq '" + self._partition(target) + "'"
        return {e["RowKey"]: moment(e.get("last_updated")) for e in self.table.query_entities(query)}

    def mark_queued(self, target: str, incident_id: str, failure: Failure, last_updated: datetime) -> None:
        self.table.upsert_entity({"PartitionKey": self._partition(target), "RowKey": incident_id,
                                  "run_id": failure.run_id or "", "last_updated": to_iso(last_updated),
                                  "enqueued_at": to_iso(utc_now())}, mode=UpdateMode.REPLACE)

    def prune(self, target: str, markers: dict[str, datetime | None], before: datetime) -> None:
        """Markers of runs older than the next window can never be re-read: delete them."""
        for incident_id, updated in markers.items():
            if updated is not None and updated < before:
                self.table.delete_entity(self._partition(target), incident_id)


@dataclass
class Budget:
    left: int


def run(services: Services, *, now: datetime | None = None) -> SweepReport:
    """One sweep over every configured target. Errors of one target are reported, not raised."""
    settings = services.settings
    services.ensure_ready()
    now = now or utc_now()
    state = SweepState(services.storage.table(settings.state_table))
    budget = Budget(settings.int_setting("SWEEP_MAX_ENQUEUE"))
    report = SweepReport()
    apis: list[tuple[str, Any]] = [(t, AdfFactory) for t in settings.sweep_factories]
    apis += [(t, SynapseWorkspace) for t in settings.sweep_synapse_workspaces]
    for target, kind in apis:
        try:
            api: PipelineRunsApi = kind(target, settings)
        except ValueError as exc:
            report.targets.append(TargetReport(target, "?", error=str(exc)))
            continue
        report.targets.append(_sweep(services, state, target, api.platform, _pipeline_runs(api), budget, now, api))
    if settings.sweep_databricks:
        from shared.platforms.databricks import DatabricksWorkspace  # databricks-sdk loads only when swept

        workspace = DatabricksWorkspace(settings)
        target = f"databricks:{workspace.host}"
        report.targets.append(_sweep(services, state, target, "databricks", _databricks_runs(workspace, settings),
                                     budget, now, workspace))
    for t in report.targets:
        log.info("sweep %s %s: window %s..%s, %d page(s), %d failed run(s), %d already known, %d enqueued%s, "
                 "API calls %s, watermark %s%s", t.platform, t.target, t.window_start, t.window_end, t.pages,
                 t.found, t.known, t.enqueued, " (bounded by SWEEP_MAX_ENQUEUE)" if t.bounded else "",
                 t.api_calls, t.watermark, f", error: {t.error}" if t.error else "")
    return report


# Given the window, a source yields pages of (failure, last update), oldest update first.
PageSource = Callable[[datetime, datetime], Iterator[list[tuple[Failure, datetime]]]]


def _pipeline_runs(api: PipelineRunsApi) -> PageSource:
    def pages(since: datetime, until: datetime) -> Iterator[list[tuple[Failure, datetime]]]:
        # All failed runs of the window first: a child run is skipped only when its parent failed in the
        # same window (the parent reports it); a parent may come on a later page (it ends after its child).
        all_pages = list(iter_run_pages(api, since, until, status="Failed"))
        failed_ids = {str(r.get("runId")) for page in all_pages for r in page}
        for page in all_pages:
            out = []
            for run in page:
                if reported_by_parent(run, failed_ids):
                    continue  # a child run: its parent failed too and reports the child's error
                updated = moment(run.get("lastUpdated")) or moment(run.get("runEnd")) or until
                out.append((_pipeline_failure(api, run), updated))
            yield out

    return pages


def _pipeline_failure(api: PipelineRunsApi, run: dict[str, Any]) -> Failure:
    run_id = str(run.get("runId"))
    return Failure(
        source=Source.SWEEP.value, platform=api.platform, resource=api.resource_id,
        pipeline=str(run.get("pipelineName") or "") or None, run_id=run_id,
        start=_iso(run.get("runStart")), end=_iso(run.get("runEnd") or run.get("lastUpdated")),
        message=str(run.get("message") or "") or None, links={"run": api.run_link(run_id)},
        origin={"found_by": "sweep", "run_status": run.get("status"), "last_updated": _iso(run.get("lastUpdated")),
                "invoked_by": (run.get("invokedBy") or {}).get("name")},
    )


def _databricks_runs(workspace: DatabricksWorkspace, settings: Settings) -> PageSource:
    lookback = timedelta(minutes=settings.int_setting("SWEEP_LOOKBACK_MINUTES"))

    def pages(since: datetime, until: datetime) -> Iterator[list[tuple[Failure, datetime]]]:
        # runs/list filters on start time: look a lookback further back, keep runs that ended in the window.
        resource = workspace.workspace_id()
        found = []
        for run in workspace.failed_runs(int((since - lookback).timestamp() * 1000), int(until.timestamp() * 1000)):
            ended = moment(_ms(run.get("end_time")))
            if ended is None or not since <= ended <= until:
                continue
            state = run.get("state") or {}
            found.append((Failure(
                source=Source.SWEEP.value, platform=Platform.DATABRICKS.value, resource=resource,
                pipeline=run.get("run_name") or str(run.get("job_id") or "") or None, run_id=str(run.get("run_id")),
                start=_ms(run.get("start_time")), end=_ms(run.get("end_time")),
                message=state.get("state_message") or None,
                links={"run": str(run["run_page_url"])} if run.get("run_page_url") else {},
                origin={"found_by": "sweep", "job_id": str(run.get("job_id") or ""), "workspace_id": resource,
                        "result_state": state.get("result_state")}), ended))
        yield sorted(found, key=lambda item: item[1])

    return pages


def _sweep(services: Services, state: SweepState, target: str, platform: str, source: PageSource, budget: Budget,
           now: datetime, api: Any) -> TargetReport:
    settings = services.settings
    overlap = timedelta(minutes=settings.int_setting("SWEEP_OVERLAP_MINUTES"))
    try:
        mark = state.watermark(target)
    except Exception as exc:  # a storage problem with this target: report it, sweep the others
        report = TargetReport(target, platform, error=error_text(exc, f"reading the sweep watermark of {target}"))
        log.warning("sweep %s failed: %s", target, report.error)
        return report
    since = mark - overlap if mark else now - timedelta(minutes=settings.int_setting("SWEEP_LOOKBACK_MINUTES"))
    report = TargetReport(target, platform, to_iso(since), to_iso(now))
    advance_to: datetime | None = None  # the last enqueued run's update time
    complete = False
    markers: dict[str, datetime | None] = {}
    try:
        markers = state.queued(target)
        for page in source(since, now):
            report.pages += 1
            report.found += len(page)
            ids = [incident_identity(failure)[0] for failure, _ in page]
            known = services.incidents.exists(ids) | {i for i in ids if i in markers}
            for incident_id, (failure, updated) in zip(ids, page, strict=True):
                if incident_id in known:
                    report.known += 1
                    continue
                if budget.left <= 0:
                    report.bounded = True
                    break
                enqueue(services, Source.SWEEP.value, {"failures": [failure.to_dict()]})
                state.mark_queued(target, incident_id, failure, updated)
                markers[incident_id] = updated
                budget.left -= 1
                report.enqueued += 1
                advance_to = updated
            if report.bounded:
                break
        complete = not report.bounded
    except Exception as exc:  # an API or storage problem: keep what was enqueued, retry the rest next time
        report.error = error_text(exc, f"sweep of {target}")
        log.warning("sweep %s failed: %s", target, report.error)
    report.api_calls = {k: v for k, v in getattr(api, "calls", {}).items() if v}
    new_mark = now if complete else advance_to
    saved = mark
    if new_mark is not None and (mark is None or new_mark > mark):
        try:
            state.set_watermark(target, new_mark, report)
            saved = new_mark
        except Exception as exc:  # the queued-run markers keep the next sweep from enqueueing twice
            problem = error_text(exc, f"saving the sweep watermark of {target}")
            report.error = f"{report.error}; {problem}" if report.error else problem
            log.warning("sweep %s: %s", target, problem)
        else:
            try:
                state.prune(target, markers, new_mark - overlap)
            except Exception as exc:  # pruning is housekeeping only
                log.warning("sweep %s: could not prune queued-run markers: %s", target, exc)
    report.watermark = to_iso(saved) if saved else None
    return report


def _iso(value: Any) -> str | None:
    found = moment(value)
    return to_iso(found) if found else None


def _ms(value: Any) -> str | None:
    try:
        millis = int(value)
    except (TypeError, ValueError):
        return None
    return to_iso(datetime.fromtimestamp(millis / 1000, UTC)) if millis > 0 else None
