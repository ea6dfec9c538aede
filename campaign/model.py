"""The campaign as the bot knows it: frozen dataclasses built once from config.toml (see campaign.config)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from campaign.materials import Material, Storage, Web
from campaign.units import FRACTIONAL_UNITS


@dataclass(frozen=True)
class Indicator:
    key: str
    group: str
    no: int  # 1-based position inside its group: the item number users type
    name: str
    unit: str
    aliases: tuple[str, ...] = ()

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

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


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
    storage: Storage = field(default_factory=Storage)
    web: Web = field(default_factory=Web)

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
