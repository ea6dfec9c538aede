"""Proposed reports: shown row by row, booked only when the sender answers 确认.

A proposal is kept in the `proposals` table (durable: a restart or a second instance sees it). It is
dropped by 取消 or any new report, and expires after 10 minutes. Booking it uses the message key
(transport, chat, "proposal:<id>") in the ledger, so a second 确认 finds the key taken: it books once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from campaign import Indicator
from handlers import booking, texts
from handlers.context import Context
from handlers.messages import Choice, Reply
from store import proposals as store
from store.errors import Duplicate, WouldGoNegative
from store.ledger import Line

# Only these words: a stray "ok" or "好的" in a chat must never book what waits for 确认.
CONFIRM = frozenset({"确认", "确定", "确认无误", "确认记录"})
CANCEL = frozenset({"取消", "不记", "不用了", "算了", "不用"})
ADD = frozenset({"新增", "是新增", "新增的"})
SET = frozenset({"累计", "是累计", "累计数", "累计为"})
_PUNCT = re.compile(r"[\s。.!！,，~～]+")
MINUTES = int(store.TTL.total_seconds() // 60)


@dataclass(frozen=True)
class Proposed:
    indicator: Indicator
    amount: Decimal  # in the indicator's unit


def answer(text: str) -> str | None:
    """'confirm', 'cancel', 'add' or 'set' when the whole message is such an answer, else None."""
    word = _PUNCT.sub("", text).lower()
    for name, words in (("confirm", CONFIRM), ("cancel", CANCEL), ("add", ADD), ("set", SET)):
        if word in words:
            return name
    return None


def lines_text(items: Sequence[Proposed], cumulative: bool = False) -> str:
    if cumulative:
        return "\n".join(f"· {p.indicator.no}. {p.indicator.name} {texts.amount(p.amount, p.indicator.unit)}"
                         for p in items)
    return "\n".join(f"· {p.indicator.no}. {p.indicator.name} {texts.signed(p.amount, p.indicator.unit)}"
                     for p in items)


def propose(
    ctx: Context, text: str, kind: str, items: Sequence[Proposed], *, header: str = "", unread: Sequence[str] = (),
    warnings: Sequence[str] = (),
) -> Reply:
    """Keep the proposal and show it; a redelivered message shows the proposal it already made."""
    choices: tuple[Choice, ...]
    if kind == "cumulative":
        body = _cumulative_question(items)
        choices = (Choice(_short_amount(items, "新增"), "新增"), Choice(_short_amount(items, "累计为"), "累计"),
                   Choice("取消", "取消"))
    else:
        body = (header or f"请核对（{MINUTES}分钟内有效）：") + "\n"
        body += lines_text(items, cumulative=kind == "correction")
        if kind == "correction":
            body += "\n（更正：把累计直接改为上面的数）"
        choices = (Choice("确认", "确认"), Choice("取消", "取消"))
    notes = [*warnings]
    if unread:
        notes.append("没看懂、不会记录：" + "；".join(f"「{texts.quote(u)}」" for u in unread[:5])
                     + (f"等{len(unread)}处" if len(unread) > 5 else ""))
    if kind != "cumulative" and not header:
        notes.append("回复“确认”记录，回复“取消”不记。")
    reply_text = "\n".join([body, *notes])
    key = booking.key_of(ctx)
    with ctx.db.session() as s:
        existing = store.for_message(s, key)
        if existing is None:
            store.drop_open(s, key.transport, key.chat_id)
            made = store.create(
                s, key=key, contact_id=ctx.person.id, department_id=ctx.person.department_id, kind=kind, text=text,
                lines=[Line(p.indicator.key, p.amount) for p in items], note=reply_text, now=ctx.now,
            )
            if made is None:
                existing = store.for_message(s, key)
    if existing is not None:
        reply_text = existing.note
    return Reply(reply_text, choices=choices if ctx.msg.caps.buttons else ())


def _cumulative_question(items: Sequence[Proposed]) -> str:
    if len(items) == 1:
        amount = _bare(items[0])
        question = f"是新增{amount}，还是累计为{amount}？"
        shown = f"· {items[0].indicator.no}. {items[0].indicator.name}"
    else:
        question = "是新增下面的数，还是累计为下面的数？"
        shown = lines_text(items, cumulative=True)
    return (f"{question}\n{shown}\n回复“新增”按新增记录，回复“累计”把累计改为这个数，回复“取消”不记。"
            f"（{MINUTES}分钟内有效）")


def _bare(p: Proposed) -> str:
    return f"{texts.number(p.amount)}{p.indicator.unit}"


def _short_amount(items: Sequence[Proposed], word: str) -> str:
    return f"{word}{_bare(items[0])}" if len(items) == 1 else word


def same_text_header(ctx: Context, at: str) -> str:
    return f"刚才 {at} 已记过同样的内容。确定再记一次吗？回复“确认”再记一次，回复“取消”不记："


def cancel(ctx: Context) -> list[Reply]:
    with ctx.db.session() as s:
        open_one = store.latest(s, ctx.msg.transport, ctx.msg.chat_id)
        if open_one is None or open_one.status != "open" or open_one.expires_at <= ctx.now:
            return [Reply("没有等待确认的内容。")]
        store.drop_open(s, ctx.msg.transport, ctx.msg.chat_id)
    return [Reply("已取消，没有记录任何数据。")]


def confirm(ctx: Context, mode: str) -> list[Reply]:
    """Book the chat's open proposal: mode 'confirm' (as proposed), 'add' (新增) or 'set' (累计: to new totals)."""
    transport, chat = ctx.msg.transport, ctx.msg.chat_id
    try:
        with ctx.db.session() as s:
            p = store.latest(s, transport, chat)
            if p is None:
                return [Reply("没有等待确认的内容。请直接发报数消息，例如：1 3")]
            if p.status == "booked" and p.booking_id is not None:
                booked_id = p.booking_id
                raise Duplicate(booked_id)
            if p.status != "open":
                return [Reply("刚才的内容已取消或被新消息替换，没有记录。需要的话请重新发送。")]
            if p.expires_at <= ctx.now:
                p.status = "dropped"
                return [Reply(f"刚才的内容已超过{MINUTES}分钟，没有记录。请重新发送。")]
            if p.kind == "cumulative" and mode == "confirm":
                return [Reply("请回复“新增”或“累计”：是新增这个数，还是累计为这个数？")]
            if p.kind != "cumulative" and mode in ("add", "set"):
                return [Reply("请回复“确认”记录，或“取消”不记。")]
            lines = store.decode(p.lines)
            key = store.booking_key(p)
            if p.kind == "correction" or mode == "set":
                targets = [(ctx.campaign.indicator(line.indicator), line.amount) for line in lines]
                before, booked = booking.correct(s, ctx, key, p.text, targets)
                reply = booking.corrected_reply(ctx, targets, before)
            else:
                booked = booking.book(s, ctx, key, p.text, lines)
                reply = booking.booked_reply(ctx, booked)
            store.mark_booked(s, p, booked.booking_id)
    except Duplicate as dup:
        return [booking.duplicate_reply(ctx, dup.booking_id, "这条已经确认记过了，不会重复计数。")]
    except WouldGoNegative as neg:
        return [booking.negative_reply(ctx, neg.indicator, neg.total, neg.change)]
    return [reply]
