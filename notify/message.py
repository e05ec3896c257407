"""What a notification says, built by a pure renderer from the incident and the event (no I/O).

Every channel formats the same `Message`; the renderer applies the redaction once, so no channel can send a
secret. Texts from outside (error messages, RCA) are bounded here before any channel sees them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.lifecycle import Event
from shared.models import Incident
from shared.redaction import redact_text

ERROR_CAP = 8_000  # characters of error text any channel gets (channels trim further to their limits)
TEXT_CAP = 2_000
FOLDED_CAP = 20  # incident ids listed in a burst message; the count says how many more
URL_CAP = 2_000  # Slack buttons take at most 3,000 characters; Teams and email are happy with this

HEADLINE = {
    Event.OPENED: "Pipeline failed",
    Event.REMEDIATION_PLANNED: "Remediation planned",
    Event.APPROVAL_REQUESTED: "Remediation waits for approval",
    Event.APPROVED: "Remediation approved",
    Event.REJECTED: "Remediation rejected",
    Event.REMEDIATION_STARTED: "Remediation started",
    Event.REMEDIATION_ATTEMPT_FAILED: "Remediation attempt failed",
    Event.REMEDIATION_SUCCEEDED: "Resolved by remediation",
    Event.SUPERSEDED: "Resolved: a later run succeeded",
    Event.ESCALATED: "Escalated: someone has to act",
    Event.ACKNOWLEDGED: "Acknowledged",
    Event.RESOLVED: "Resolved",
    Event.REOPENED: "Reopened",
    Event.SLA_BREACHED: "SLA breached",
}
RESOLVING = frozenset({Event.RESOLVED, Event.SUPERSEDED, Event.REMEDIATION_SUCCEEDED})
PRIORITY_OF_SEVERITY = {"critical": "P1", "high": "P2", "medium": "P3", "low": "P4"}


@dataclass(frozen=True)
class Link:
    title: str
    url: str


@dataclass(frozen=True)
class Message:
    incident_id: str
    seq: int
    event: Event
    status: str
    title: str
    summary: str
    facts: list[tuple[str, str]]
    error_text: str
    rca: str
    plan: str
    links: list[Link]
    severity: str
    priority: str
    # Other incidents of the same burst (same platform + factory / workspace) folded into this message.
    folded: list[str] = field(default_factory=list)
    recipients: dict[str, list[str]] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)  # external references, e.g. {"jira": "OPS-12"}
    create_ticket: bool = False

    @property
    def resolving(self) -> bool:
        return self.event in RESOLVING

    def plain_text(self) -> str:
        lines = [self.title, self.summary, ""]
        lines += [f"{label}: {value}" for label, value in self.facts]
        for label, text in (("Root cause", self.rca), ("Plan", self.plan), ("Error", self.error_text)):
            if text:
                lines += ["", f"{label}:", text]
        if self.folded:
            lines += ["", f"Also failed in this burst: {', '.join(self.folded)}"]
        lines += [""] + [f"{link.title}: {link.url}" for link in self.links]
        return "\n".join(lines).strip() + "\n"


def _clean(value: Any, cap: int = TEXT_CAP, *, one_line: bool = False) -> str:
    text = redact_text(str(value if value is not None else ""))
    if one_line:  # titles, facts, email subjects: no line breaks from outside text
        text = " ".join(text.split())
    return text if len(text) <= cap else text[: cap - 12] + " [truncated]"


def severity_of(incident: Incident) -> str:
    verdict = incident.verdict or {}
    return str(verdict.get("severity") or "medium")


def _rca(incident: Incident) -> str:
    analysis = incident.analysis or {}
    for key in ("summary", "analysis_summary", "root_cause"):
        if analysis.get(key):
            return str(analysis[key])
    causes = analysis.get("probable_root_causes") or []
    if causes and isinstance(causes[0], dict) and causes[0].get("cause"):
        return str(causes[0]["cause"])
    return str((incident.verdict or {}).get("explanation") or "")


def _plan(incident: Incident) -> str:
    plan = incident.remediation or {}
    if not plan:
        return ""
    parts = [f"state {plan.get('state', '?')}"]
    for key in ("action", "summary", "reason"):
        if plan.get(key):
            parts.append(f"{key}: {plan[key]}")
    return "; ".join(parts)


def _links(incident: Incident, incident_url: str) -> list[Link]:
    links: list[Link] = []
    for name, url in sorted((incident.links or {}).items()):
        if isinstance(url, str) and url.startswith("https://") and len(url) <= URL_CAP:
            links.append(Link(f"Open {name.replace('_', ' ')}", redact_text(url)))
    if incident_url:
        links.append(Link("Open incident", incident_url.replace("{id}", incident.id)))
    approval = (incident.remediation or {}).get("approval_url")
    if isinstance(approval, str) and approval.startswith(("https://", "http://")) and len(approval) <= URL_CAP:
        links.append(Link("Approve remediation", redact_text(approval)))
    return links[:6]


def render(incident: Incident, event: Event, seq: int, *, incident_url: str = "", priority: str = "",
           folded: list[str] | None = None, recipients: dict[str, list[str]] | None = None,
           refs: dict[str, str] | None = None, create_ticket: bool = False, extra: str = "") -> Message:
    """The message for `event` on `incident` (pure; every text redacted and bounded)."""
    verdict = incident.verdict or {}
    where = " / ".join(p for p in (incident.pipeline, incident.activity) if p) or "unknown pipeline"
    severity = severity_of(incident)
    priority = priority or PRIORITY_OF_SEVERITY.get(severity, "P3")
    facts = [
        ("Platform", incident.platform), ("Resource", incident.resource.rsplit("/", 1)[-1] or incident.resource),
        ("Pipeline", where), ("Run", incident.run_id or "-"), ("Status", incident.status),
        ("Category", str(verdict.get("category") or "not classified yet")), ("Severity", severity),
        ("Priority", priority), ("Team", incident.team or "-"), ("Owner", incident.owner or "-"),
        ("Occurrences", str(incident.occurrences)), ("Incident", incident.id),
    ]
    if incident.resolution and event in RESOLVING:
        facts.append(("Resolution", incident.resolution))
    summary = f"{incident.platform} {where} run {incident.run_id or '-'}: {incident.error_code or 'error'}"
    if extra:
        summary += f" ({extra})"
    folded = list(folded or [])
    if folded:
        summary += f"; {len(folded)} more incident(s) from the same resource in this burst"
    if len(folded) > FOLDED_CAP:
        folded = [*folded[:FOLDED_CAP], f"and {len(folded) - FOLDED_CAP} more"]
    return Message(
        incident_id=incident.id, seq=seq, event=event, status=incident.status,
        title=_clean(f"[{priority}] {HEADLINE[event]}: {where}", 250, one_line=True),
        summary=_clean(summary, 500, one_line=True),
        facts=[(label, _clean(value, 300, one_line=True)) for label, value in facts],
        error_text=_clean(incident.error_message or "no error text", ERROR_CAP),
        rca=_clean(_rca(incident)), plan=_clean(_plan(incident)), links=_links(incident, incident_url),
        severity=severity, priority=priority, folded=[_clean(f, 120, one_line=True) for f in folded],
        recipients=dict(recipients or {}),
        refs=dict(refs or {}), create_ticket=create_ticket,
    )
