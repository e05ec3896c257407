"""Demo history for the dashboard: a week of incidents on every platform, classified by the app's own stages,
some remediated, resolved by hand, escalated or waiting for approval, so every panel has data.

Writes through the app's stores (IncidentStore.record / update_fields / transition and the audit log), so the
index and the counters are filled exactly as in production. `python -m tools.dashboard_demo` seeds the storage
that local.settings.json names (Azurite for `make run`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from orchestration.runtime import Services, services
from shared.lifecycle import Event
from shared.models import AuditAction, Failure
from shared.stages import StageResult
from shared.timeutil import to_iso, utc_now
from shared.transitions import AUDIT_OF

FACTORY = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-data/providers/" \
          "Microsoft.DataFactory/factories/contoso-adf"
PORTAL = "https://adf.azure.com/en/monitoring/pipelineruns/{run}?factory=" + FACTORY.replace("/", "%2F")


TEAMS = {"adf": "Data Platform", "synapse": "Data Platform", "databricks": "ML Engineering", "airflow": "Analytics"}


@dataclass(frozen=True)
class DemoFailure:
    platform: str
    source: str
    pipeline: str
    activity: str
    code: str
    message: str
    outcome: str  # open | auto_remediated | by_hand | escalated | waiting_approval | acknowledged


DEMO: tuple[DemoFailure, ...] = (
    DemoFailure("adf", "azure-monitor", "IngestOrders", "CopyOrders", "2200",
                "ErrorCode=SqlOperationFailed,'Type=Microsoft.DataTransfer.Common.Shared.HybridDeliveryException,"
                "Message=A database operation failed. Execution Timeout Expired.", "auto_remediated"),
    DemoFailure("databricks", "databricks", "nightly_features", "build_features", "RUN_EXECUTION_ERROR",
                "org.apache.spark.SparkException: Job aborted due to stage failure: OutOfMemoryError: Java heap "
                "space", "by_hand"),
    DemoFailure("airflow", "airflow", "daily_sales_report", "load_to_warehouse", "",
                "psycopg2.OperationalError: could not connect to server: Connection refused", "auto_remediated"),
    DemoFailure("adf", "azure-monitor", "ingest_customers", "LookupWatermark", "2011",
                "The user does not have permission to perform this action. Status code 403 Forbidden",
                "escalated"),
    DemoFailure("synapse", "sweep", "LoadDimProduct", "SparkJob", "2011",
                "Livy session failed: HTTP 429 Too Many Requests, retry later", "waiting_approval"),
    DemoFailure("adf", "sweep", "IngestOrders", "CopyOrders", "2200",
                "ErrorCode=UserErrorFileNotFound,'Message=The specified blob does not exist: orders/2026.csv",
                "open"),
    DemoFailure("databricks", "databricks", "nightly_features", "score_model", "RUN_EXECUTION_ERROR",
                "ConcurrentAppendException: Files were added to the root of the table by a concurrent update.",
                "acknowledged"),
    DemoFailure("airflow", "airflow", "daily_sales_report", "extract_api", "",
                "requests.exceptions.HTTPError: 503 Server Error: Service Unavailable", "open"),
)


def _stages(svc: Services, incident_id: str, failure: Failure) -> None:
    for stage in svc.stages:
        if stage.name == "remediation":  # demo history has its outcomes written below; nothing is to be run
            continue
        incident = svc.incidents.get(incident_id)
        if incident is None or (stage.owns and getattr(incident, stage.owns, None) is not None):
            continue
        result = stage.run(incident, failure) or StageResult()
        if result.fields:
            svc.incidents.update_fields(incident_id, **result.fields)
        for action, reason, details in result.audit:
            svc.audit.append(incident_id, action, stage.name, reason, details)


def _event(svc: Services, incident_id: str, event: Event, when: datetime, actor: str, reason: str,
           **kwargs: object) -> None:
    now = to_iso(when)
    done = svc.incidents.transition(incident_id, event, actor=actor, reason=reason, now=now, **kwargs)  # type: ignore[arg-type]
    if done is not None:
        svc.audit.append(incident_id, AUDIT_OF[event], actor, reason, {"event": event.value, "seq": done.seq},
                         time=now)


def seed(svc: Services, now: datetime | None = None, rounds: int = 3) -> list[str]:
    """`rounds` copies of DEMO spread over the last days, newest first in the order of DEMO; the incident ids."""
    svc.ensure_ready()
    now = now or utc_now()
    ids = []
    for r in range(rounds):
        for i, demo in enumerate(DEMO):
            first = now - timedelta(hours=(r * len(DEMO) + i) * 7 + 1)
            run_id = f"demo-{r}-{i}"
            failure = Failure(source=demo.source, platform=demo.platform, resource=FACTORY if demo.platform in
                              ("adf", "synapse") else f"https://{demo.platform}.example.net", pipeline=demo.pipeline,
                              run_id=run_id, activity=demo.activity, error_code=demo.code or None,
                              failure_type="UserError", message=demo.message,
                              links={"run": PORTAL.format(run=run_id)} if demo.platform == "adf" else {})
            recorded = svc.incidents.record(failure, f"demo-alert-{run_id}", to_iso(first))
            incident = recorded.incident
            ids.append(incident.id)
            if not recorded.created:  # seeded by an earlier run (make run keeps Azurite's data)
                continue
            svc.audit.append(incident.id, AuditAction.INCIDENT_CREATED, "processor",
                             f"first report (alert demo-alert-{run_id})", time=to_iso(first))
            _stages(svc, incident.id, failure)
            # After the stages: the demo's own teams win over what routing.toml gives these made-up pipelines.
            svc.incidents.update_fields(incident.id, team=TEAMS[demo.platform], owner=f"{demo.pipeline}-owner")
            _outcome(svc, incident.id, demo.outcome, first)
    return ids


def _outcome(svc: Services, incident_id: str, outcome: str, first: datetime) -> None:
    later = first + timedelta(minutes=20)
    if outcome == "auto_remediated":
        _event(svc, incident_id, Event.REMEDIATION_STARTED, later, "remediation", "rerun from the failed activity",
               fields={"remediation": {"state": "remediating", "action": "rerun_from_failure", "attempts": [
                   {"attempt": 1, "run_id": "rerun-1", "status": "InProgress"}]}})
        _event(svc, incident_id, Event.REMEDIATION_SUCCEEDED, later + timedelta(minutes=9), "remediation",
               "the rerun succeeded", fields={"remediation": {"state": "resolved", "action": "rerun_from_failure",
                                                              "attempts": [{"attempt": 1, "run_id": "rerun-1",
                                                                            "status": "Succeeded"}]}})
    elif outcome == "by_hand":
        _event(svc, incident_id, Event.ACKNOWLEDGED, later, "alice", "looking at the cluster size")
        _event(svc, incident_id, Event.RESOLVED, later + timedelta(hours=2), "alice", "cluster resized",
               resolution="by_hand")
    elif outcome == "escalated":
        _event(svc, incident_id, Event.ESCALATED, later, "remediation", "not retry-safe: permissions")
    elif outcome == "waiting_approval":
        _event(svc, incident_id, Event.APPROVAL_REQUESTED, later, "remediation", "rerun needs approval",
               fields={"remediation": {"state": "waiting_approval", "action": "rerun",
                                       "approval_url": "https://example.invalid/approve"}})
    elif outcome == "acknowledged":
        _event(svc, incident_id, Event.ACKNOWLEDGED, later, "bob", "on it")


def main() -> int:
    ids = seed(services())
    print(f"seeded {len(ids)} demo incidents")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
