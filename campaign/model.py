"""The campaign as the bot knows it: frozen dataclasses built once from config.toml (see campaign.config)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

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
    parent: str | None = None

    def names(self) -> tuple[str, ...]:
        return (self.key, self.name, self.short, *self.aliases)


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
    lease_seconds: int = 120


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

    def unit_fits_loosely(self, indicator: Indicator, word: str) -> bool:
        return word in indicator.unit_words or word in self.unit_synonyms.get(indicator.unit, ())

    @property
    def indicators(self) -> tuple[Indicator, ...]:
        return tuple(i for g in self.groups for i in g.indicators)

    def department(self, key: str) -> Department:
        for d in self.departments:
            if d.key == key:
                return d
        raise KeyError(key)

    def group(self, name: str | None) -> Group | None:
        for g in self.groups:
            if g.name == name:
                return g
        return None

    def indicators_of(self, department_key: str) -> tuple[Indicator, ...]:
        group = self.group(self.department(department_key).group)
        return group.indicators if group else ()

    def indicator(self, key: str) -> Indicator:
        for i in self.indicators:
            if i.key == key:
                return i
        raise KeyError(key)

    def find_department(self, text: str) -> Department | None:
        """Return the department a user means by its key, full, short or alias name."""
        wanted = text.strip()
        for d in self.departments:
            if wanted in d.names():
                return d
        for d in self.departments:  # 市公安局 also answers to 三明市公安局 and 公安局
            if any(wanted and (wanted in n or n in wanted) for n in (d.name, d.short)):
                return d
        return None
