"""The pure renderer and each channel's payload: Adaptive Card 1.4 and 28 KB, Block Kit limits, PagerDuty,
Jira ADF, email parts, and no secret from the redaction corpus in any payload."""

from __future__ import annotations

import json

import pytest

from notify.channels import jira, pagerduty, slack, teams
from notify.channels.console import line
from notify.channels.email import SmtpChannel, html_body
from notify.channels.teams_legacy import TeamsLegacyChannel
from notify.message import Message, render
from shared.lifecycle import Event
from tests.unit.analysis.secrets_corpus import all_secret_values, text_with_all_secrets
from tests.unit.notify.adaptive_card import check_card
from tests.unit.notify.fixtures import incident


def test_teams_card_is_adaptive_card_1_4_with_facts_and_buttons() -> None:
    body = teams.payload(render(incident(), Event.APPROVAL_REQUESTED, 3, incident_url="https://app.example/i/{id}"))
    assert body["type"] == "message"
    [attachment] = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert check_card(card) == []
    facts = {f["title"]: f["value"] for f in card["body"][2]["facts"]}
    assert facts["Pipeline"] == "sales_daily / CopySales" and facts["Priority"] == "P2"
    assert facts["Team"] == "sales-data" and facts["Category"] == "missing_source_data"
    titles = [a["title"] for a in card["actions"]]
    assert titles == ["Open run", "Open incident", "Approve remediation"]
    assert card["actions"][1]["url"] == "https://app.example/i/inc-0001"


def test_the_checker_rejects_what_workflows_reject() -> None:
    card = teams.card(render(incident(), Event.OPENED, 1))
    assert check_card({**card, "version": "1.5"})
    assert check_card({**card, "actions": [{"type": "Action.Submit", "title": "x"}]})
    assert check_card({**card, "body": [{"type": "Table", "columns": []}]})
    assert check_card({**card, "body": [{"type": "TextBlock", "text": "x", "style": "heading"}]})


def test_teams_card_stays_under_28_kb_for_a_1_mb_error_and_keeps_every_fact() -> None:
    huge = "Ünïcödé \"quoted\" line\n" * (1024 * 1024 // 22)
    message = render(incident(error_message=huge), Event.OPENED, 1)
    message = Message(**{**message.__dict__, "error_text": huge})  # even untrimmed by the renderer
    body = teams.payload(message)
    size = len(json.dumps(body, ensure_ascii=False).encode())
    assert size <= 28 * 1024
    card = body["attachments"][0]["content"]
    assert check_card(card) == []
    assert [f["title"] for f in card["body"][2]["facts"]] == [label for label, _ in message.facts]
    assert "error text trimmed" in card["body"][-1]["text"]
    assert len(card["actions"]) == 2


def test_slack_payload_within_block_kit_limits_for_a_huge_error() -> None:
    message = render(incident(error_message="x<y> & ```" * 100_000), Event.OPENED, 1, incident_url="https://a/{id}")
    body = slack.payload(message)
    blocks = body["blocks"]
    assert len(blocks) <= 50 and len(json.dumps(blocks)) < 13_000
    assert blocks[0]["type"] == "header" and len(blocks[0]["text"]["text"]) <= 150
    for block in blocks:
        if block["type"] == "section":
            assert len(block.get("text", {}).get("text", "")) <= 3000
            assert len(block.get("fields", [])) <= 10
            assert all(len(f["text"]) <= 2000 for f in block.get("fields", []))
        if block["type"] == "actions":
            assert all(len(e["text"]["text"]) <= 75 for e in block["elements"])
    assert "<y>" not in json.dumps(blocks)  # escaped, not a Slack link


def test_pagerduty_trigger_ack_and_resolve_share_the_dedup_key() -> None:
    bodies = [pagerduty.event_body(render(incident(), event, seq), "rk")
              for seq, event in enumerate((Event.OPENED, Event.ACKNOWLEDGED, Event.RESOLVED), 1)]
    assert [b["event_action"] for b in bodies if b] == ["trigger", "acknowledge", "resolve"]
    assert {b["dedup_key"] for b in bodies if b} == {"inc-0001"}
    assert bodies[0] and bodies[0]["payload"]["severity"] == "error" and len(bodies[0]["payload"]["summary"]) <= 1024
    assert pagerduty.event_body(render(incident(), Event.REMEDIATION_STARTED, 4), "rk") is None


def test_jira_issue_is_adf_with_dedup_label_and_priority() -> None:
    fields = jira.issue_fields(render(incident(), Event.ESCALATED, 5), "OPS", "Bug")["fields"]
    assert fields["labels"] == ["pipeline-incident", "incident-inc-0001"]
    assert fields["priority"] == {"name": "High"} and fields["description"]["type"] == "doc"
    kinds = [node["type"] for node in fields["description"]["content"]]
    assert "bulletList" in kinds and "codeBlock" in kinds


def test_email_has_plain_and_html_parts() -> None:
    channel = SmtpChannel("127.0.0.1", 25, "bot@example", ("ops@example",))
    mail = channel.build(render(incident(), Event.OPENED, 1), ["ops@example"])
    kinds = [part.get_content_type() for part in mail.iter_parts()]
    assert kinds == ["text/plain", "text/html"]


def _all_payloads(message: Message) -> str:
    legacy = TeamsLegacyChannel("https://legacy.example/webhook", 5).build(message)
    smtp = SmtpChannel("127.0.0.1", 25, "bot@example", ("ops@example",)).build(message, ["ops@example"])
    return "\n".join([
        json.dumps(teams.payload(message)), json.dumps(slack.payload(message)),
        json.dumps(pagerduty.event_body(message, "rk")), json.dumps(jira.issue_fields(message, "OPS", "Bug")),
        json.dumps(jira.adf(message)), html_body(message), message.plain_text(), line(message),
        json.dumps(legacy.payload), smtp.as_string(),
    ])


@pytest.mark.parametrize("event", [Event.OPENED, Event.ESCALATED, Event.RESOLVED])
def test_no_secret_from_the_corpus_reaches_any_channel(event: Event) -> None:
    dirty = text_with_all_secrets()
    message = render(incident(error_message=dirty, analysis={"summary": dirty},
                              remediation={"state": "planned", "reason": dirty},
                              verdict={"category": "auth_permission", "severity": "high", "explanation": dirty},
                              pipeline="p " + dirty[:200]), event, 2, extra=dirty[:300])
    payloads = _all_payloads(message)
    assert "[REDACTED]" in payloads
    leaked = [s for s in all_secret_values() if s in payloads]
    assert leaked == []
