"""What the desk pages show, read with the same store functions the chat uses (no business rules here)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from campaign import Campaign, Deadline, Department
from handlers import texts
from store import checklist, directory, ledger, materials, queries
from store.database import Database


@dataclass(frozen=True)
class Row:
    department: Department
    filled: int  # indicators with a non-zero total
    rows: int  # indicators the department fills in 附件2
    last: str  # last report, local time, or ""
    deadline: Deadline | None
    lines: tuple[checklist.Line, ...]

    @property
    def missing(self) -> list[str]:
        return checklist.missing(self.lines)

    @property
    def reported(self) -> bool:
        return bool(self.last)


def today(campaign: Campaign, now: dt.datetime) -> dt.date:
    return now.astimezone(campaign.tz).date()


def progress(db: Database, campaign: Campaign, now: dt.datetime) -> list[Row]:
    """Every department (county units too): rows filled, last report, materials for its next deadline."""
    day = today(campaign, now)
    with db.read() as s:
        ids = directory.department_ids(s)
        sums = ledger.totals(s)
        last = queries.last_bookings(s)
        result: list[Row] = []
        for dep in campaign.departments:
            own = campaign.indicators_of(dep.key)
            filled = sum(1 for i in own if sums.get((ids[dep.key], i.key), Decimal(0)) != 0)
            when = last.get(ids[dep.key])
            deadline = checklist.next_deadline(campaign, dep, day)
            lines = tuple(materials.lines_for(s, campaign, deadline.collection, dep)) if deadline else ()
            result.append(Row(dep, filled, len(own), texts.when(when, campaign.tz) if when else "", deadline, lines))
    return result


def table_rows(db: Database, campaign: Campaign, department: Department | None,
               as_of: dt.date) -> list[tuple[str, list[tuple[int, str, str]]]]:
    """附件2 as of the end of a day: (group, [(no, label, amount)]) for the city or one department."""
    until = dt.datetime.combine(as_of, dt.time.max, campaign.tz)
    with db.read() as s:
        ids = directory.department_ids(s)
        wanted = None if department is None else [ids[department.key]] + [
            ids[d.key] for d in campaign.departments if d.parent == department.key]
        sums = ledger.totals(s, wanted, as_of=until)
    totals: dict[str, Decimal] = {}
    for (_, indicator), value in sums.items():
        totals[indicator] = totals.get(indicator, Decimal(0)) + value
    groups = campaign.groups if department is None else tuple(g for g in campaign.groups if g.name == department.group)
    return [(g.name, [(i.no, i.label, texts.number(totals.get(i.key, Decimal(0)))) for i in g.indicators])
            for g in groups]


def group_totals(db: Database, campaign: Campaign) -> list[tuple[str, int, int]]:
    """(group, indicators filled city-wide, indicators) for the picture."""
    with db.read() as s:
        sums = ledger.totals(s)
    city: dict[str, Decimal] = {}
    for (_, indicator), value in sums.items():
        city[indicator] = city.get(indicator, Decimal(0)) + value
    return [(g.name, sum(1 for i in g.indicators if city.get(i.key, Decimal(0)) != 0), len(g.indicators))
            for g in campaign.groups]
