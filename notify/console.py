"""The embedded default channel: the app's log."""

from __future__ import annotations

import logging

from shared.models import AuditAction, Failure, Incident
from shared.redaction import redact_text
from shared.stages import IncidentStage, StageResult

log = logging.getLogger(__name__)


class ConsoleNotifier(IncidentStage):
    """The embedded default channel: one line per new incident on the app's log."""

    name = "console"
    owns = "notifications"
    failure_action = AuditAction.NOTIFICATION_FAILED

    def run(self, incident: Incident, failure: Failure) -> StageResult:
        where = " / ".join(p for p in (incident.pipeline, incident.activity) if p) or "?"
        text = (f"[incident {incident.id}] {incident.platform} {where} run={incident.run_id or '-'}: "
                f"{incident.error_code or ''} {(incident.error_message or 'no error text yet')[:300]}")
        log.warning("%s", redact_text(text))
        note = {"channel": "console", "status": "sent"}
        return StageResult(fields={"notifications": [note]},
                           audit=[(AuditAction.NOTIFIED, "incident written to the console log", note)])
