"""Answers that only read: help, the indicator list, totals and recent history."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal

from sqlalchemy.orm import Session

from campaign import Department, Indicator
from campaign.scopes import Scope, scope_totals
from handlers import scoping, texts
from handlers.context import Context
from handlers.messages import Reply
from store import directory, ledger, queries
from store.statistics import scope_sums


def start(ctx: Context) -> list[Reply]:
    """Greet the contact and show what they can book."""
    return [help_(ctx)[0], *list_(ctx)]


def help_(ctx: Context) -> list[Reply]:
    """Explain how to report and which commands exist."""
    return [Reply(texts.help_text(ctx.campaign, ctx.person.name, ctx.department.short, ctx.own, ctx.person.is_admin))]


def list_(ctx: Context) -> list[Reply]:
    """Show the contact's numbered indicators with their totals."""
    with ctx.db.read() as s:
        totals = _own_totals(ctx, s)
    return [Reply(texts.indicator_list(ctx.department.short, ctx.own, totals))]


def total(ctx: Context) -> list[Reply]:
    """Show the totals of the sender's scope, or of one they name (汇总 三元区, 汇总 公安局, 汇总 全市).

    What a scope's totals include is campaign.scopes' one rule, shared with 导出 and 进度.
    """
    scope = scoping.named(ctx, ctx.args, "汇总 公安局，汇总 三元区")
    if isinstance(scope, str):
        return [Reply(scope)]
    with ctx.db.read() as s:
        sums = scope_sums(s, ctx.campaign, scope)
        overview = scope.kind in ("city", "county") and not _bare_city(ctx)
        last = queries.last_bookings(s) if overview else {}
        ids = directory.department_ids(s) if overview else {}
    if scope.kind == "unit" or (scope.kind == "system" and len(scope.members) == 1):  # 三明海关: no county units
        dep = ctx.campaign.department(scope.key)
        own = ctx.campaign.indicators_of(dep.key)
        totals = {ind: v for (key, ind), v in sums.items() if key == dep.key}
        return [Reply(texts.department_totals(dep.short, own, totals, ctx.at()))]
    if scope.kind == "system":
        return [Reply(_system_totals(ctx, scope, sums))]
    if _bare_city(ctx):
        return [Reply(_group_totals(ctx, scope, scope_totals(ctx.campaign, scope, sums)))]
    # Two messages: who has reported (short), then the totals (as long as what was filled in).
    return [Reply(_overview(ctx, scope, sums, last, ids)),
            Reply(_group_totals(ctx, scope, scope_totals(ctx.campaign, scope, sums)))]


def _bare_city(ctx: Context) -> bool:
    return ctx.args.strip() in scoping.CITY_WORDS


def _own_totals(ctx: Context, s: Session) -> dict[str, Decimal]:
    sums = ledger.totals(s, [ctx.person.department_id])
    return {ind: value for (_, ind), value in sums.items()}


def _filled(ctx: Context, dep: Department, sums: Mapping[tuple[str, str], Decimal], wanted: frozenset[str]) -> str:
    own = [i for i in ctx.campaign.indicators_of(dep.key) if i.key in wanted]
    filled = sum(1 for i in own if sums.get((dep.key, i.key), Decimal(0)) != 0)
    return f"已填{filled}/{len(own)}项"


def _overview(ctx: Context, scope: Scope, sums: Mapping[tuple[str, str], Decimal], last: dict[int, dt.datetime],
              ids: dict[str, int]) -> str:
    campaign = ctx.campaign
    wanted = scope.indicator_keys(campaign)
    lines = [f"{scope.label}各单位报数情况（截至{ctx.at()}）："]
    shown = [campaign.department(k) for k in scope.members]
    if scope.kind == "city":
        shown = [d for d in shown if d.county is None]
    for dep in shown:
        if not dep.groups:
            lines.append(f"· {dep.short}：无统计表项目")
            continue
        dep_id = ids[dep.key]
        seen = f"，最近 {texts.when(last[dep_id], campaign.tz)}" if dep_id in last else "，尚未报数"
        lines.append(f"· {dep.short}：{_filled(ctx, dep, sums, wanted)}{seen}")
    if scope.kind == "city":
        for county in campaign.counties:
            reporting = [d for d in campaign.county_departments(county.key) if d.groups]
            done = sum(1 for d in reporting if ids[d.key] in last)
            lines.append(f"· {county.name}：{done}/{len(reporting)}个部门已报数")
        lines.append("发“汇总 公安局”看一个系统（含各县），“汇总 三元区”看一个县，“导出”取全市统计表。")
    else:
        lines.append(f"发“汇总 公安局”看一个部门的明细，“导出 {scope.label}”取统计表。")
    return "\n".join(lines)


def _block(ctx: Context, indicators: Sequence[Indicator], totals: Mapping[str, Decimal],
           numbered: bool = True) -> list[str]:
    shown = [i for i in indicators if totals.get(i.key, Decimal(0)) != 0]
    if numbered:
        return [f"  {texts.indicator_line(i, totals[i.key])}" for i in shown]
    return [f"  {i.name}：{texts.amount(totals[i.key], i.unit)}" for i in shown]


def _group_totals(ctx: Context, scope: Scope, totals: Mapping[str, Decimal]) -> str:
    title = "全市合计" if scope.kind == "city" else f"{scope.label}合计"
    lines = [f"{title}（截至{ctx.at()}）："]
    for group in scope.group_objects(ctx.campaign):
        filled = _block(ctx, group.indicators, totals, numbered=False)
        lines.append(f"【{group.name}】" + ("" if filled else "尚无数据"))
        lines += filled
    return "\n".join(lines)


def _system_totals(ctx: Context, scope: Scope, sums: Mapping[tuple[str, str], Decimal]) -> str:
    """A city department's system: its own figures (as a county unit sees its own), 本系统合计, each county's."""
    campaign = ctx.campaign
    head = campaign.department(scope.key)
    indicators = [i for g in scope.group_objects(campaign) for i in g.indicators]
    own = {ind: v for (key, ind), v in sums.items() if key == head.key}
    lines = [texts.department_totals(head.short, campaign.indicators_of(head.key), own, ctx.at())]
    if not indicators:
        return lines[0]
    total = _block(ctx, indicators, scope_totals(campaign, scope, sums))
    lines += ["【本系统合计】" + ("" if total else "尚无数据"), *total]
    empty: list[str] = []
    for part in scope.parts[1:]:  # parts[0] is the department itself, shown above
        block = _block(ctx, indicators, scope_totals(campaign, scope, sums, part.members))
        if block:
            lines += [f"【{part.label}】", *block]
        else:
            empty.append(part.label)
    if empty:
        lines.append("尚无数据：" + "、".join(empty))
    return "\n".join(lines)


def history(ctx: Context) -> list[Reply]:
    """Show the newest bookings of the department (admins: of the city) with who and when."""
    with ctx.db.read() as s:
        items = queries.history(s, None if ctx.person.is_admin else ctx.person.department_id, limit=10)
    if not items:
        return [Reply("还没有任何记录。")]
    lines = ["最近的记录："]
    kinds = {"report": "", "correction": "更正 ", "undo": "撤销 "}
    for item in items:
        what = "，".join(
            f"{ctx.campaign.indicator(ind).name} {texts.signed(value, ctx.campaign.indicator(ind).unit)}"
            for ind, value in item.lines
        ) or "（无变化）"
        dep = ctx.campaign.department(item.department).short if ctx.person.is_admin else ""
        who = f"{dep} {item.contact}".strip()
        lines.append(f"· {texts.when(item.booked_at, ctx.campaign.tz)} {who}：{kinds.get(item.kind, '')}{what}")
    return [Reply("\n".join(lines))]
