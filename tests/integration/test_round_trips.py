"""Storage round trips per processed alert, counted on the real clients (a request hook, real Azurite).

Budget for a new incident: read the incident (absent), one transaction creating it (incident, marker, event row),
the event message, one transaction with every stage's fields and the event's published mark, one transaction
with every audit entry, the analysis cache's stats (read + write), the alert record and the archived body.
A repeated report: read, one transaction counting it, its audit entry, the alert record, the archive.
"""

from __future__ import annotations

import uuid

from orchestration import processing
from orchestration.runtime import Services
from shared.config import Settings
from shared.models import AlertStatus, AuditAction, Envelope
from shared.redaction import redact
from tools.benchmarks.common import RequestCounter, airflow_alert

# Storage requests for one alert. The spine alone (archive, record, stage results, audit, alert record, opened
# event) takes 9; with the integrated stages a new incident also updates the dashboard's index and counters
# (~9), reads the analysis cache (2) and plans its remediation (~12: run index, claims, breakers, learning
# figures, the plan write and its audit) -- measured 32 in the default mode (dry-run). Budgets catch regressions.
NEW_INCIDENT_BUDGET = 33
REPEAT_BUDGET = 8


def _envelope(run: str, message: str) -> Envelope:
    return Envelope(id=uuid.uuid4().hex, source="airflow", received_at="2026-11-21T03:00:00.000000Z",
                    payload=redact(airflow_alert("orders", run, message)))


def test_new_incident_and_repeat_stay_within_their_round_trip_budget(settings: Settings) -> None:
    counter = RequestCounter.new()
    services = Services.from_settings(settings, request_hook=counter)
    services.ensure_ready()
    counter.reset()

    first = processing.process_envelope(services, _envelope("run-1", "Login failed for user 'etl'"))
    assert first.status is AlertStatus.PROCESSED
    created_counts = dict(counter.counts)
    assert counter.total() <= NEW_INCIDENT_BUDGET, created_counts

    counter.reset()
    again = processing.process_envelope(services, _envelope("run-1", "Login failed for user 'etl'"))
    assert again.incident_ids == first.incident_ids
    assert counter.total() <= REPEAT_BUDGET, dict(counter.counts)

    # Nothing was lost by batching: every stage's field, every audit entry, the event marked published.
    incident = services.incidents.get(first.incident_ids[0])
    assert incident is not None and incident.verdict and incident.analysis and incident.ownership
    assert incident.remediation and incident.remediation["state"] == "dry_run"
    assert incident.occurrences == 2
    actions = [e.action for e in services.audit.trail(incident.id)]
    for action in (AuditAction.INCIDENT_CREATED, AuditAction.CLASSIFIED, AuditAction.ANALYZED,
                   AuditAction.REMEDIATION_DRY_RUN, AuditAction.OCCURRENCE_RECORDED):
        assert actions.count(action) == 1, actions
    assert [row["published"] for row in services.incidents.events(incident.id)] == [True]
