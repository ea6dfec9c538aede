"""What the desk pages show, read with the same store functions the chat uses (no business rules here).

Who sees what is campaign.scopes' one rule (viewer_scope), the same as 汇总 / 导出 / 进度 in chat; the totals are
store.statistics.scope_sums + campaign.scopes.scope_totals, the same as the chat's and the export's.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from campaign import Campaign, Deadline, Department
from campaign.model import County
from campaign.names import match_unit
from campaign.scopes import CITY, Scope, city_scope, county_scope, named_scope, scope_totals, unit_scope, viewer_scope
from handlers import texts
from store import checklist, directory, materials, queries
from store.database import Database
from store.directory import Person
from store.statistics import scope_sums


@dataclass(frozen=True)
class Row:
    department: Department
    filled: int  # indicators of the scope's groups with a non-zero total
    rows: int  # indicators of the scope's groups the department fills in 附件2
    last: str  # last report, local time, or ""
    deadline: Deadline | None
    lines: tuple[checklist.Line, ...]

    @property
    def missing(self) -> list[str]:
        return checklist.missing(self.lines)

    @property
    def reported(self) -> bool:
        return bool(self.last)


@dataclass(frozen=True)
class CountyRow:
    """One line of the city's progress for a county: its units, and how many of those with rows have reported."""

    county: County
    units: tuple[Row, ...]

    @property
    def reporting(self) -> int:
        return sum(1 for r in self.units if r.department.groups)

    @property
    def done(self) -> int:
        return sum(1 for r in self.units if r.department.groups and r.reported)

    @property
    def text(self) -> str:
        return f"{self.county.name}：{self.done}/{self.reporting}个部门已报数"


@dataclass(frozen=True)
class Progress:
    scope: Scope
    rows: tuple[Row, ...]  # shown one by one: the city's departments (city), or every unit of the scope
    counties: tuple[CountyRow, ...]  # the city only: a line per county

    @property
    def units(self) -> tuple[Row, ...]:
        return self.rows + tuple(r for c in self.counties for r in c.units)

    @property
    def reported(self) -> int:
        return sum(1 for r in self.units if r.reported)


def today(campaign: Campaign, now: dt.datetime) -> dt.date:
    return now.astimezone(campaign.tz).date()


def own_scope(campaign: Campaign, person: Person) -> Scope:
    """Everything the signed-in contact may see: the chat's rule (handlers.scoping.own_scope)."""
    return viewer_scope(campaign, person.department, person.role)


def choose_scope(campaign: Campaign, own: Scope, wanted: str, near: str) -> Scope | None:
    """The scope a page's `dep` value means, if the viewer may have it; "" is the viewer's own.

    Values: "city"; "county:<key>"; "unit:<key>" (a department alone); a department key (what its name means
    in 汇总/导出: a city department's system, a county unit alone); or a name as in chat (三元区, 公安局).
    """
    wanted = wanted.strip()
    if not wanted:
        return own
    target: Scope | None = None
    if wanted == CITY:
        target = city_scope(campaign)
    elif wanted.startswith("county:"):
        key = wanted.removeprefix("county:")
        target = county_scope(campaign, key) if any(c.key == key for c in campaign.counties) else None
    elif wanted.startswith("unit:"):
        key = wanted.removeprefix("unit:")
        target = unit_scope(campaign, key) if key in {d.key for d in campaign.departments} else None
    elif wanted in {d.key for d in campaign.departments}:
        target = named_scope(campaign, campaign.department(wanted))
    else:
        found = match_unit(campaign, wanted, near=near)
        if isinstance(found, County):
            target = county_scope(campaign, found.key)
        elif len(found) == 1:
            target = named_scope(campaign, found[0])
    if target is None or not own.covers(target):
        return None
    return target


def scope_value(scope: Scope) -> str:
    """The `dep` value that means this scope again (choose_scope's inverse)."""
    if scope.kind == "county":
        return f"county:{scope.key}"
    if scope.kind == "unit":
        return f"unit:{scope.key}"
    return scope.key  # city, or a city department's system


def scope_choices(campaign: Campaign, own: Scope) -> list[tuple[str, list[tuple[str, str]]]]:
    """(heading, [(value, label)]) for a page's picker: what the viewer may choose, in table order."""
    if own.kind == CITY:
        city = [d for d in campaign.departments if d.county is None]
        result = [("", [(CITY, "全市")]),
                  ("市直部门（含本系统各县）", [(d.key, named_scope(campaign, d).label) for d in city]),
                  ("市直部门（本级）", [(f"unit:{d.key}", d.short) for d in city]),
                  ("县（市、区）", [(f"county:{c.key}", c.name) for c in campaign.counties])]
        for c in campaign.counties:
            result.append((c.name, [(d.key, d.short) for d in campaign.county_departments(c.key)]))
        return result
    mine = [(scope_value(own), own.label)]
    if len(own.members) > 1:
        mine += [(f"unit:{k}", campaign.department(k).short) for k in own.members]
    return [("", mine)]


def progress(db: Database, campaign: Campaign, now: dt.datetime, scope: Scope) -> Progress:
    """The scope's units: rows filled, last report, materials for its next deadline (the city: a line per county)."""
    day = today(campaign, now)
    wanted = scope.indicator_keys(campaign)
    with db.read() as s:
        ids = directory.department_ids(s)
        sums = scope_sums(s, campaign, scope)
        last = queries.last_bookings(s)

        def row(dep: Department) -> Row:
            own = [i for i in campaign.indicators_of(dep.key) if i.key in wanted]
            filled = sum(1 for i in own if sums.get((dep.key, i.key), Decimal(0)) != 0)
            when = last.get(ids[dep.key])
            deadline = checklist.next_deadline(campaign, dep, day)
            lines = tuple(materials.lines_for(s, campaign, deadline.collection, dep)) if deadline else ()
            return Row(dep, filled, len(own), texts.when(when, campaign.tz) if when else "", deadline, lines)

        members = [campaign.department(k) for k in scope.members]
        if scope.kind != CITY:
            return Progress(scope, tuple(row(d) for d in members), ())
        rows = tuple(row(d) for d in members if d.county is None)
        counties = tuple(CountyRow(c, tuple(row(d) for d in campaign.county_departments(c.key)))
                         for c in campaign.counties)
    return Progress(scope, rows, counties)


def table_rows(db: Database, campaign: Campaign, scope: Scope,
               as_of: dt.date) -> list[tuple[str, list[tuple[int, str, str]]]]:
    """附件2 of a scope as of the end of a day: (group, [(no, label, amount)]), the export's sums."""
    until = dt.datetime.combine(as_of, dt.time.max, campaign.tz)
    with db.read() as s:
        sums = scope_sums(s, campaign, scope, as_of=until)
    totals = scope_totals(campaign, scope, sums)
    return [(g.name, [(i.no, i.label, texts.number(totals.get(i.key, Decimal(0)))) for i in g.indicators])
            for g in scope.group_objects(campaign)]


def group_totals(db: Database, campaign: Campaign, scope: Scope) -> list[tuple[str, int, int]]:
    """(group, indicators of the scope filled, indicators) for the picture."""
    with db.read() as s:
        sums = scope_sums(s, campaign, scope)
    totals = scope_totals(campaign, scope, sums)
    return [(g.name, sum(1 for i in g.indicators if totals.get(i.key, Decimal(0)) != 0), len(g.indicators))
            for g in scope.group_objects(campaign)]
