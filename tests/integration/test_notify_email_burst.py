"""Email through a real SMTP server (aiosmtpd) and through the real ACS Email SDK against a local fake;
a burst of incidents on one factory folded into one message per channel."""

from __future__ import annotations

import base64
from pathlib import Path

from notify.channels.email import AcsEmailChannel, SmtpChannel
from notify.message import render
from orchestration.notifications import notification_log
from orchestration.runtime import Services
from shared.lifecycle import Event
from shared.models import Failure
from shared.timeutil import utc_now_iso
from shared.transitions import EventMessage
from tests.integration.notify_support import captures, drain, notify_services
from tests.unit.analysis.secrets_corpus import PASSWORD
from tests.unit.notify.fixtures import incident
from tools.simulators.capture import CaptureServer, SmtpCapture


def test_smtp_email_with_login_and_both_parts_reaches_a_real_smtp_server() -> None:
    with SmtpCapture("mailer", "pw-1") as smtp:
        channel = SmtpChannel("127.0.0.1", smtp.port, "incidents@contoso.example", ("oncall@contoso.example",),
                              "mailer", "pw-1", starttls=False, timeout=5)
        message = render(incident(error_message=f"login failed, password={PASSWORD}"), Event.OPENED, 1)
        result = channel.send(message)
    assert result.status == "sent" and smtp.logins == ["mailer"]
    [mail] = smtp.messages
    assert smtp.envelopes == [("incidents@contoso.example", ["oncall@contoso.example"])]
    assert mail["Subject"].startswith("[P2] Pipeline failed: sales_daily")
    parts = {part.get_content_type(): part.get_content() for part in mail.walk() if not part.is_multipart()}
    assert set(parts) == {"text/plain", "text/html"}
    assert "Root cause" in parts["text/plain"] and "<table>" in parts["text/html"]
    assert PASSWORD not in mail.as_string()


def test_acs_email_through_the_real_sdk_against_a_local_fake() -> None:
    key = base64.b64encode(b"local-fake-access-key").decode()
    with CaptureServer("acs") as acs:
        channel = AcsEmailChannel.from_settings("", f"endpoint={acs.url}/;accesskey={key}",
                                                "DoNotReply@contoso.example", ("oncall@contoso.example",), 5)
        result = channel.send(render(incident(), Event.ESCALATED, 4))
    assert result.status == "sent" and result.ref == "inc-0001-4"
    [call] = acs.received("POST", "/emails:send")
    assert call.headers["authorization"].startswith("HMAC-SHA256 ")
    assert call.headers["operation-id"] == "inc-0001-4"
    assert call.body["senderAddress"] == "DoNotReply@contoso.example"
    assert call.body["recipients"]["to"] == [{"address": "oncall@contoso.example"}]
    assert {"subject", "plainText", "html"} <= set(call.body["content"])


def test_a_burst_on_one_factory_is_one_message_per_channel(app_values: dict[str, str], tmp_path: Path) -> None:
    with captures() as caps:
        svc: Services = notify_services(app_values, caps, tmp_path, NOTIFY_QUIET_SECONDS="2",
                                        NOTIFY_CHANNELS="teams,slack")
        factory = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.DataFactory/factories/f1"
        ids = []
        for run in range(4):  # four pipelines of one factory fail together
            failure = Failure(source="azure-monitor", platform="adf", resource=factory, pipeline=f"p{run}",
                              run_id=f"run-{run}", message="linked service down")
            recorded = svc.incidents.record(failure, f"alert-{run}", utc_now_iso())
            svc.incidents.update_fields(recorded.incident.id, verdict={"category": "dependency_upstream"})
            svc.lifecycle.publish(EventMessage(recorded.incident.id, 1, "opened", "open", utc_now_iso()))
            ids.append(recorded.incident.id)
        drain(svc, settle=4, limit=30)
        teams_posts, slack_posts = caps.teams.received(), caps.slack.received()
    # A bucket boundary can split the burst in two; never one message per incident.
    assert 1 <= len(teams_posts) <= 2 and len(teams_posts) == len(slack_posts)
    folded = " ".join(str(p.body) for p in teams_posts)
    assert all(i in folded for i in ids)


def test_an_incident_resolved_within_the_quiet_period_is_not_announced(app_values: dict[str, str],
                                                                       tmp_path: Path) -> None:
    with captures() as caps:
        svc: Services = notify_services(app_values, caps, tmp_path, NOTIFY_QUIET_SECONDS="2",
                                        NOTIFY_CHANNELS="teams,pagerduty")
        failure = Failure(source="airflow", platform="airflow", resource="https://af.example", pipeline="dag",
                          run_id="r1", message="flaky")
        incident_id = svc.incidents.record(failure, "alert-1", utc_now_iso()).incident.id
        svc.incidents.update_fields(incident_id, verdict={"category": "transient_network"})
        svc.lifecycle.publish(EventMessage(incident_id, 1, "opened", "open", utc_now_iso()))
        svc.lifecycle.apply(incident_id, Event.SUPERSEDED, actor="a-2", reason="the next run succeeded")
        drain(svc, settle=9, limit=40)  # the resolving event waits for the opening (quiet + 5 s)
        assert caps.teams.received() == [] and caps.pagerduty.received() == []
    log = [(e["event"], e["channel"], e["outcome"]) for e in
           notification_log(svc, incident_id)]
    assert sorted(log) == [("opened", "pagerduty", "quieted"), ("opened", "teams", "quieted"),
                           ("superseded", "pagerduty", "skipped"), ("superseded", "teams", "skipped")]
