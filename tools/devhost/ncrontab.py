"""Six-field NCRONTAB schedules as the Functions timer trigger reads them (UTC).

Five-field expressions (`minute hour day month day-of-week`) are accepted as the host's
CronSchedule accepts them, firing at second 0.

`{second} {minute} {hour} {day} {month} {day-of-week}`; each field takes `*`, numbers, ranges
`a-b`, steps `*/n` / `a-b/n`, lists `a,b`, and month / weekday names. When both day and
day-of-week are restricted, a time must match both (NCrontab's rule). A TimeSpan `hh:mm:ss`
(App Service plans) means "every interval". Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

_MONTHS = {n: i for i, n in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1)}
_DAYS = {n: i for i, n in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("second", 0, 59, {}), ("minute", 0, 59, {}), ("hour", 0, 23, {}), ("day", 1, 31, {}),
    ("month", 1, 12, _MONTHS), ("day-of-week", 0, 6, _DAYS))


def _value(text: str, names: dict[str, int], lo: int, hi: int, field: str) -> int:
    key = text.lower()
    number = names[key] if key in names else int(text) if text.isdigit() else None
    if number is None:
        raise ValueError(f"{field}: {text!r} is not a number or name")
    if field == "day-of-week" and number == 7:
        number = 0
    if not lo <= number <= hi:
        raise ValueError(f"{field}: {number} is outside {lo}-{hi}")
    return number


def _parse_field(text: str, field: str, lo: int, hi: int, names: dict[str, int]) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ValueError(f"{field}: bad step in {part!r}")
            step = int(step_text)
        if base == "*":
            start, end = lo, hi
        elif "-" in base:
            a, _, b = base.partition("-")
            start, end = _value(a, names, lo, hi, field), _value(b, names, lo, hi, field)
        else:
            start = _value(base, names, lo, hi, field)
            end = hi if step_text else start
        if start > end:
            raise ValueError(f"{field}: range {part!r} runs backwards")
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class Schedule:
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    interval: timedelta | None = None

    @classmethod
    def parse(cls, expression: str) -> Schedule:
        text = expression.strip()
        if ":" in text and " " not in text:
            h, m, s = (int(p) for p in text.split(":"))
            interval = timedelta(hours=h, minutes=m, seconds=s)
            if interval <= timedelta(0):
                raise ValueError("a TimeSpan schedule must be positive")
            everything: frozenset[int] = frozenset()
            return cls(everything, everything, everything, everything, everything, everything, interval)
        parts = text.split()
        if len(parts) == 5:
            parts.insert(0, "0")
        if len(parts) != 6:
            raise ValueError("NCRONTAB needs six fields (second minute hour day month day-of-week) or five "
                             f"(no seconds), got {len(parts)} in {expression!r}")
        sets = [_parse_field(p, name, lo, hi, names) for p, (name, lo, hi, names) in zip(parts, _FIELDS, strict=True)]
        return cls(sets[0], sets[1], sets[2], sets[3], sets[4], sets[5])

    def next_after(self, moment: datetime) -> datetime:
        """First occurrence strictly after `moment` (which must be timezone-aware UTC)."""
        if self.interval is not None:
            return moment + self.interval
        t = moment.replace(microsecond=0) + timedelta(seconds=1)
        limit = t + timedelta(days=366 * 5)
        while t < limit:
            if t.month not in self.months:
                t = (t.replace(day=1, hour=0, minute=0, second=0) + timedelta(days=32)).replace(day=1)
                continue
            weekday = (t.weekday() + 1) % 7  # Python: Monday=0; cron: Sunday=0
            if t.day not in self.days or weekday not in self.weekdays:
                t = t.replace(hour=0, minute=0, second=0) + timedelta(days=1)
                continue
            if t.hour not in self.hours:
                t = t.replace(minute=0, second=0) + timedelta(hours=1)
                continue
            if t.minute not in self.minutes:
                t = t.replace(second=0) + timedelta(minutes=1)
                continue
            if t.second not in self.seconds:
                t += timedelta(seconds=1)
                continue
            return t
        raise ValueError("schedule never fires")
