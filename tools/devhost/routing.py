"""Route templates as the Functions host (ASP.NET Core routing) reads them. Pure.

Syntax: literal segments, `{name}`, `{name:int}` (and other constraints, one path segment),
`{name?}` and catch-all `{*name}`; matching is case-insensitive.

Matching works on the raw (still percent-encoded) path split at `/`, so an encoded `%2F` stays
inside its segment; each value is percent-decoded exactly once (`abc%2541` -> `abc%41`).

Precedence follows ASP.NET's inbound route precedence, segment by segment: a literal beats a
constrained parameter, which beats a plain parameter, then an optional one, then a catch-all.
So `files/{a}/{b}` beats `files/{*path}` and `items/{id}/x` beats `{kind}/special/x`.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from typing import Any

from tools.devhost.app_loader import FunctionInfo

_PARAM = re.compile(r"^\{(\*?)([A-Za-z_][A-Za-z0-9_]*)(?::([A-Za-z]+)(?:\([^)]*\))?)?(\?)?\}$")
_CONSTRAINTS = {"int": r"-?\d+", "long": r"-?\d+", "bool": r"(?i:true|false)", "guid": r"[0-9a-fA-F-]{32,36}",
                "alpha": r"[A-Za-z]+"}
ALL_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")

# Precedence digit per segment kind (lower wins), after ASP.NET's RoutePrecedence.
LITERAL, CONSTRAINED, PARAMETER, OPTIONAL, CATCH_ALL = 1, 2, 3, 4, 5


@dataclass(frozen=True)
class _Segment:
    kind: int
    name: str = ""
    literal: str = ""
    constraint: re.Pattern[str] | None = None


@dataclass(frozen=True)
class RouteTemplate:
    template: str
    segments: tuple[_Segment, ...]

    @property
    def precedence(self) -> tuple[int, ...]:
        return tuple(s.kind for s in self.segments)

    def match(self, raw_path: str) -> dict[str, str] | None:
        """Route values for a raw (percent-encoded) request path, or None when it does not match."""
        raw = [s for s in raw_path.split("/") if s]
        values: dict[str, str] = {}
        for i, segment in enumerate(self.segments):
            if segment.kind == CATCH_ALL:
                if i < len(raw):
                    values[segment.name] = urllib.parse.unquote("/".join(raw[i:]))
                return values
            if i >= len(raw):
                if segment.kind == OPTIONAL:
                    continue
                return None
            text = urllib.parse.unquote(raw[i])
            if segment.kind == LITERAL:
                if text.lower() != segment.literal.lower():
                    return None
                continue
            if segment.constraint is not None and not segment.constraint.fullmatch(text):
                return None
            values[segment.name] = text
        return values if len(raw) <= len(self.segments) else None


def compile_route(template: str) -> RouteTemplate:
    segments = []
    for text in [s for s in template.strip("/").split("/") if s]:
        match = _PARAM.match(text)
        if not match:
            segments.append(_Segment(LITERAL, literal=text))
            continue
        catch_all, name, constraint, optional = match.groups()
        pattern = _CONSTRAINTS.get((constraint or "").lower())
        compiled = re.compile(pattern) if pattern else None
        if catch_all:
            kind = CATCH_ALL
        elif optional:
            kind = OPTIONAL
        else:
            kind = CONSTRAINED if constraint else PARAMETER
        segments.append(_Segment(kind, name=name, constraint=compiled))
    return RouteTemplate(template, tuple(segments))


@dataclass
class Route:
    function: FunctionInfo
    template: RouteTemplate
    methods: frozenset[str]

    def match(self, raw_path: str) -> dict[str, str] | None:
        return self.template.match(raw_path)


def build_routes(functions: list[FunctionInfo], route_prefix: str) -> list[Route]:
    routes = []
    prefix = route_prefix.strip("/")
    for info in functions:
        if info.trigger_type != "httpTrigger":
            continue
        route = str(info.trigger.get("route") or info.name)
        template = f"{prefix}/{route}" if prefix else route
        methods: Any = info.trigger.get("methods") or ALL_METHODS
        routes.append(Route(info, compile_route(template), frozenset(str(m).upper() for m in methods)))
    routes.sort(key=lambda r: (r.template.precedence, r.template.template.lower()))
    return routes
