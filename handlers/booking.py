"""Booking lines inside a session and the replies that confirm them: shared by reports and 确认."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy.orm import Session

from campaign import Indicator
from handlers import texts
from handlers.context import Context
from handlers.messages import Reply
from store import ledger
from store.ledger import Booked, Line, MessageKey


def key_of(ctx: Context) -> MessageKey:
    return MessageKey(ctx.msg.transport, ctx.msg.chat_id, ctx.msg.message_id)


def book(s: Session, ctx: Context, key: MessageKey, text: str, lines: Sequence[Line]) -> Booked:
    """Book a report's lines (raises Duplicate, WouldGoNegative like ledger.book)."""
    return ledger.book(s, key=key, contact_id=ctx.person.id, department_id=ctx.person.department_id,
                       kind="report", text=text, lines=lines, now=ctx.now)


def correct(
    s: Session, ctx: Context, key: MessageKey, text: str, targets: Sequence[tuple[Indicator, Decimal]], *,
    locked: bool = False,
) -> tuple[dict[str, Decimal], Booked]:
    """Set each indicator's total to its target by booking the difference; return the totals before."""
    if not locked:  # the report's own checks took the lock already (store/reporting.clear_for)
        ledger.lock_department(s, ctx.person.department_id)
    current = ledger.totals(s, [ctx.person.department_id], [ind.key for ind, _ in targets])
    before = {ind.key: current.get((ctx.person.department_id, ind.key), Decimal(0)) for ind, _ in targets}
    booked = ledger.book(
        s, key=key, contact_id=ctx.person.id, department_id=ctx.person.department_id, kind="correction",
        text=text, lines=[Line(ind.key, value - before[ind.key]) for ind, value in targets], now=ctx.now,
        locked=True,
    )
    return before, booked


def booked_reply(ctx: Context, booked: Booked) -> Reply:
    body = "\n".join(
        f"· {ctx.campaign.indicator(line.indicator).name} {texts.signed(line.amount, unit(ctx, line.indicator))}，"
        f"累计 {texts.amount(booked.totals[line.indicator], unit(ctx, line.indicator))}"
        for line in booked.lines
    )
    return Reply(f"已记录（{ctx.department.short}）：\n{body}")


def corrected_reply(ctx: Context, targets: Sequence[tuple[Indicator, Decimal]], before: dict[str, Decimal]) -> Reply:
    body = "\n".join(
        f"· {ind.name} 累计改为 {texts.amount(value, ind.unit)}（原 {texts.amount(before[ind.key], ind.unit)}）"
        for ind, value in targets
    )
    return Reply(f"已更正（{ctx.department.short}）：\n{body}")


def negative_reply(ctx: Context, indicator: str, total: Decimal, change: Decimal) -> Reply:
    ind = ctx.campaign.indicator(indicator)
    return Reply(
        f"不能减少：{ind.name}当前累计{texts.amount(total, ind.unit)}，"
        f"减{texts.amount(-change, ind.unit)}后会小于0。这条消息没有记录任何数据。"
    )


def duplicate_reply(ctx: Context, booking_id: int, said: str = "这条消息已经记过了，不会重复计数。") -> Reply:
    with ctx.db.read() as s:
        lines = ledger.booking_lines(s, booking_id)
        current = ledger.totals(s, [ctx.person.department_id], [line.indicator for line in lines])
    body = "\n".join(
        f"· {ctx.campaign.indicator(ind).name} 当前累计 "
        f"{texts.amount(current.get((ctx.person.department_id, ind), Decimal(0)), unit(ctx, ind))}"
        for ind in dict.fromkeys(line.indicator for line in lines)
    )
    return Reply(said + (f"\n{body}" if body else ""))


def unit(ctx: Context, key: str) -> str:
    return ctx.campaign.indicator(key).unit
