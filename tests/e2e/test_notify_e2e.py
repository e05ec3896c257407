"""Notifications through the real wiring: devhost serves function_app (ingest, the processor, the
events-queue fan-out, the delivery queue) and the channels post to local capture servers."""

from __future__ import annotations

import json
from pathlib import Path

from notify.jira_inbound import sign
from tests.conftest import http, wait_until
from tests.integration.notify_support import captures
from tests.support.azurite import DevHostProcess

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "databricks-job-failed.json"


def test_an_alert_becomes_one_message_per_channel_and_the_log_is_in_the_incident_api(
        app_values: dict[str, str], tmp_path: Path) -> None:
    routing = tmp_path / "routing.toml"
    with captures() as caps:
        from tests.integration.notify_support import ROUTING
        routing.write_text(ROUTING, encoding="utf-8")
        env = {**app_values, **caps.values(routing), "NOTIFY_QUIET_SECONDS": "1"}
        host = DevHostProcess(env=env, log_path=tmp_path / "devhost.log").start()
        try:
            for _ in range(3):  # the same alert three times
                status, _, body = http("POST", f"{host.url}/api/databricks-monitor", SAMPLE.read_bytes())
                assert status == 202
            wait_until(lambda: len(caps.teams.received()) >= 1 and len(caps.smtp.messages) >= 1, timeout=60)
            status, _, listing = http("GET", f"{host.url}/api/incidents?team=data-platform")
            assert status == 200 and len(listing["items"]) == 1
            incident_id = listing["items"][0]["id"]

            def logged() -> list[dict[str, object]] | None:
                _, _, incident = http("GET", f"{host.url}/api/incidents/{incident_id}")
                sent = [e for e in incident["notifications_log"] if e["outcome"] == "sent"]
                return sent if len(sent) == 5 else None

            sent = wait_until(logged, timeout=30)
            assert sorted(str(e["channel"]) for e in sent) == ["console", "email", "pagerduty", "slack", "teams"]
            assert len(caps.teams.received()) == 1 and len(caps.slack.received()) == 1
            # The Jira webhook route is anonymous but signed.
            body = json.dumps({"issue": {"key": "OPS-9", "fields": {"status": {"name": "Done"}}}}).encode()
            status, _, answer = http("POST", f"{host.url}/api/jira-webhook", body,
                                     {"X-Hub-Signature": sign("not-the-secret", body)})
            assert status == 401 and answer["error"] == "invalid_signature"
            status, _, answer = http("POST", f"{host.url}/api/jira-webhook", body,
                                     {"X-Hub-Signature": sign("whsec-test", body)})
            assert status == 200 and "ignored" in answer
        finally:
            host.stop()
