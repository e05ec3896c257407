"""Review findings (pure): wire size of the Teams card, big bursts, long URLs, Jira webhook inputs."""

from __future__ import annotations

import json

from notify.channels import slack, teams
from notify.jira_inbound import parse, sign, signature_ok
from notify.message import render
from shared.lifecycle import Event
from tests.unit.notify.adaptive_card import check_card
from tests.unit.notify.fixtures import incident

LIMIT = 28 * 1024


def wire_size(body: dict) -> int:  # type: ignore[type-arg]
    """What the channel puts on the wire (its own encoder), not a re-measure."""
    return len(teams.encode(body))


def test_teams_card_measured_as_sent_for_non_ascii_error_text() -> None:
    # 8,000 CJK characters: 24 KB in UTF-8 but 48 KB as \\uXXXX escapes (what json= in requests sends).
    message = render(incident(error_message="错" * 1_000_000), Event.OPENED, 1)
    body = teams.payload(message)
    assert wire_size(body) <= LIMIT
    assert json.loads(teams.encode(body)) == body


def test_teams_card_under_28_kb_for_a_burst_of_a_thousand_incidents() -> None:
    folded = [f"inc-{i:05d}-{'x' * 30}" for i in range(1000)]
    body = teams.payload(render(incident(), Event.OPENED, 1, folded=folded))
    assert wire_size(body) <= LIMIT and check_card(body["attachments"][0]["content"]) == []
    facts = {f["title"] for f in body["attachments"][0]["content"]["body"][2]["facts"]}
    assert {"Pipeline", "Run", "Incident"} <= facts


def test_teams_card_under_28_kb_when_every_outside_text_is_escaped_heavily() -> None:
    ctl = "\x01" * 5000  # each costs six bytes in JSON
    message = render(incident(pipeline=ctl, activity=ctl, run_id=ctl, error_code=ctl, team=ctl, owner=ctl,
                              error_message=ctl, analysis={"summary": ctl},
                              remediation={"state": "planned", "action": ctl, "summary": ctl, "reason": ctl}),
                     Event.OPENED, 1)
    body = teams.payload(message)
    assert wire_size(body) <= LIMIT and check_card(body["attachments"][0]["content"]) == []


def test_link_urls_fit_a_slack_button() -> None:
    long_url = "https://adf.azure.com/monitoring/" + "a" * 5000
    message = render(incident(links={"run": long_url}), Event.OPENED, 1)
    for block in slack.blocks(message):
        for element in block.get("elements", []):
            assert len(element.get("url", "")) <= 3000


def test_jira_signature_check_never_raises_on_odd_headers() -> None:
    body = b'{"issue": {}}'
    good = sign("s", body)
    assert signature_ok("s", body, good)
    for header in ("sha256=é" + "0" * 63, "sha1=" + good[7:], "SHA256 " + good[7:], "sha256=", good + "\x00"):
        assert signature_ok("s", body, header) is False


def test_jira_parse_rejects_odd_shapes_with_value_error_not_a_crash() -> None:
    odd = [
        {"issue": {"key": "OPS-1", "fields": {"status": {"name": "Done", "statusCategory": "done"}}}},
        {"issue": {"key": "OPS-1", "fields": {"status": {"name": "Done"}, "labels": 7}}},
        {"issue": {"key": "OPS-1", "fields": {"status": {"name": "Done"}}}, "changelog": {"items": 5}},
        {"issue": {"key": ["OPS-1"], "fields": {"status": {"name": "Done"}}}},
    ]
    for data in odd:
        change = parse(json.dumps(data).encode())
        assert change is None or change.key in ("", "OPS-1")
    deep = b"[" * 100_000 + b"]" * 100_000
    try:
        parse(deep)
    except ValueError:
        pass
