"""Routing and ownership from a data file (notify/routing.toml): which channels and recipients hear about an
incident's event, its priority, and who owns it. Pure once the rules are loaded."""

from __future__ import annotations

import fnmatch
import logging
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.models import Incident

log = logging.getLogger(__name__)
DEFAULT_FILE = Path(__file__).resolve().parent / "routing.toml"
MATCH_KEYS = ("platform", "resource", "pipeline", "severity", "category", "event")
OWNERSHIP_TAGS = ("team", "owner", "cost_center")


class RoutingError(ValueError):
    """The routing file is not valid."""


@dataclass(frozen=True)
class Decision:
    channels: tuple[str, ...]
    recipients: dict[str, list[str]]
    priority: str
    create_ticket_on: frozenset[str]
    routes: tuple[str, ...]  # names of the routes that matched (for the log)


@dataclass(frozen=True)
class Rules:
    defaults: dict[str, Any]
    channel_events: dict[str, frozenset[str]]
    priority: dict[str, str]
    routes: list[dict[str, Any]] = field(default_factory=list)
    ownership: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path | str | None = None) -> Rules:
        where = Path(path) if path else DEFAULT_FILE
        try:
            data = tomllib.loads(where.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise RoutingError(f"{where}: {exc}") from exc
        return cls.from_dict(data, str(where))

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "routing") -> Rules:
        defaults = dict(data.get("defaults") or {})
        for key in ("channels", "events"):
            if not isinstance(defaults.get(key), list):
                raise RoutingError(f"{where}: [defaults] needs a list `{key}`")
        routes = list(data.get("routes") or [])
        for i, route in enumerate(routes):
            unknown = set(route) - {*MATCH_KEYS, "name", "channels", "recipients", "events", "continue", "priority",
                                    "jira_create_on"}
            if unknown:
                raise RoutingError(f"{where}: route {i + 1} has unknown keys {sorted(unknown)}")
        ownership = list(data.get("ownership") or [])
        return cls(defaults=defaults,
                   channel_events={k: frozenset(v) for k, v in (data.get("channel_events") or {}).items()},
                   priority={str(k): str(v) for k, v in (data.get("priority") or {}).items()},
                   routes=routes, ownership=ownership)


def load_or_shipped(path: str | None) -> Rules:
    """The operator's rules, or the shipped ones (with an error in the log) when that file is broken: a typo in
    the routing file must not stop alerts from being recorded."""
    try:
        return Rules.load(path)
    except RoutingError:
        if not path:
            raise
        log.exception("routing file %s is not usable; using the shipped notify/routing.toml", path)
        return Rules.load(None)


def _as_list(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def facets(incident: Incident, event: str) -> dict[str, str]:
    verdict = incident.verdict or {}
    return {"platform": incident.platform, "resource": incident.resource or "", "pipeline": incident.pipeline or "",
            "severity": str(verdict.get("severity") or "medium"), "category": str(verdict.get("category") or ""),
            "event": event}


def _matches(rule: dict[str, Any], values: dict[str, str]) -> bool:
    for key in MATCH_KEYS:
        if key not in rule:
            continue
        value = values[key]
        candidates = [value, value.rsplit("/", 1)[-1]] if key == "resource" else [value]
        patterns = _as_list(rule[key])
        if not any(fnmatch.fnmatchcase(c.lower(), p.lower()) for c in candidates for p in patterns):
            return False
    return True


def route(rules: Rules, incident: Incident, event: str) -> Decision:
    """Channels (in the defaults' order), recipients and priority for `event` on `incident`."""
    values = facets(incident, event)
    channels: list[str] = []
    recipients: dict[str, list[str]] = {}
    names: list[str] = []
    decided = False
    priority = rules.priority.get(values["severity"], "P3")
    create_on = set(_as_list(rules.defaults.get("jira_create_on", [])))
    events = set(_as_list(rules.defaults["events"]))
    for rule in rules.routes:
        if not _matches(rule, values):
            continue
        names.append(str(rule.get("name", f"route {rules.routes.index(rule) + 1}")))
        channels += [c for c in _as_list(rule.get("channels", [])) if c not in channels]
        for channel, people in (rule.get("recipients") or {}).items():
            recipients.setdefault(channel, [])
            recipients[channel] += [p for p in _as_list(people) if p not in recipients[channel]]
        if "events" in rule:
            events = set(_as_list(rule["events"]))
        if "jira_create_on" in rule:
            create_on = set(_as_list(rule["jira_create_on"]))
        priority = str(rule.get("priority", priority))
        if not rule.get("continue"):
            decided = True
            break
    if not decided:  # no route, or only `continue` routes matched: the defaults' channels apply too
        channels += [c for c in _as_list(rules.defaults["channels"]) if c not in channels]
    if event not in events:
        channels = []
    channels = [c for c in channels if c not in rules.channel_events or event in rules.channel_events[c]]
    return Decision(tuple(channels), recipients, priority, frozenset(create_on), tuple(names))


def platform_tags(failure: dict[str, Any]) -> dict[str, str]:
    """Ownership tags the platform carried on the failure (ADF annotations, Databricks job tags, Airflow DAG
    owner / tags), when an extractor put them in `origin`."""
    origin = failure.get("origin") or {}
    tags: dict[str, str] = {}
    for source in ("tags", "job_tags", "annotations", "dag_tags"):
        value = origin.get(source)
        if isinstance(value, dict):
            tags.update({str(k).lower(): str(v) for k, v in value.items()})
        elif isinstance(value, list):  # ADF annotations / Airflow tags are plain strings: "team:sales"
            for item in value:
                key, sep, val = str(item).partition(":" if ":" in str(item) else "=")
                if sep:
                    tags[key.strip().lower()] = val.strip()
    owner = origin.get("owner") or origin.get("owners")
    if owner:
        tags.setdefault("owner", ", ".join(_as_list(owner)) if isinstance(owner, list) else str(owner))
    return {k: v[:256] for k, v in tags.items() if k in OWNERSHIP_TAGS or k.replace("-", "_") in OWNERSHIP_TAGS}


def ownership(rules: Rules, incident: Incident) -> dict[str, str]:
    """team / owner / cost_center for the incident: the platform's tags first, then the first matching
    [[ownership]] entry per tag."""
    found = {k.replace("-", "_"): v for k, v in platform_tags(incident.failure or {}).items()}
    values = facets(incident, "opened")
    for entry in rules.ownership:
        if _matches(entry, values):
            for tag, value in entry.items():
                if tag not in MATCH_KEYS:
                    found.setdefault(tag, str(value))
    return found
