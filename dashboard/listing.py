"""Reading the read model for the pages and the list API: request parameters -> ListQuery, one page of list items,
the trend series. Pure apart from the index / stats objects passed in."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.lifecycle import IncidentStatus
from shared.models import Platform, Source
from shared.readmodel import IncidentIndex, ListQuery, to_api
from shared.timeutil import parse_iso, to_iso
from shared.trendstats import IncidentStats

DEFAULT_PAGE = 50
MAX_PAGE = 1000
MAX_FILTER = 200
MAX_TOKEN = 2048
# Times a filter may name: the index keys (inverted days / milliseconds) keep their order inside this range, and
# to_iso / parse_iso round-trip it; a bound outside is moved to the edge (it selects the same rows).
EARLIEST = datetime(1970, 1, 2, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
TOP_PIPELINES = 8


class BadQuery(ValueError):
    def __init__(self, error: str, detail: str) -> None:
        super().__init__(detail)
        self.error = error


def _time(params: Mapping[str, str], name: str, end_of_day: bool = False) -> str:
    raw = (params.get(name) or "").strip()
    if not raw:
        return ""
    try:
        moment = parse_iso(raw).astimezone(UTC)
        if end_of_day and len(raw) == 10:  # a bare date as the upper bound means that whole day
            moment += timedelta(days=1, milliseconds=-1)
    except (ValueError, OverflowError) as exc:
        raise BadQuery(f"invalid_{name}", f"{name} must be an ISO-8601 time or date, got {raw[:40]!r}") from exc
    return to_iso(min(max(moment, EARLIEST), LATEST))


ALLOWED_FILTER_VALUES: dict[str, tuple[str, ...]] = {
    "status": tuple(s.value for s in IncidentStatus),
    "source": tuple(s.value for s in Source),
    "platform": tuple(p.value for p in Platform),
}


def parse_query(params: Mapping[str, str]) -> tuple[ListQuery, int]:
    """The list query and page size the request asks for; BadQuery (-> 400) when a value is not valid."""
    text = {name: (params.get(name) or "").strip()[:MAX_FILTER]
            for name in ("status", "platform", "source", "category", "run_id", "pipeline", "team", "owner")}
    # Filters whose values are a closed set: anything else is a typo that would silently match nothing.
    for name, allowed in ALLOWED_FILTER_VALUES.items():
        if text[name] and text[name] not in allowed:
            raise BadQuery(f"invalid_{name}", f"{name} must be one of {', '.join(allowed)}; got {text[name][:100]!r}")
    retry = (params.get("retry_safe") or "").strip().lower()
    if retry not in ("", "true", "false"):
        raise BadQuery("invalid_retry_safe", "retry_safe must be true or false")
    try:
        limit = int(params.get("limit") or DEFAULT_PAGE)
    except ValueError as exc:
        raise BadQuery("invalid_limit", "limit must be an integer") from exc
    if not 1 <= limit <= MAX_PAGE:
        raise BadQuery("invalid_limit", f"limit must be between 1 and {MAX_PAGE}")
    query = ListQuery(status=text["status"], platform=text["platform"], source=text["source"],
                      category=text["category"], run_id=text["run_id"],
                      retry_safe=None if not retry else retry == "true", pipeline_prefix=text["pipeline"],
                      team=text["team"], owner=text["owner"], first_from=_time(params, "from"),
                      first_to=_time(params, "to", end_of_day=True), since=_time(params, "since"))
    return query, limit


def encode_token(token: Any) -> str | None:
    if not token:
        return None
    return base64.urlsafe_b64encode(json.dumps(token, sort_keys=True).encode()).decode()


def decode_token(token: str | None) -> Any:
    if not token:
        return None
    invalid = BadQuery("invalid_continuation", "continuation token is not valid")
    if len(token) > MAX_TOKEN:
        raise invalid
    try:
        value = json.loads(base64.urlsafe_b64decode(token.encode()).decode())
    except (ValueError, UnicodeDecodeError) as exc:
        raise invalid from exc
    # Only what the table service hands out: its next partition and row keys, as strings.
    if not isinstance(value, dict) or not set(value) <= {"PartitionKey", "RowKey"} or not all(
            isinstance(v, str) for v in value.values()):
        raise invalid
    return value


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    continuation: str | None


def list_page(index: IncidentIndex, params: Mapping[str, str]) -> Page:
    query, limit = parse_query(params)
    rows, token = index.page(query, limit, decode_token(params.get("continuation")))
    return Page([to_api(r) for r in rows], encode_token(token))


@dataclass(frozen=True)
class Trends:
    days: list[str]
    by_category: dict[str, list[float]]
    by_pipeline: dict[str, list[float]]
    opened: list[float]
    auto_resolved: list[float]
    resolved: list[float]
    mttr_minutes: list[float]
    signatures: list[dict[str, Any]]

    def to_api(self) -> dict[str, Any]:
        return {"days": self.days, "by_category": self.by_category, "by_pipeline": self.by_pipeline,
                "opened": self.opened, "auto_resolved": self.auto_resolved, "resolved": self.resolved,
                "mttr_minutes": self.mttr_minutes, "signatures": self.signatures}


def _series(rows: list[dict[str, Any]], name: str, top: int | None) -> dict[str, list[float]]:
    totals: dict[str, float] = {}
    for row in rows:
        for key, count in row[name].items():
            totals[key] = totals.get(key, 0) + count
    keys = sorted(totals, key=lambda k: (-totals[k], k))
    kept = keys[:top] if top else keys
    series = {k: [float(r[name].get(k, 0)) for r in rows] for k in kept}
    if top and len(keys) > top:
        series["(other)"] = [float(sum(v for k, v in r[name].items() if k not in kept)) for r in rows]
    return series


def trends(stats: IncidentStats, days: int, today: datetime | None = None) -> Trends:
    last = (today or datetime.now(UTC)).astimezone(UTC).date()
    names = [(last - timedelta(days=n)).isoformat() for n in range(days - 1, -1, -1)]
    found = {row["day"]: row for row in stats.days(names[0], names[-1])}
    empty = {"opened": 0.0, "resolved": 0.0, "auto_resolved": 0.0, "mttr_sum_s": 0.0, "mttr_n": 0.0,
             "by_category": {}, "by_pipeline": {}}
    rows = [found.get(d, empty) for d in names]
    return Trends(
        days=names, by_category=_series(rows, "by_category", None), by_pipeline=_series(rows, "by_pipeline",
                                                                                          TOP_PIPELINES),
        opened=[r["opened"] for r in rows], auto_resolved=[r["auto_resolved"] for r in rows],
        resolved=[r["resolved"] for r in rows],
        mttr_minutes=[round(r["mttr_sum_s"] / r["mttr_n"] / 60, 1) if r["mttr_n"] else 0.0 for r in rows],
        signatures=stats.signatures(10))
