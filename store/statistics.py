"""The 附件2 table for one department or the whole city, as of a day: ledger queries + workbook."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from campaign import Campaign, Department
from store import directory, ledger, queries
from store.database import Database
from store.export import AuditRow, export_filename, statistics_workbook


@dataclass(frozen=True)
class Export:
    filename: str
    data: bytes
    title: str  # who and when, for captions: 市公安局，截至2023年11月20日


def build_export(db: Database, campaign: Campaign, department: Department | None, as_of: dt.date) -> Export:
    """Build the table as it stood at the end of `as_of` (Asia/Shanghai); None means the whole city."""
    until = dt.datetime.combine(as_of, dt.time.max, campaign.tz)
    with db.read() as s:  # a snapshot: a long export never holds the write lock bookings need
        ids = directory.department_ids(s)
        wanted = None if department is None else [ids[department.key], *_children(campaign, ids, department)]
        sums = ledger.totals(s, wanted, as_of=until)
        totals: dict[str, Decimal] = {}
        for (_, indicator), value in sums.items():
            totals[indicator] = totals.get(indicator, Decimal(0)) + value
        groups = campaign.groups if department is None else tuple(
            g for g in campaign.groups if g.name == department.group
        )
        who = "全市" if department is None else department.short
        filled_by = f"三明市（{len(campaign.departments)}个成员单位汇总）" if department is None else department.name
        data = statistics_workbook(campaign, filled_by=filled_by, as_of=as_of, groups=groups, totals=totals,
                                   audit=_audit_rows(campaign, queries.audit(s, wanted, as_of=until)))
    return Export(export_filename(campaign, who, as_of), data,
                  f"{who}，截至{as_of.year}年{as_of.month}月{as_of.day}日")


def _children(campaign: Campaign, ids: dict[str, int], parent: Department) -> list[int]:
    # County departments report under their city department and count in its table.
    return [ids[d.key] for d in campaign.departments if d.parent == parent.key]


def _audit_rows(campaign: Campaign, entries: Iterator[queries.AuditEntry]) -> Iterator[AuditRow]:
    shorts = {d.key: d.short for d in campaign.departments}
    indicators = {i.key: i for i in campaign.indicators}
    for e in entries:
        ind = indicators[e.indicator]
        yield AuditRow(e.booked_at, shorts.get(e.department, e.department), e.contact, ind.label, e.amount, ind.unit,
                       e.text)
