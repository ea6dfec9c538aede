"""Chinese working days: config overrides, then chinese_calendar, then a Monday–Friday fallback.

Reminders must never land on a public holiday, and the State Council's make-up working days
(调休, often a Saturday or Sunday) count as working days. chinese_calendar knows these for the years
it ships data for (1.11: 2004–2026) and raises NotImplementedError for any other year. The State
Council publishes next year's holidays each November, usually before the library catches up, so
config.toml can list them itself:

    [calendar]
    # Days off (法定节假日) and make-up working days (调休上班), as TOML dates without quotes.
    holidays = [2027-01-01]
    workdays = [2027-02-07]

A date listed there wins over the library. For a year nobody knows, the calendar falls back to
Monday–Friday and says so once per year (log warning + on_unknown_year callback), instead of
crashing the scheduler: a reminder on a holiday is a nuisance, a dead bot is worse.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from campaign.errors import ConfigError

try:  # The library has no type stubs: it is only ever reached through _official_is_workday.
    import chinese_calendar as _chinese_calendar
except ImportError:  # pragma: no cover - it is pinned in requirements.txt; degrade rather than die.
    _chinese_calendar = None

log = logging.getLogger(__name__)

CALENDAR_KEYS = ("holidays", "workdays")
# A search for a working day gives up after this many days: even the longest break (Spring
# Festival) is far shorter, so hitting it means the config lists a whole year of holidays.
_MAX_SEARCH_DAYS = 366


def _official_is_workday(day: dt.date) -> bool | None:
    """chinese_calendar's answer, or None when it has no data for that year."""
    if _chinese_calendar is None:  # pragma: no cover
        return None
    try:
        answer = _chinese_calendar.is_workday(day)
    except NotImplementedError:
        return None
    return bool(answer)


class WorkCalendar:
    """Answers "is this a working day in mainland China?" and finds the nearest one."""

    def __init__(
        self,
        holidays: Iterable[dt.date] = (),
        workdays: Iterable[dt.date] = (),
        on_unknown_year: Callable[[int], None] | None = None,
    ) -> None:
        self._holidays = frozenset(holidays)
        self._workdays = frozenset(workdays)
        clash = self._holidays & self._workdays
        if clash:
            raise ValueError(f"listed both as holiday and as workday: {', '.join(sorted(map(str, clash)))}")
        self._on_unknown_year = on_unknown_year
        self._unknown: set[int] = set()
        # Several scheduler threads may ask at once; the lock keeps "once per year" exact.
        self._lock = threading.Lock()

    def is_workday(self, day: dt.date) -> bool:
        if isinstance(day, dt.datetime):  # a datetime is a date subclass; only its calendar day matters
            day = day.date()
        if day in self._holidays:
            return False
        if day in self._workdays:
            return True
        official = _official_is_workday(day)
        if official is not None:
            return official
        self._note_unknown_year(day.year)
        return day.weekday() < 5

    def previous_workday(self, day: dt.date) -> dt.date:
        """The day itself if it is a working day, else the closest working day before it."""
        return self._search(day, -1)

    def next_workday(self, day: dt.date) -> dt.date:
        """The day itself if it is a working day, else the closest working day after it."""
        return self._search(day, 1)

    def unknown_years(self) -> set[int]:
        """Years for which the Monday–Friday fallback was used (a copy: callers may not change it)."""
        with self._lock:
            return set(self._unknown)

    def _search(self, day: dt.date, step: int) -> dt.date:
        if isinstance(day, dt.datetime):
            day = day.date()
        for n in range(_MAX_SEARCH_DAYS + 1):
            candidate = day + dt.timedelta(days=step * n)
            if self.is_workday(candidate):
                return candidate
        raise ValueError(f"no working day within {_MAX_SEARCH_DAYS} days of {day}: check [calendar] holidays")

    def _note_unknown_year(self, year: int) -> None:
        with self._lock:
            if year in self._unknown:
                return
            self._unknown.add(year)
        log.warning(
            "no holiday data for %d: assuming Monday–Friday working days; list the State Council's "
            "holidays and make-up working days under [calendar] in config.toml",
            year,
        )
        if self._on_unknown_year is not None:
            try:
                self._on_unknown_year(year)
            except Exception:  # a failing notifier must not stop reminders from being planned
                log.exception("on_unknown_year callback failed for %d", year)


def calendar_from_config(
    section: Mapping[str, Any] | None,
    path: str | Path,
    *,
    on_unknown_year: Callable[[int], None] | None = None,
) -> WorkCalendar:
    """Build the calendar from the raw [calendar] table; a missing or empty table is fine.

    Raises ConfigError naming calendar.holidays / calendar.workdays (with the index) on bad values,
    so a typo in next year's holidays stops the bot at start instead of silently misplanning.
    """
    table: Mapping[str, Any] = section if section is not None else {}
    if not isinstance(table, Mapping):
        raise ConfigError(path, "calendar", "must be a table ([calendar])")
    for key in table:
        if key not in CALENDAR_KEYS:
            raise ConfigError(path, f"calendar.{key}", f"unknown key; known: {', '.join(CALENDAR_KEYS)}")
    lists = {key: _dates(table.get(key, []), path, f"calendar.{key}") for key in CALENDAR_KEYS}
    clash = set(lists["holidays"]) & set(lists["workdays"])
    if clash:
        first = min(clash)
        raise ConfigError(path, "calendar.workdays", f"{first} is also listed in calendar.holidays")
    return WorkCalendar(lists["holidays"], lists["workdays"], on_unknown_year=on_unknown_year)


def _dates(value: Any, path: str | Path, key: str) -> tuple[dt.date, ...]:
    if not isinstance(value, list):
        raise ConfigError(path, key, "must be a list of dates like [2027-01-01, 2027-01-02]")
    for n, item in enumerate(value):
        # TOML gives datetime for 2027-01-01T00:00 and str for "2027-01-01": both are mistakes here.
        if isinstance(item, dt.datetime) or not isinstance(item, dt.date):
            raise ConfigError(path, f"{key}[{n}]", "must be a date like 2027-01-01 (no quotes, no time)")
    return tuple(value)
