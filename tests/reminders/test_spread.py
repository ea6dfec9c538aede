"""Reminders on WeCom leave over a few minutes after their time, never all at :00 or :30."""

from __future__ import annotations

import datetime as dt

from reminders.dispatch import spread

NINE = dt.datetime(2023, 8, 18, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def test_spread_stays_within_the_window_and_off_the_hour() -> None:
    times = [NINE + spread(contact, dt.timedelta(minutes=5)) for contact in range(1, 500)]
    assert all(NINE + dt.timedelta(minutes=1) <= t < NINE + dt.timedelta(minutes=5) for t in times)
    assert len({t.minute for t in times}) == 4  # 09:01 to 09:04: spread, not bunched
    assert spread(7, dt.timedelta(minutes=5)) == spread(7, dt.timedelta(minutes=5))  # fixed per contact


def test_no_spread_without_a_window() -> None:
    assert spread(7, None) == dt.timedelta(0) == spread(7, dt.timedelta(0))
