from datetime import UTC, datetime, timedelta

import pytest

from tools.devhost.ncrontab import Schedule


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_every_five_minutes() -> None:
    s = Schedule.parse("0 */5 * * * *")
    assert s.next_after(at("2026-01-01T10:02:30")) == at("2026-01-01T10:05:00")
    assert s.next_after(at("2026-01-01T10:05:00")) == at("2026-01-01T10:10:00")


def test_every_second_and_ranges_lists_names() -> None:
    assert Schedule.parse("* * * * * *").next_after(at("2026-01-01T00:00:00")) == at("2026-01-01T00:00:01")
    s = Schedule.parse("30 15 9-17/4 * * mon-fri")
    # 2026-01-03 is a Saturday: next is Monday 09:15:30
    assert s.next_after(at("2026-01-03T12:00:00")) == at("2026-01-05T09:15:30")
    assert Schedule.parse("0 0 0 1 jan,jul *").next_after(at("2026-02-01T00:00:00")) == at("2026-07-01T00:00:00")


def test_day_and_weekday_must_both_match() -> None:
    # the 13th that is a Friday (NCrontab's rule): 2026-02-13 is a Friday
    assert Schedule.parse("0 0 0 13 * 5").next_after(at("2026-01-14T00:00:00")) == at("2026-02-13T00:00:00")


def test_sunday_as_seven_and_timespan() -> None:
    assert Schedule.parse("0 0 12 * * 7").next_after(at("2026-01-01T00:00:00")) == at("2026-01-04T12:00:00")
    s = Schedule.parse("00:00:10")
    assert s.next_after(at("2026-01-01T00:00:00")) == at("2026-01-01T00:00:10")
    assert s.interval == timedelta(seconds=10)


def test_five_field_cron_fires_at_second_zero() -> None:
    # The host's CronSchedule takes the classic five fields too: minute hour day month day-of-week.
    assert Schedule.parse("* * * * *").next_after(at("2026-01-01T10:02:30")) == at("2026-01-01T10:03:00")
    assert Schedule.parse("*/5 9 * * mon").next_after(at("2026-01-01T00:00:00")) == at("2026-01-05T09:00:00")


@pytest.mark.parametrize("bad", ["* * * *", "* * * * * * *", "61 * * * * *", "*/0 * * * * *", "5-1 * * * * *",
                                 "x * * * * *"])
def test_invalid_expressions_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError):
        Schedule.parse(bad)
