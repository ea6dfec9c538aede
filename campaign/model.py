"""The campaign as the bot knows it: frozen dataclasses built once from config.toml (see campaign.config)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from campaign.materials import Material, Storage, Web
from campaign.units import FRACTIONAL_UNITS, SYNONYMS


@dataclass(frozen=True)
class Indicator:
    key: str
    group: str
    no: int  # 1-based position inside its group: the item number users type
    name: str
    unit: str
    aliases: tuple[str, ...] = ()
    unit_words: tuple[str, ...] = ()  # words read loosely for this row's unit (家 for 个次 where it counts shops)

    @property
    def fractional(self) -> bool:
        return self.unit in FRACTIONAL_UNITS

    @property
    def label(self) -> str:
        """The name as printed in 附件2, unit in brackets."""
        return f"{self.name}（{self.unit}）"


@dataclass(frozen=True)
class Group:
    name: str
    indicators: tuple[Indicator, ...]


@dataclass(frozen=True)
class Department:
    key: str
    name: str
    short: str
    aliases: tuple[str, ...] = ()
    group: str | None = None
    parent: str | None = None  # county units: the city department whose system they belong to
    county: str | None = None  # county key of a county-level unit; None for the city's departments
    extra_groups: tuple[str, ...] = ()  # further 附件2 groups it fills (a county 市场监管局: 药品监管部门)
    # Names that mean this unit only inside its own county (公安局 for a 三元区 contact), or after the
    # county's name (三元区 公安局, 三元公安); never matched city-wide, so they need not be unique.
    local_names: tuple[str, ...] = ()

    def names(self) -> tuple[str, ...]:
        return (self.key, self.name, self.short, *self.aliases)

    @property
    def groups(self) -> tuple[str, ...]:
        """Every 附件2 group this unit fills, its main group first."""
        return ((self.group,) if self.group else ()) + self.extra_groups

    @property
    def system(self) -> str:
        """The key of the city department whose system this unit belongs to (itself for a city department)."""
        return self.parent or self.key


@dataclass(frozen=True)
class County:
    """A county-level unit (县、市、区) of the city; its departments are Department rows with county = key."""

    key: str
    name: str
    aliases: tuple[str, ...] = ()

    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


@dataclass(frozen=True)
class Contact:
    name: str
    department: str
    section: str = ""
    mobile: str = ""
    office: str = ""
    fax: str = ""
    email: str = ""
    role: str = "member"
    wecom_userid: str = ""
    dingtalk_userid: str = ""

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def directory_ids(self) -> dict[str, str]:
        """transport -> this contact's userid in that transport's enterprise directory, where config gives one."""
        ids = {"wecom": self.wecom_userid, "dingtalk": self.dingtalk_userid}
        return {transport: userid for transport, userid in ids.items() if userid}


@dataclass(frozen=True)
class Deadline:
    key: str
    date: dt.date
    audience: str
    title: str
    material: str
    recipient: str
    materials: tuple[Material, ...] = ()  # the files it asks for (campaign/materials.py)
    materials_from: str = ""  # a copy deadline: the key of the deadline whose files it collects

    @property
    def collection(self) -> str:
        """The deadline key its files are filed under."""
        return self.materials_from or self.key


@dataclass(frozen=True)
class Phase:
    name: str
    start: dt.date
    end: dt.date


@dataclass(frozen=True)
class Reminders:
    offsets_days: tuple[int, ...] = (7, 3, 1, 0)
    time: dt.time = dt.time(9, 0)
    # A reminder missed while the bot was down still goes out this late (never after its deadline day).
    grace_hours: int = 48
    # An outbox claim holds this long; a row whose sender died is then taken again (store/outbox.py).
    lease_seconds: int = 300


@dataclass(frozen=True)
class Wanghong:
    week: int = 2
    departments: tuple[str, ...] = ()


@dataclass(frozen=True)
class Limits:
    max_amount: Decimal = Decimal(10000)
    decimal_places: int = 4
    # Per messaging account: a burst of this many messages, then this many per second.
    user_burst: int = 20
    user_per_second: float = 1.0
    # The usual largest amount of one message, by the row's unit and by indicator key (these win over
    # max_amount). Above it a report is proposed with a warning and booked only on 确认.
    per_unit: tuple[tuple[str, Decimal], ...] = ()
    per_indicator: tuple[tuple[str, Decimal], ...] = ()

    def cap(self, indicator: Indicator) -> Decimal:
        for key, top in self.per_indicator:
            if key == indicator.key:
                return top
        for unit, top in self.per_unit:
            if unit == indicator.unit:
                return top
        return self.max_amount


@dataclass(frozen=True)
class Campaign:
    path: str
    title: str
    notice: str
    table_title: str
    contacts_title: str
    issued: dt.date
    start: dt.date
    end: dt.date
    tz: ZoneInfo
    coordinator: str
    email: str
    departments: tuple[Department, ...]
    contacts: tuple[Contact, ...]
    groups: tuple[Group, ...]
    deadlines: tuple[Deadline, ...]
    phases: tuple[Phase, ...]
    reminders: Reminders
    wanghong: Wanghong
    limits: Limits
    database_url: str
    sections: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # Table unit -> words read loosely for it ([units] in config.toml; campaign.units.SYNONYMS by default).
    unit_synonyms: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(SYNONYMS))
    counties: tuple[County, ...] = ()
    storage: Storage = field(default_factory=Storage)
    web: Web = field(default_factory=Web)

    def unit_fits_loosely(self, indicator: Indicator, word: str) -> bool:
        return word in indicator.unit_words or word in self.unit_synonyms.get(indicator.unit, ())

    # Lookups by key: with a province's thousand units a linear search per call made 进度 quadratic.
    # (cached_property writes the instance __dict__ directly, so it works on a frozen dataclass.)
    @cached_property
    def _departments_by_key(self) -> dict[str, Department]:
        return {d.key: d for d in self.departments}

    @cached_property
    def _indicators_by_key(self) -> dict[str, Indicator]:
        return {i.key: i for i in self.indicators}

    @cached_property
    def _by_county(self) -> dict[str, tuple[Department, ...]]:
        found: dict[str, list[Department]] = {}
        for d in self.departments:
            if d.county is not None:
                found.setdefault(d.county, []).append(d)
        return {k: tuple(v) for k, v in found.items()}

    @cached_property
    def _groups_by_name(self) -> dict[str, Group]:
        return {g.name: g for g in self.groups}

    @property
    def indicators(self) -> tuple[Indicator, ...]:
        return tuple(i for g in self.groups for i in g.indicators)

    def department(self, key: str) -> Department:
        return self._departments_by_key[key]

    def group(self, name: str | None) -> Group | None:
        return self._groups_by_name.get(name) if name is not None else None

    def indicators_of(self, department_key: str) -> tuple[Indicator, ...]:
        dep = self.department(department_key)
        if not dep.extra_groups:
            group = self.group(dep.group)
            return group.indicators if group else ()
        # Table order, whatever order the config lists the groups in.
        return tuple(i for g in self.groups if g.name in dep.groups for i in g.indicators)

    def indicator(self, key: str) -> Indicator:
        return self._indicators_by_key[key]

    def county(self, key: str) -> County:
        for c in self.counties:
            if c.key == key:
                return c
        raise KeyError(key)

    def county_departments(self, county_key: str) -> tuple[Department, ...]:
        return self._by_county.get(county_key, ())

    def find_department(self, text: str, near: str | None = None, county: str | None = None) -> Department | None:
        """The one department a user means (see campaign.names), or None if none or several match."""
        from campaign.names import match_departments

        found = match_departments(self, text, near=near, county=county)
        return found[0] if len(found) == 1 else None
