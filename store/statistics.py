"""The 附件2 table of a scope (a unit, a system, a county or the city), as of a day: ledger queries + workbook."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.orm import Session

from campaign import Campaign, Department
from campaign.scopes import Scope, city_scope, named_scope, scope_totals
from store import directory, ledger, queries
from store.database import Database
from store.export import AuditRow, SummarySheet, export_filename, statistics_workbook


@dataclass(frozen=True)
class Export:
    filename: str
    data: bytes
    title: str  # who and when, for captions: 市公安局系统，截至2023年11月20日


def scope_sums(
    session: Session, campaign: Campaign, scope: Scope, as_of: dt.datetime | None = None
) -> dict[tuple[str, str], Decimal]:
    """(department key, indicator) -> sum for the scope's members: current (maintained) or as of a moment."""
    ids = directory.department_ids(session)
    keys = {id_: key for key, id_ in ids.items()}
    wanted = None if scope.kind == "city" else [ids[k] for k in scope.members]
    sums = ledger.totals(session, wanted, as_of=as_of)
    return {(keys[dep], ind): value for (dep, ind), value in sums.items()}


def resolve_scope(campaign: Campaign, target: Department | Scope | None) -> Scope:
    """None: the city; a department: what its name means (a city department's system, a county unit alone)."""
    if target is None:
        return city_scope(campaign)
    if isinstance(target, Department):
        return named_scope(campaign, target)
    return target


def build_export(db: Database, campaign: Campaign, target: Department | Scope | None, as_of: dt.date) -> Export:
    """Build the table as it stood at the end of `as_of` (Asia/Shanghai): the scope's sum, a sheet per part."""
    scope = resolve_scope(campaign, target)
    until = dt.datetime.combine(as_of, dt.time.max, campaign.tz)
    groups = scope.group_objects(campaign)
    # A snapshot read: the export never holds the write lock the bookings need.
    with db.read() as s:
        sums = scope_sums(s, campaign, scope, as_of=until)
        sheets = [
            SummarySheet(part.label, _part_filled_by(campaign, part.label, part.members), groups,
                         scope_totals(campaign, scope, sums, part.members))
            for part in scope.parts
        ]
        ids = directory.department_ids(s)
        wanted = None if scope.kind == "city" else [ids[k] for k in scope.members]
        data = statistics_workbook(campaign, filled_by=scope.filled_by, as_of=as_of, groups=groups,
                                   totals=scope_totals(campaign, scope, sums), parts=sheets,
                                   audit=_audit_rows(campaign, scope, queries.audit(s, wanted, as_of=until)))
    return Export(export_filename(campaign, scope.label, as_of), data,
                  f"{scope.label}，截至{as_of.year}年{as_of.month}月{as_of.day}日")


def _part_filled_by(campaign: Campaign, label: str, members: tuple[str, ...]) -> str:
    return campaign.department(members[0]).name if len(members) == 1 else f"{label}（{len(members)}个单位汇总）"


def _audit_rows(campaign: Campaign, scope: Scope, entries: Iterator[queries.AuditEntry]) -> Iterator[AuditRow]:
    shorts = {d.key: d.short for d in campaign.departments}
    indicators = {i.key: i for i in campaign.indicators}
    wanted = scope.indicator_keys(campaign)
    for e in entries:
        if e.indicator not in wanted:  # a county 市场监管局's 药品监管 rows are not part of its 市场监管 system
            continue
        ind = indicators[e.indicator]
        yield AuditRow(e.booked_at, shorts.get(e.department, e.department), e.contact, ind.label, e.amount, ind.unit,
                       e.text)
