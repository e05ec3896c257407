"""The dashboard's pages as HTML strings, from data already read. Pure.

list_page: filters, counts per status, one page of the index, paging. incident_page: everything about one
incident and its action buttons. trends_page: charts over the counters. health_page: the app's moving parts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dashboard import charts
from dashboard.html import badge, definition_list, esc, json_block, link, page, query_href
from dashboard.listing import Trends
from shared.lifecycle import IncidentStatus, PlanState
from shared.models import AuditEntry, Incident

PLATFORMS = ("adf", "synapse", "databricks", "airflow", "functions")
SOURCES = ("azure-monitor", "databricks", "airflow", "sweep")
FILTER_NAMES = ("status", "platform", "source", "category", "retry_safe", "pipeline", "team", "owner", "from", "to")
FULL_TEXT_PREVIEW = 600


def _select(name: str, label: str, options: tuple[str, ...], current: str) -> str:
    opts = "".join(f'<option value="{esc(o)}"{" selected" if o == current else ""}>{esc(o or "any")}</option>'
                   for o in ("", *options))
    return f'<label>{esc(label)}<select name="{name}">{opts}</select></label>'


def _text(name: str, label: str, current: str, kind: str = "text") -> str:
    return f'<label>{esc(label)}<input type="{kind}" name="{name}" value="{esc(current)}"></label>'


def list_page(items: list[dict[str, Any]], params: Mapping[str, str], counts: Mapping[str, int],
              next_token: str | None, refresh_s: int) -> str:
    current = {n: (params.get(n) or "") for n in FILTER_NAMES}
    base = "/api/dashboard"
    tiles = "".join(f'<a class="tile" data-status="{esc(s.value)}" href="{esc(query_href(base, {"status": s.value}))}">'
                    f'<span class="count">{int(counts.get(s.value, 0))}</span>{badge(s.value)}</a>'
                    for s in IncidentStatus)
    form = (f'<form class="filters" method="get" action="{base}">'
            + _select("status", "Status", tuple(s.value for s in IncidentStatus), current["status"])
            + _select("platform", "Platform", PLATFORMS, current["platform"])
            + _select("source", "Source", SOURCES, current["source"])
            + _text("category", "Category", current["category"])
            + _select("retry_safe", "Retry-safe", ("true", "false"), current["retry_safe"])
            + _text("pipeline", "Pipeline starts with", current["pipeline"])
            + _text("team", "Team", current["team"]) + _text("owner", "Owner", current["owner"])
            + _text("from", "First seen from", current["from"][:10], "date")
            + _text("to", "to", current["to"][:10], "date")
            + f'<button type="submit">Filter</button> <a href="{base}">Clear</a></form>')
    rows = []
    for item in items:
        error = item.get("error") or {}
        retry = item.get("retry_safe")
        rows.append(
            f'<tr data-incident="{esc(item["id"])}" data-first-seen="{esc(item.get("first_seen"))}">'
            f'<td><time>{esc(item.get("first_seen"))}</time></td><td>{badge(item.get("status"))}</td>'
            f'<td>{esc(item.get("platform"))}</td>'
            f'<td><a class="incident-link" href="{base}/incidents/{esc(item["id"])}">'
            f'{esc(item.get("pipeline") or item.get("resource"))}</a></td>'
            f'<td>{esc(item.get("activity"))}</td><td>{esc(item.get("category"))}</td>'
            f'<td>{"" if retry is None else ("yes" if retry else "no")}</td>'
            f'<td class="error">{esc(error.get("code"))} {esc((error.get("message") or "")[:160])}</td>'
            f'<td>{int(item.get("occurrences") or 0)}</td><td>{esc(item.get("team") or item.get("owner"))}</td></tr>')
    table = ('<table class="incidents"><thead><tr><th>First seen (UTC)</th><th>Status</th><th>Platform</th>'
             "<th>Pipeline</th><th>Activity</th><th>Category</th><th>Retry-safe</th><th>Error</th><th>Seen</th>"
             f'<th>Team / owner</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
             if rows else '<p class="empty">No incidents match these filters.</p>')
    filters = {n: v for n, v in current.items() if v}
    paging = [f'<a href="{esc(query_href(base, filters))}">First page</a>'] if params.get("continuation") else []
    if next_token:
        paging.append(f'<a class="next" href="{esc(query_href(base, {**filters, "continuation": next_token}))}">'
                      "Next page</a>")
    note = f'<p class="muted">Refreshes every {refresh_s} s.</p>' if refresh_s else ""
    body = (f'<section class="tiles">{tiles}</section>{form}{table}<nav class="paging">{" ".join(paging)}</nav>'
            f"{note}")
    return page("Incidents", body, active="Incidents", refresh_s=refresh_s)


def _error_section(incident: Incident) -> str:
    full = str((incident.failure or {}).get("message") or incident.error_message or "")
    preview = full[:FULL_TEXT_PREVIEW]
    more = (f'<details class="full-text"><summary>Full text ({len(full)} characters)</summary>'
            f"<pre>{esc(full)}</pre></details>" if len(full) > len(preview) else "")
    facts = definition_list([("Code", esc(incident.error_code)), ("Type", esc(incident.failure_type))])
    return f'<section id="error"><h2>Error</h2>{facts}<pre class="message">{esc(preview)}</pre>{more}</section>'


def _where_section(incident: Incident) -> str:
    links = "".join(f"<li>{link(url, name)}</li>" for name, url in sorted((incident.links or {}).items()))
    rows = [("Platform", esc(incident.platform)), ("Source", esc(incident.source)),
            ("Factory / workspace / DAG", esc(incident.resource)), ("Pipeline", esc(incident.pipeline)),
            ("Activity", esc(incident.activity)), ("Run id", esc(incident.run_id)),
            ("First seen", esc(incident.first_seen)), ("Last seen", esc(incident.last_seen)),
            ("Occurrences", esc(incident.occurrences)), ("Team", esc(incident.team)), ("Owner", esc(incident.owner))]
    return (f'<section id="where"><h2>Where it failed</h2>{definition_list(rows)}'
            f'<ul class="links">{links}</ul></section>')


def _verdict_section(incident: Incident) -> str:
    v = incident.verdict or {}
    if not v:
        return '<section id="verdict"><h2>Verdict</h2><p class="muted">not classified yet</p></section>'
    actions = "".join(f"<li>{esc(a)}</li>" for a in v.get("recommended_actions") or [])
    rows = [("Category", esc(v.get("category"))), ("Retry-safe", "yes" if v.get("retryable") else "no"),
            ("Confidence", esc(v.get("confidence"))), ("Rule", esc(v.get("matched_rule") or "none")),
            ("Why", esc(v.get("explanation"))), ("Documentation", link(v.get("doc_link"), v.get("doc_link")))]
    return (f'<section id="verdict"><h2>Verdict</h2>{definition_list(rows)}'
            f'{"<h3>Recommended</h3><ul>" + actions + "</ul>" if actions else ""}</section>')


def _rca_section(incident: Incident) -> str:
    a = incident.analysis or {}
    if not a:
        return ""
    causes = "".join(f"<li>{esc(c.get('cause'))} ({esc(c.get('likelihood'))})</li>"
                     for c in a.get("probable_root_causes") or [] if isinstance(c, dict))
    rows = [("Summary", esc(a.get("summary"))), ("Root cause", esc(a.get("root_cause"))),
            ("Analysis by", esc(a.get("source"))), ("Fallback", esc(a.get("fallback_reason")))]
    return (f'<section id="rca"><h2>Root-cause analysis</h2>{definition_list(rows)}'
            f'{"<ul>" + causes + "</ul>" if causes else ""}</section>')


def _remediation_section(incident: Incident, csrf_token: str) -> str:
    plan = dict(incident.remediation or {})
    attempts = plan.pop("attempts", None)
    body = json_block(plan) if plan else '<p class="muted">no remediation plan</p>'
    if attempts:
        body += "<h3>Attempts</h3>" + json_block(attempts)
    buttons = ""
    if plan.get("state") == PlanState.WAITING_APPROVAL.value:
        buttons = _action("approve", "Approve plan", csrf_token, incident.id) + _action(
            "reject", "Reject plan", csrf_token, incident.id, reason=True)
    return f'<section id="remediation"><h2>Remediation</h2>{body}{buttons}</section>'


def _notifications_section(incident: Incident) -> str:
    if not incident.notifications:
        return ""
    return ('<section id="notifications"><h2>Notifications and tickets</h2>'
            f"{json_block(incident.notifications)}</section>")


def _timeline(audit: list[AuditEntry]) -> str:
    items = "".join(f'<li data-action="{esc(e.action)}"><time>{esc(e.time)}</time> <strong>{esc(e.action)}</strong>'
                    f" by {esc(e.actor)}: {esc(e.reason)}</li>" for e in audit)
    return f'<section id="timeline"><h2>Timeline</h2><ol class="timeline">{items}</ol></section>'


def _action(action: str, label: str, csrf_token: str, incident_id: str, reason: bool = False) -> str:
    reason_input = ('<input name="reason" required placeholder="reason" aria-label="reason">' if reason else "")
    return (f'<form class="action" data-action="{action}" method="post" '
            f'action="/api/dashboard/incidents/{esc(incident_id)}/{action}">'
            f'<input type="hidden" name="csrf" value="{esc(csrf_token)}">{reason_input}'
            f'<button type="submit">{esc(label)}</button></form>')


def incident_page(incident: Incident, audit: list[AuditEntry], csrf_token: str) -> str:
    status = f"<p>{badge(incident.status)} {esc(incident.resolution)}"
    if incident.acknowledged_at:
        status += (f' <span class="ack">acknowledged by {esc(incident.acknowledged_by)} '
                   f"at {esc(incident.acknowledged_at)}</span>")
    status += "</p>"
    actions = ""
    if incident.status != IncidentStatus.RESOLVED.value:
        actions = ('<section id="actions"><h2>Actions</h2><label>Your name <input id="actor" name="by" '
                   'autocomplete="name" required></label>'
                   + _action("acknowledge", "Acknowledge", csrf_token, incident.id)
                   + _action("resolve", "Resolve", csrf_token, incident.id, reason=True)
                   + '<p class="action-result" role="status"></p></section>')
    body = (status + actions + _error_section(incident) + _where_section(incident) + _verdict_section(incident)
            + _rca_section(incident) + _remediation_section(incident, csrf_token)
            + _notifications_section(incident) + _timeline(audit))
    title = f"{incident.pipeline or incident.resource} · {incident.run_id or incident.id}"
    return page(title, body, active="Incidents", csrf_token=csrf_token)


def trends_page(trends: Trends) -> str:
    labels = trends.days
    sig_rows = [(f"{s['category']}: {s['text'] or s['signature']}", float(s["incidents"]),
                 f"{s['incidents']} incidents, retry success "
                 + ("n/a" if s["retry_success_rate"] is None else f"{s['retry_success_rate'] * 100:.0f}%"
                    f" of {s['retries']}")) for s in trends.signatures]
    body = (charts.stacked_bars("by-category", "Failures per day by category", labels, trends.by_category)
            + charts.stacked_bars("by-pipeline", "Failures per day by pipeline", labels, trends.by_pipeline)
            + charts.grouped_bars("opened-vs-auto", "Opened vs resolved without a person", labels,
                                  {"opened": trends.opened, "auto-resolved": trends.auto_resolved})
            + charts.grouped_bars("mttr", "Mean time to resolve (minutes, by day resolved)", labels,
                                  {"MTTR minutes": trends.mttr_minutes})
            + charts.horizontal_bars("signatures", "Top error signatures (retry success rate)", sig_rows))
    return page("Trends", body, active="Trends")


def health_page(report: Mapping[str, Any], refresh_s: int) -> str:
    rows = []
    for name, value in report.items():
        ok = value.get("ok") if isinstance(value, dict) else None
        mark = "" if ok is None else (' <span class="ok">ok</span>' if ok else ' <span class="bad">problem</span>')
        shown = {k: v for k, v in value.items() if k != "ok"} if isinstance(value, dict) else value
        rows.append(f'<tr data-check="{esc(name)}"><th>{esc(name)}{mark}</th><td>{json_block(shown)}</td></tr>')
    return page("Health", f'<table class="health">{"".join(rows)}</table>', active="Health", refresh_s=refresh_s)


def page_not_found(incident_id: str) -> str:
    return page("Not found", f'<p>No incident {esc(incident_id)}.</p><p><a href="/api/dashboard">All incidents</a></p>',
                active="Incidents")
