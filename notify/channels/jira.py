"""Jira Cloud REST v3: one issue per incident, created when routing says (e.g. on escalation), a comment on
each later state change, a transition to Done on resolve. The issue key is kept on the incident (JQL search
is eventually consistent); a label `incident-<id>` is the fallback lookup before creating."""

from __future__ import annotations

from typing import Any

from notify.channels.base import Channel, Delivery, DeliveryError, HttpPoster, check_response
from notify.message import Message

PRIORITY = {"P1": "Highest", "P2": "High", "P3": "Medium", "P4": "Low"}
CODE_CAP = 20_000


def _text(text: str, link: str | None = None) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "text", "text": text or " "}
    if link:
        node["marks"] = [{"type": "link", "attrs": {"href": link}}]
    return node


def _paragraph(*nodes: dict[str, Any]) -> dict[str, Any]:
    return {"type": "paragraph", "content": list(nodes)}


def _heading(text: str) -> dict[str, Any]:
    return {"type": "heading", "attrs": {"level": 3}, "content": [_text(text)]}


def adf(message: Message, *, with_facts: bool = True) -> dict[str, Any]:
    """Atlassian Document Format for the message (pure)."""
    content: list[dict[str, Any]] = [_paragraph(_text(message.summary))]
    if with_facts:
        content.append({"type": "bulletList", "content": [
            {"type": "listItem", "content": [_paragraph(_text(f"{label}: {value}"))]}
            for label, value in message.facts]})
    for label, text in (("Root cause", message.rca), ("Plan", message.plan)):
        if text:
            content += [_heading(label), _paragraph(_text(text))]
    if message.folded:
        content.append(_paragraph(_text("Also failed in this burst: " + ", ".join(message.folded))))
    content += [_heading("Error"), {"type": "codeBlock", "content": [_text(message.error_text[:CODE_CAP])]}]
    if message.links:
        nodes: list[dict[str, Any]] = []
        for i, link in enumerate(message.links):
            if i:
                nodes.append(_text(" | "))
            nodes.append(_text(link.title, link.url))
        content.append(_paragraph(*nodes))
    return {"type": "doc", "version": 1, "content": content}


def label_of(incident_id: str) -> str:
    return f"incident-{incident_id}"


def issue_fields(message: Message, project: str, issue_type: str) -> dict[str, Any]:
    return {"fields": {
        "project": {"key": project}, "issuetype": {"name": issue_type}, "summary": message.title[:250],
        "labels": ["pipeline-incident", label_of(message.incident_id)],
        "priority": {"name": PRIORITY.get(message.priority, "Medium")}, "description": adf(message),
    }}


class JiraChannel(Channel):
    name = "jira"

    def __init__(self, base_url: str, email: str, token: str, project: str, issue_type: str, done: str,
                 timeout: float) -> None:
        if not (base_url and token and project):
            raise ValueError("JIRA_BASE_URL, JIRA_API_TOKEN and JIRA_PROJECT must be set")
        self.base = base_url.rstrip("/")
        self.project, self.issue_type, self.done = project, issue_type, done
        self.http = HttpPoster(timeout)
        self.http.session.auth = (email, token)
        self.http.session.headers["Accept"] = "application/json"

    def _call(self, method: str, path: str, what: str, ok: tuple[int, ...] = (200, 201, 204),
              **kwargs: Any) -> Any:
        resp = self.http.request(method, self.base + path, what, **kwargs)
        check_response(resp, what, ok)
        return resp.json() if resp.content else None

    def find(self, incident_id: str) -> str | None:
        jql = f'project = "{self.project}" AND labels = "{label_of(incident_id)}" ORDER BY created DESC'
        found = self._call("POST", "/rest/api/3/search/jql", "Jira search",
                           json={"jql": jql, "fields": ["status"], "maxResults": 1})
        issues = (found or {}).get("issues") or []
        return str(issues[0]["key"]) if issues else None

    def send(self, message: Message) -> Delivery:
        key = message.refs.get("jira")
        if not key:
            if not message.create_ticket:
                return Delivery("skipped", "no Jira issue for this incident and routing does not create one now")
            key = self.find(message.incident_id)
            if key is None:
                created = self._call("POST", "/rest/api/3/issue", "Jira create",
                                     json=issue_fields(message, self.project, self.issue_type))
                return Delivery("sent", f"created {created['key']}", ref=str(created["key"]))
        body = {"body": adf(message, with_facts=False)}
        self._call("POST", f"/rest/api/3/issue/{key}/comment", "Jira comment", json=body)
        if not message.resolving:
            return Delivery("sent", f"commented on {key}", ref=key)
        transitions = self._call("GET", f"/rest/api/3/issue/{key}/transitions", "Jira transitions") or {}
        target = next((t for t in transitions.get("transitions", [])
                       if str(t.get("name", "")).lower() == self.done.lower()
                       or str((t.get("to") or {}).get("name", "")).lower() == self.done.lower()), None)
        if target is None:
            raise DeliveryError(f"{key} has no transition named {self.done!r}", retryable=False)
        self._call("POST", f"/rest/api/3/issue/{key}/transitions", "Jira transition",
                   json={"transition": {"id": str(target["id"])}})
        return Delivery("sent", f"commented on and moved {key} to {self.done}", ref=key)
