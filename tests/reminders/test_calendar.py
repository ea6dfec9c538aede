"""WorkCalendar: config lists first, then chinese_calendar, then a Monday–Friday fallback."""

from __future__ import annotations

import datetime as dt
import logging
import tomllib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from campaign import ConfigError, load_campaign
from reminders.calendar import WorkCalendar, calendar_from_config

D = dt.date


def test_2023_national_day_and_make_up_days() -> None:
    cal = WorkCalendar()
    # 中秋节 + 国庆节 2023: 9-29 .. 10-06 off, Saturday 10-07 and Sunday 10-08 are make-up working days.
    for n in range(8):
        assert not cal.is_workday(D(2023, 9, 29) + dt.timedelta(days=n))
    assert cal.is_workday(D(2023, 10, 7)) and cal.is_workday(D(2023, 10, 8))
    assert cal.is_workday(D(2023, 9, 28))
    assert not cal.is_workday(D(2023, 8, 20))  # the mid-term deadline is a Sunday
    assert cal.is_workday(D(2023, 8, 18))
    assert cal.unknown_years() == set()


def test_previous_and_next_workday() -> None:
    cal = WorkCalendar()
    assert cal.previous_workday(D(2023, 8, 20)) == D(2023, 8, 18)
    assert cal.previous_workday(D(2023, 8, 18)) == D(2023, 8, 18)
    assert cal.previous_workday(D(2023, 10, 6)) == D(2023, 9, 28)
    assert cal.previous_workday(D(2023, 10, 7)) == D(2023, 10, 7)
    assert cal.next_workday(D(2023, 9, 29)) == D(2023, 10, 7)
    assert cal.next_workday(D(2023, 8, 19)) == D(2023, 8, 21)
    assert cal.next_workday(D(2023, 8, 21)) == D(2023, 8, 21)


def test_datetime_counts_as_its_day() -> None:
    cal = WorkCalendar()
    assert cal.is_workday(dt.datetime(2023, 10, 8, 9, 0)) is True
    assert cal.previous_workday(dt.datetime(2023, 8, 20, 9, 0)) == D(2023, 8, 18)


def test_unknown_year_falls_back_to_monday_to_friday_and_says_so_once(caplog: pytest.LogCaptureFixture) -> None:
    noted: list[int] = []
    cal = WorkCalendar(on_unknown_year=noted.append)
    with caplog.at_level(logging.WARNING, logger="reminders.calendar"):
        week = [D(2031, 1, 6) + dt.timedelta(days=n) for n in range(14)]  # 2031-01-06 is a Monday
        assert [cal.is_workday(d) for d in week] == [d.weekday() < 5 for d in week]
        assert cal.previous_workday(D(2031, 1, 5)) == D(2031, 1, 3)
        assert cal.next_workday(D(2032, 1, 3)) == D(2032, 1, 5)  # a second unknown year
    assert noted == [2031, 2032]
    assert cal.unknown_years() == {2031, 2032}
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert "2031" in warnings[0].getMessage()


def test_unknown_years_is_a_copy() -> None:
    cal = WorkCalendar()
    cal.is_workday(D(2031, 1, 1))
    cal.unknown_years().add(1999)
    assert cal.unknown_years() == {2031}


def test_failing_callback_does_not_crash(caplog: pytest.LogCaptureFixture) -> None:
    def boom(year: int) -> None:
        raise RuntimeError("admin chat unreachable")

    cal = WorkCalendar(on_unknown_year=boom)
    assert cal.is_workday(D(2031, 1, 6)) is True
    assert cal.is_workday(D(2031, 1, 7)) is True  # noted once only, so it is not retried
    assert any("callback failed" in r.getMessage() for r in caplog.records)


def test_config_lists_override_the_library() -> None:
    cal = WorkCalendar(holidays=[D(2023, 8, 21)], workdays=[D(2023, 8, 19), D(2027, 2, 7)])
    assert not cal.is_workday(D(2023, 8, 21))
    assert cal.is_workday(D(2023, 8, 19))
    assert cal.previous_workday(D(2023, 8, 21)) == D(2023, 8, 19)
    assert cal.is_workday(D(2027, 2, 7))  # a Sunday, made a working day by config
    assert cal.unknown_years() == set()  # listed dates never need the library


def test_config_lists_cover_years_the_library_does_not_know() -> None:
    noted: list[int] = []
    cal = WorkCalendar(holidays=[D(2027, 1, 1)], on_unknown_year=noted.append)
    assert not cal.is_workday(D(2027, 1, 1))  # a Friday
    assert noted == []
    assert cal.is_workday(D(2026, 12, 31))  # still known to chinese_calendar 1.11
    assert cal.is_workday(D(2027, 1, 4)) and noted == [2027]


def test_a_day_in_both_lists_is_refused() -> None:
    with pytest.raises(ValueError):
        WorkCalendar(holidays=[D(2027, 1, 1)], workdays=[D(2027, 1, 1)])


def test_no_workday_in_reach_raises_instead_of_looping() -> None:
    start = D(2023, 1, 1)
    cal = WorkCalendar(holidays=[start + dt.timedelta(days=n) for n in range(400)])
    with pytest.raises(ValueError):
        cal.next_workday(start)


@given(st.dates(min_value=D(2004, 1, 10), max_value=D(2035, 12, 20)))
def test_previous_and_next_are_the_nearest_workdays(day: dt.date) -> None:
    cal = WorkCalendar()
    before, after = cal.previous_workday(day), cal.next_workday(day)
    assert before <= day <= after
    assert cal.is_workday(before) and cal.is_workday(after)
    between = [before + dt.timedelta(days=n) for n in range(1, (after - before).days)]
    assert not any(cal.is_workday(d) for d in between)
    if cal.is_workday(day):
        assert before == after == day


# --------------------------------------------------------------------------- calendar_from_config

EXAMPLE = """
[calendar]
holidays = [2027-01-01]
workdays = [2027-02-07]
"""


def test_documented_example_parses() -> None:
    section = tomllib.loads(EXAMPLE)["calendar"]
    cal = calendar_from_config(section, "config.toml")
    assert not cal.is_workday(D(2027, 1, 1))
    assert cal.is_workday(D(2027, 2, 7))


def test_missing_or_empty_section_is_fine() -> None:
    sections: tuple[dict[str, object] | None, ...] = (None, {})
    for section in sections:
        cal = calendar_from_config(section, "config.toml")
        assert cal.is_workday(D(2023, 10, 7))


def test_project_config_loads() -> None:
    campaign = load_campaign()
    noted: list[int] = []
    cal = calendar_from_config(campaign.sections.get("calendar"), campaign.path, on_unknown_year=noted.append)
    assert not cal.is_workday(D(2023, 10, 2))
    cal.is_workday(D(2031, 3, 3))
    assert noted == [2031]


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"holidays": "2027-01-01"}, "calendar.holidays"),
        ({"holidays": ["2027-01-01"]}, "calendar.holidays[0]"),
        ({"workdays": [D(2027, 2, 7), dt.datetime(2027, 2, 8, 0, 0)]}, "calendar.workdays[1]"),
        ({"holiday": [D(2027, 1, 1)]}, "calendar.holiday"),
        ({"holidays": [D(2027, 1, 1)], "workdays": [D(2027, 1, 1)]}, "calendar.workdays"),
    ],
)
def test_bad_values_name_the_key(section: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        calendar_from_config(section, "/etc/bot/config.toml")
    assert info.value.key == key
    assert info.value.path == "/etc/bot/config.toml"
    assert info.value.reason
