"""Dates as users type them: 8月20日, 2023年8月20日, 2023-08-20, 2023/8/20, 8-20."""

from __future__ import annotations

import datetime as dt
import re

_FULL = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")
_SHORT = re.compile(r"(?<!\d)(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?!\d)")


class DateError(ValueError):
    """The text holds something that looks like a date but is none."""


def find_dates(text: str, default_year: int) -> tuple[list[dt.date], str]:
    """Every date in the text, and the text with the dates taken out."""
    found: list[dt.date] = []

    def take(m: re.Match[str], year: int | None) -> str:
        y, mo, d = (int(m.group(1)), int(m.group(2)), int(m.group(3))) if year is None else (
            year, int(m.group(1)), int(m.group(2)))
        try:
            found.append(dt.date(y, mo, d))
        except ValueError:
            raise DateError(f"日期「{m.group(0)}」不存在。") from None
        return " "

    rest = _FULL.sub(lambda m: take(m, None), text)
    rest = _SHORT.sub(lambda m: take(m, default_year), rest)
    return found, " ".join(rest.split())


def end_of_day(day: dt.date, tz: dt.tzinfo) -> dt.datetime:
    """The last moment of a day in the campaign's time zone: 'as it stood at the end of that day'."""
    return dt.datetime.combine(day, dt.time.max, tz)
