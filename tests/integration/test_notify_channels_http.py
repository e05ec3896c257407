"""Channel edge cases against capture servers: the legacy Teams connector through pymsteams, error bodies,
retryable versus permanent failures, Retry-After as an HTTP date."""

from __future__ import annotations

import email.utils
import time

import pytest

from notify.channels.base import DeliveryError, retry_after_seconds
from notify.channels.pagerduty import PagerDutyChannel
from notify.channels.teams import TeamsWorkflowsChannel
from notify.channels.teams_legacy import TeamsLegacyChannel
from notify.message import render
from shared.lifecycle import Event
from tests.unit.notify.fixtures import incident
from tools.simulators.capture import CaptureServer


def test_legacy_connector_gets_a_messagecard_built_by_pymsteams() -> None:
    with CaptureServer("teams") as server:
        result = TeamsLegacyChannel(server.url + "/webhookb2/x", 5).send(render(incident(), Event.RESOLVED, 6))
        [post] = server.received()
    assert result.status == "sent"
    assert post.body["@type"] == "MessageCard" and post.body["title"].startswith("[P2] Resolved")
    facts = {f["name"]: f["value"] for f in post.body["sections"][0]["facts"]}
    assert facts["Pipeline"] == "sales_daily / CopySales"
    assert [a["name"] for a in post.body["potentialAction"]] == ["Open run", "Approve remediation"]


def test_retryable_and_permanent_failures_are_told_apart() -> None:
    message = render(incident(), Event.OPENED, 1)
    with CaptureServer("pagerduty") as server:
        channel = PagerDutyChannel(server.url + "/v2/enqueue", "rk", 5)
        server.inject(400)
        with pytest.raises(DeliveryError) as bad:
            channel.send(message)
        assert not bad.value.retryable and bad.value.http_status == 400
        server.inject(503, retry_after=7)
        with pytest.raises(DeliveryError) as busy:
            channel.send(message)
        assert busy.value.retryable and busy.value.retry_after == 7
        assert channel.send(message).status == "sent"
        url = server.url
    with pytest.raises(DeliveryError) as down:  # nothing listens any more
        PagerDutyChannel(url + "/v2/enqueue", "rk", 5).send(message)
    assert down.value.retryable


def test_a_workflow_answer_that_is_not_an_acceptance_is_a_failure() -> None:
    class Broken(CaptureServer):
        def answer(self, method: str, path: str, headers: dict[str, str],
                   body: object) -> tuple[int, dict[str, str], object]:
            return 200, {}, "Microsoft Teams endpoint returned HTTP error 429"

    with Broken("teams") as server, pytest.raises(DeliveryError):
        TeamsWorkflowsChannel(server.url, 5).send(render(incident(), Event.OPENED, 1))


def test_retry_after_as_seconds_or_http_date() -> None:
    now = time.time()
    assert retry_after_seconds("12") == 12
    assert retry_after_seconds(email.utils.formatdate(now + 30, usegmt=True), now=now) == pytest.approx(30, abs=1)
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None
