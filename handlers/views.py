"""Answers that only read: help, the indicator list, totals and recent history."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.orm import Session

from handlers import texts
from handlers.context import Context
from handlers.messages import Reply
from store import directory, ledger, queries


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
    """Show the department's totals; admins see every department, or one they name."""
    if ctx.person.is_admin and ctx.args and ctx.args not in ("本单位", "我的"):
        if ctx.args in ("全市", "全部", "城市", "all"):
            return [Reply(_city_totals(ctx))]
        dep = ctx.campaign.find_department(ctx.args)
        if dep is None:
            return [Reply(f"没有找到单位「{ctx.args}」。例如：汇总 公安局")]
        with ctx.db.read() as s:
            ids = directory.department_ids(s)
            sums = ledger.totals(s, [ids[dep.key]])
        own = ctx.campaign.indicators_of(dep.key)
        return [Reply(texts.department_totals(dep.short, own, {k: v for (_, k), v in sums.items()}, ctx.at()))]
    if ctx.person.is_admin:
        # Two messages: who has reported (short), then the city's totals (as long as what was filled in).
        return [Reply(_overview(ctx)), Reply(_city_totals(ctx))]
    with ctx.db.read() as s:
        totals = _own_totals(ctx, s)
    return [Reply(texts.department_totals(ctx.department.short, ctx.own, totals, ctx.at()))]


def _own_totals(ctx: Context, s: Session) -> dict[str, Decimal]:
    sums = ledger.totals(s, [ctx.person.department_id])
    return {ind: value for (_, ind), value in sums.items()}


def _overview(ctx: Context) -> str:
    with ctx.db.read() as s:
        ids = directory.department_ids(s)
        sums = ledger.totals(s)
        last = queries.last_bookings(s)
    lines = [f"各单位报数情况（截至{ctx.at()}）："]
    for dep in ctx.campaign.departments:
        own = ctx.campaign.indicators_of(dep.key)
        dep_id = ids[dep.key]
        if not own:
            lines.append(f"· {dep.short}：无统计表项目")
            continue
        filled = sum(1 for i in own if sums.get((dep_id, i.key), Decimal(0)) != 0)
        seen = f"，最近 {texts.when(last[dep_id], ctx.campaign.tz)}" if dep_id in last else "，尚未报数"
        lines.append(f"· {dep.short}：已填{filled}/{len(own)}项{seen}")
    lines.append("发“汇总 公安局”看某单位明细，“导出”取全市统计表。")
    return "\n".join(lines)


def _city_totals(ctx: Context) -> str:
    with ctx.db.read() as s:
        sums = ledger.totals(s)
    city: dict[str, Decimal] = {}
    for (_, ind), value in sums.items():
        city[ind] = city.get(ind, Decimal(0)) + value
    lines = [f"全市合计（截至{ctx.at()}）："]
    for group in ctx.campaign.groups:
        filled = [i for i in group.indicators if city.get(i.key, Decimal(0)) != 0]
        lines.append(f"【{group.name}】" + ("" if filled else "尚无数据"))
        lines += [f"  {i.name}：{texts.amount(city[i.key], i.unit)}" for i in filled]
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
