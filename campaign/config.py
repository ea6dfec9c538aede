"""config.toml read once into frozen dataclasses, every value checked at start."""

from __future__ import annotations

import datetime as dt
import difflib
import os
import tomllib
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from campaign.counties import check_names, parse_counties
from campaign.errors import ConfigError
from campaign.materials import parse_materials, parse_storage, parse_web
from campaign.model import (
    Campaign,
    Contact,
    Deadline,
    Department,
    Group,
    Indicator,
    Limits,
    Phase,
    Reminders,
    Wanghong,
)
from campaign.phones import is_mobile, normalize_phone
from campaign.units import KNOWN_UNITS, SYNONYMS

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config.toml"
ROLES = ("admin", "county_admin", "member")
AUDIENCES = ("all", "city")


KNOWN_SECTIONS = frozenset(
    {"campaign", "limits", "phases", "deadlines", "reminders", "wanghong", "departments",
     "contacts", "groups", "database", "telegram", "wecom", "dingtalk", "calendar", "units", "counties",
     "county_departments", "materials", "web"}
)


# Every key each table may hold. Anything else is a typo (max_amout) that would silently keep a default, so it
# stops the start, with a did-you-mean. Transport sections ([telegram], [wecom]) are checked by their own
# settings modules, [calendar] by reminders/calendar.py, all at start.
KNOWN_KEYS: Mapping[str, frozenset[str]] = {
    "campaign": frozenset({"title", "notice", "table_title", "contacts_title", "issued", "start", "end", "timezone",
                           "coordinator", "email"}),
    "limits": frozenset({"max_amount", "decimal_places", "user_burst", "user_per_second", "per_unit",
                         "per_indicator"}),
    "phases": frozenset({"name", "start", "end"}),
    "deadlines": frozenset({"key", "date", "audience", "title", "material", "recipient", "materials",
                            "materials_from"}),
    "reminders": frozenset({"offsets_days", "time", "grace_hours", "lease_seconds"}),
    "wanghong": frozenset({"week", "departments"}),
    "departments": frozenset({"key", "name", "short", "aliases", "group", "parent"}),
    "contacts": frozenset({"name", "department", "section", "mobile", "office", "fax", "email", "role",
                           "wecom_userid", "dingtalk_userid"}),
    "groups": frozenset({"name", "indicators"}),
    "counties": frozenset({"key", "name", "aliases", "departments"}),
    "county_departments": frozenset({"key", "parent", "name", "short", "aliases", "extra_groups"}),
    "groups.indicators": frozenset({"key", "name", "unit", "aliases", "unit_words"}),
    "database": frozenset({"url"}),
}


def did_you_mean(key: str, known: frozenset[str] | set[str]) -> str:
    """The reason for an unknown key: the closest known one, else the whole list."""
    close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
    if close:
        return f"unknown key; did you mean {close[0]!r}?"
    return f"unknown key; known: {', '.join(sorted(known))}"


class _Reader:
    """Typed access to the TOML tree that names the key in every error."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, key: str, reason: str) -> ConfigError:
        return ConfigError(self.path, key, reason)

    def only(self, data: Mapping[str, Any], kind: str, where: str) -> None:
        """Refuse keys the table `kind` does not have."""
        known = KNOWN_KEYS[kind]
        for key in data:
            if key not in known:
                raise self.fail(f"{where}.{key}", did_you_mean(key, known))

    def whole(self, data: Mapping[str, Any], key: str, where: str, default: int, low: int, high: int) -> int:
        """A whole number in [low, high]; true/false are not numbers here (TOML's bool is Python's int)."""
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(f"{where}.{key}", f"must be a whole number from {low} to {high}")
        return value

    def table(self, data: Mapping[str, Any], key: str, required: bool = True) -> Mapping[str, Any]:
        value = data.get(key)
        if value is None and not required:
            return {}
        if not isinstance(value, Mapping):
            raise self.fail(key, "must be a table")
        return value

    def tables(self, data: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
        value = data.get(key)
        if not isinstance(value, list) or not value or not all(isinstance(v, Mapping) for v in value):
            raise self.fail(key, f"must be a non-empty array of tables ([[{key}]])")
        return value

    def text(self, data: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
        value = data.get(key, default)
        if not isinstance(value, str) or (default is None and not value.strip()):
            raise self.fail(f"{where}.{key}", "must be a non-empty string" if default is None else "must be a string")
        return value.strip()

    def date(self, data: Mapping[str, Any], key: str, where: str) -> dt.date:
        value = data.get(key)
        if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
            raise self.fail(f"{where}.{key}", "must be a date like 2023-08-20")
        return value

    def strs(self, data: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise self.fail(f"{where}.{key}", "must be a list of non-empty strings")
        return tuple(v.strip() for v in value)


def load_campaign(path: Path | str | None = None) -> Campaign:
    """Read and check the campaign config: BOT_CONFIG, else the config.toml of the project."""
    chosen = Path(path or os.environ.get("BOT_CONFIG") or DEFAULT_CONFIG)
    try:
        raw = tomllib.loads(chosen.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(chosen, "(file)", "file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(chosen, "(syntax)", str(exc)) from None
    return parse_campaign(raw, chosen)


def parse_campaign(raw: Mapping[str, Any], path: Path) -> Campaign:
    """Build the Campaign from a parsed TOML tree, failing on the first bad value."""
    r = _Reader(path)
    for key in raw:
        if key not in KNOWN_SECTIONS:
            close = difflib.get_close_matches(key, sorted(KNOWN_SECTIONS), n=1, cutoff=0.6)
            hint = f"did you mean [{close[0]}]?" if close else f"known: {', '.join(sorted(KNOWN_SECTIONS))}"
            raise r.fail(key, f"unknown section; {hint}")
    for section in ("campaign", "limits", "reminders", "wanghong", "database"):
        if isinstance(raw.get(section), Mapping):
            r.only(raw[section], section, section)
    for section in ("phases", "deadlines", "departments", "contacts", "groups", "counties", "county_departments"):
        for n, item in enumerate(raw.get(section) or []):
            if isinstance(item, Mapping):
                r.only(item, section, f"{section}[{n}]")
    c = r.table(raw, "campaign")
    try:
        tz = ZoneInfo(r.text(c, "timezone", "campaign", "Asia/Shanghai") or "Asia/Shanghai")
    except (ZoneInfoNotFoundError, ValueError):
        raise r.fail("campaign.timezone", "unknown time zone") from None
    start, end = r.date(c, "start", "campaign"), r.date(c, "end", "campaign")
    if end < start:
        raise r.fail("campaign.end", "must not be before campaign.start")

    groups = _groups(r, raw)
    city = _departments(r, raw, {g.name for g in groups})
    counties, county_departments = parse_counties(r, raw, city, {g.name for g in groups})
    departments = city + county_departments
    check_names(r, departments, counties)
    dept_keys = {d.key for d in departments}
    contacts = _contacts(r, raw, dept_keys)
    for n, contact in enumerate(contacts):
        if contact.role == "county_admin" and contact.department not in {d.key for d in county_departments}:
            # The county's market regulation bureau (or whom it designates) oversees its county only.
            raise r.fail(f"contacts[{n}].role", "county_admin must belong to a county department")
    coordinator = r.text(c, "coordinator", "campaign")
    if coordinator not in dept_keys:
        raise r.fail("campaign.coordinator", f"no department with key {coordinator!r}")
    return Campaign(
        path=str(path),
        title=r.text(c, "title", "campaign"),
        notice=r.text(c, "notice", "campaign", ""),
        table_title=r.text(c, "table_title", "campaign"),
        contacts_title=r.text(c, "contacts_title", "campaign", "各成员单位联系人名单") or "各成员单位联系人名单",
        issued=r.date(c, "issued", "campaign"),
        start=start,
        end=end,
        tz=tz,
        coordinator=coordinator,
        email=r.text(c, "email", "campaign", ""),
        departments=departments,
        contacts=contacts,
        groups=groups,
        deadlines=_deadlines(r, raw, start, end, {g.name for g in groups}),
        phases=_phases(r, raw),
        reminders=_reminders(r, raw),
        wanghong=_wanghong(r, raw, dept_keys),
        limits=_limits(r, raw, {i.key for g in groups for i in g.indicators}),
        unit_synonyms=_unit_synonyms(r, raw),
        database_url=r.text(r.table(raw, "database", required=False), "url", "database", ""),
        sections={k: v for k, v in raw.items()
                  if k in ("telegram", "wecom", "dingtalk", "calendar") and isinstance(v, Mapping)},
        counties=counties,
        storage=parse_storage(path, raw.get("materials")),
        web=parse_web(path, raw.get("web")),
    )


def _phases(r: _Reader, raw: Mapping[str, Any]) -> tuple[Phase, ...]:
    result: list[Phase] = []
    for n, p in enumerate(r.tables(raw, "phases")):
        where = f"phases[{n}]"
        phase = Phase(r.text(p, "name", where), r.date(p, "start", where), r.date(p, "end", where))
        if phase.end < phase.start:
            raise r.fail(f"{where}.end", f"{phase.end} is before the phase's start {phase.start}")
        if any(x.name == phase.name for x in result):
            raise r.fail(f"{where}.name", f"phase {phase.name!r} appears twice")
        result.append(phase)
    return tuple(result)


def _groups(r: _Reader, raw: Mapping[str, Any]) -> tuple[Group, ...]:
    groups: list[Group] = []
    keys: set[str] = set()
    labels: set[tuple[str, str]] = set()
    for gn, g in enumerate(r.tables(raw, "groups")):
        where = f"groups[{gn}]"
        name = r.text(g, "name", where)
        if any(x.name == name for x in groups):
            raise r.fail(f"{where}.name", f"group {name!r} appears twice")
        items = g.get("indicators")
        if not isinstance(items, list) or not items:
            raise r.fail(f"{where}.indicators", "must be a non-empty list")
        indicators: list[Indicator] = []
        for n, item in enumerate(items):
            iw = f"{where}.indicators[{n}]"
            if not isinstance(item, Mapping):
                raise r.fail(iw, "must be a table with key, name and unit")
            r.only(item, "groups.indicators", iw)
            key, unit = r.text(item, "key", iw), r.text(item, "unit", iw)
            if key in keys:
                raise r.fail(f"{iw}.key", f"indicator key {key!r} appears twice")
            if unit not in KNOWN_UNITS:
                raise r.fail(f"{iw}.unit", f"unknown unit {unit!r}; known: {'、'.join(sorted(KNOWN_UNITS))}")
            ind = Indicator(key, name, n + 1, r.text(item, "name", iw), unit, r.strs(item, "aliases", iw),
                            r.strs(item, "unit_words", iw))
            if (ind.name, unit) in labels:
                raise r.fail(f"{iw}.name", f"{ind.label} appears twice")
            keys.add(key)
            labels.add((ind.name, unit))
            indicators.append(ind)
        groups.append(Group(name, tuple(indicators)))
    return tuple(groups)


def _departments(r: _Reader, raw: Mapping[str, Any], group_names: set[str]) -> tuple[Department, ...]:
    result: list[Department] = []
    for n, d in enumerate(r.tables(raw, "departments")):
        where = f"departments[{n}]"
        dep = Department(
            key=r.text(d, "key", where),
            name=r.text(d, "name", where),
            short=r.text(d, "short", where),
            aliases=r.strs(d, "aliases", where),
            group=r.text(d, "group", where, "") or None,
            parent=r.text(d, "parent", where, "") or None,
        )
        if any(x.key == dep.key for x in result):
            raise r.fail(f"{where}.key", f"department key {dep.key!r} appears twice")
        if any(x.short == dep.short for x in result):
            # Reports, 通知 and 导出 find a department by its short name: two would make it a guess.
            raise r.fail(f"{where}.short", f"short name {dep.short!r} is already used by another department")
        if dep.group is not None and dep.group not in group_names:
            raise r.fail(f"{where}.group", f"no indicator group named {dep.group!r}")
        result.append(dep)
    keys = {d.key for d in result}
    for n, dep in enumerate(result):
        if dep.parent is not None and dep.parent not in keys:
            raise r.fail(f"departments[{n}].parent", f"no department with key {dep.parent!r}")
    return tuple(result)


def _contacts(r: _Reader, raw: Mapping[str, Any], dept_keys: set[str]) -> tuple[Contact, ...]:
    result: list[Contact] = []
    for n, c in enumerate(r.tables(raw, "contacts")):
        where = f"contacts[{n}]"
        contact = Contact(
            name=r.text(c, "name", where),
            department=r.text(c, "department", where),
            section=r.text(c, "section", where, ""),
            mobile=normalize_phone(r.text(c, "mobile", where, "")),
            office=r.text(c, "office", where, ""),
            fax=r.text(c, "fax", where, ""),
            email=r.text(c, "email", where, ""),
            role=r.text(c, "role", where, "member"),
            wecom_userid=r.text(c, "wecom_userid", where, ""),
            dingtalk_userid=r.text(c, "dingtalk_userid", where, ""),
        )
        if contact.department not in dept_keys:
            raise r.fail(f"{where}.department", f"no department with key {contact.department!r}")
        if contact.role not in ROLES:
            raise r.fail(f"{where}.role", f"must be one of {', '.join(ROLES)}")
        if contact.mobile and not is_mobile(contact.mobile):
            raise r.fail(f"{where}.mobile", "must be an 11-digit mobile number starting with 1")
        if any(x.name == contact.name and x.department == contact.department for x in result):
            raise r.fail(f"{where}.name", f"contact {contact.name!r} appears twice in one department")
        twin = next((x for x in result if contact.mobile and x.mobile == contact.mobile), None)
        if twin is not None:
            # Sharing a mobile binds the phone to one of them: a guess about who is reporting.
            raise r.fail(f"{where}.mobile", f"{contact.mobile} is already the mobile of {twin.name}")
        result.append(contact)
    if not any(c.is_admin for c in result):
        raise r.fail("contacts", "at least one contact needs role = \"admin\"")
    return tuple(result)


def _deadlines(r: _Reader, raw: Mapping[str, Any], start: dt.date, end: dt.date,
               groups: set[str]) -> tuple[Deadline, ...]:
    result: list[Deadline] = []
    for n, d in enumerate(r.tables(raw, "deadlines")):
        where = f"deadlines[{n}]"
        item = Deadline(
            key=r.text(d, "key", where),
            date=r.date(d, "date", where),
            audience=r.text(d, "audience", where, "all"),
            title=r.text(d, "title", where),
            material=r.text(d, "material", where),
            recipient=r.text(d, "recipient", where),
            materials=parse_materials(r.path, f"{where}.materials", d.get("materials"), groups),
            materials_from=r.text(d, "materials_from", where, ""),
        )
        if item.audience not in AUDIENCES:
            raise r.fail(f"{where}.audience", f"must be one of {', '.join(AUDIENCES)}")
        if not start <= item.date <= end:
            raise r.fail(f"{where}.date", "must lie within campaign.start and campaign.end")
        if any(x.key == item.key for x in result):
            raise r.fail(f"{where}.key", f"deadline key {item.key!r} appears twice")
        result.append(item)
    for n, item in enumerate(result):
        source = next((x for x in result if x.key == item.materials_from), None) if item.materials_from else item
        if source is None or source.materials_from:
            raise r.fail(f"deadlines[{n}].materials_from", "must name another deadline that has its own materials")
        if item.materials_from and item.materials:
            raise r.fail(f"deadlines[{n}].materials", "a deadline with materials_from lists no materials itself")
    return tuple(sorted(result, key=lambda d: d.date))


def _reminders(r: _Reader, raw: Mapping[str, Any]) -> Reminders:
    t = r.table(raw, "reminders", required=False)
    offsets = t.get("offsets_days", [7, 3, 1, 0])
    if not isinstance(offsets, list) or not offsets or not all(
        isinstance(o, int) and not isinstance(o, bool) and 0 <= o <= 60 for o in offsets
    ):
        raise r.fail("reminders.offsets_days", "must be a non-empty list of whole days between 0 and 60")
    text = r.text(t, "time", "reminders", "09:00")
    try:
        at = dt.time.fromisoformat(text)
    except ValueError:
        raise r.fail("reminders.time", "must be a time like 09:00") from None
    grace = t.get("grace_hours", 48)
    if not isinstance(grace, int) or isinstance(grace, bool) or not 0 <= grace <= 24 * 30:
        raise r.fail("reminders.grace_hours", "must be a whole number of hours from 0 to 720")
    lease = r.whole(t, "lease_seconds", "reminders", 300, 1, 3600)
    return Reminders(tuple(sorted(set(offsets), reverse=True)), at, grace, lease)


def _wanghong(r: _Reader, raw: Mapping[str, Any], dept_keys: set[str]) -> Wanghong:
    t = r.table(raw, "wanghong", required=False)
    week = t.get("week", 2)
    if not isinstance(week, int) or isinstance(week, bool) or not 1 <= week <= 5:
        raise r.fail("wanghong.week", "must be a week of the month from 1 to 5 (5 = the last week)")
    departments = r.strs(t, "departments", "wanghong")
    for key in departments:
        if key not in dept_keys:
            raise r.fail("wanghong.departments", f"no department with key {key!r}")
    return Wanghong(week, departments)


def _unit_synonyms(r: _Reader, raw: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    t = r.table(raw, "units", required=False)
    if not t:
        return dict(SYNONYMS)
    result: dict[str, tuple[str, ...]] = {}
    for unit in t:
        if unit not in KNOWN_UNITS:
            raise r.fail(f"units.{unit}", f"unknown unit; known: {'、'.join(sorted(KNOWN_UNITS))}")
        result[unit] = r.strs(t, unit, "units")
    return result


def _caps(r: _Reader, t: Mapping[str, Any], key: str, known: set[str]) -> tuple[tuple[str, Decimal], ...]:
    table = t.get(key, {})
    if not isinstance(table, Mapping):
        raise r.fail(f"limits.{key}", "must be a table")
    caps = []
    for name, top in table.items():
        if name not in known:
            raise r.fail(f"limits.{key}.{name}", "unknown " + ("unit" if key == "per_unit" else "indicator key"))
        if isinstance(top, bool) or not isinstance(top, int | float) or top <= 0:
            raise r.fail(f"limits.{key}.{name}", "must be a number above 0")
        caps.append((str(name), Decimal(str(top))))
    return tuple(caps)


def _limits(r: _Reader, raw: Mapping[str, Any], indicator_keys: set[str]) -> Limits:
    t = r.table(raw, "limits", required=False)
    top = t.get("max_amount", 10000)
    places = t.get("decimal_places", 4)
    if not isinstance(top, int) or isinstance(top, bool) or top < 1:
        raise r.fail("limits.max_amount", "must be a whole number of at least 1")
    if not isinstance(places, int) or isinstance(places, bool) or not 0 <= places <= 4:
        raise r.fail("limits.decimal_places", "must be a whole number from 0 to 4 (the ledger keeps 4)")
    burst = t.get("user_burst", 20)
    rate = t.get("user_per_second", 1.0)
    if not isinstance(burst, int) or isinstance(burst, bool) or burst < 1:
        raise r.fail("limits.user_burst", "must be a whole number of at least 1")
    if not isinstance(rate, int | float) or isinstance(rate, bool) or rate <= 0:
        raise r.fail("limits.user_per_second", "must be a number above 0")
    return Limits(Decimal(top), places, burst, float(rate), _caps(r, t, "per_unit", set(KNOWN_UNITS)),
                  _caps(r, t, "per_indicator", indicator_keys))
