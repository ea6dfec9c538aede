"""Booking counts: reports, corrections and undo. All lines of a message, or none.

Exact grammar (a name, unique part, alias or item number; a clear number; a fitting unit) books at once.
Anything read loosely (handlers/reading.py), an amount above the row's usual size, or the same text again
within 10 minutes is proposed instead and booked only on 确认 (handlers/proposals.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.orm import Session

from campaign import Indicator, Limits
from campaign.units import conversion
from handlers import booking, proposals, reading, texts
from handlers.context import Context
from handlers.grammar import GrammarError, Item, parse
from handlers.matching import Catalogue, catalogue_for
from handlers.messages import Choice, Reply
from handlers.numbers import VAGUE
from handlers.proposals import Proposed
from store import ledger, reporting
from store import proposals as proposal_store
from store.errors import Duplicate, NothingToUndo, WouldGoNegative
from store.ledger import Line

MAX_PROBLEMS = 5  # a reply lists this many problems; a flood of garbage gets a short answer
PROSE_LENGTH = 40  # a message this long (or with a 。) is a work summary: what maps is read, the rest named


@dataclass(frozen=True)
class _Problem:
    text: str
    candidates: tuple[Indicator, ...] = ()
    item: Item | None = None
    question: str = ""  # the short form shown above buttons, which list the candidates themselves
    hard: bool = False  # another department's row, a fraction, a misfit unit: never read loosely instead


def report(ctx: Context, text: str) -> list[Reply]:
    """Book a report or correction, propose what was read loosely, or explain what is wrong and book nothing."""
    said = proposals.answer(text)
    if said == "cancel":
        return proposals.cancel(ctx)
    if said is not None:
        return proposals.confirm(ctx, said)
    own = ctx.own
    if not own:
        return [Reply(f"{ctx.department.short}在统计表中没有需要填报的项目，不用报数。发“帮助”查看其他功能。")]
    vague = VAGUE.search(text)
    if vague is not None:
        return _refuse(ctx, f"「{texts.quote(vague.group(0))}」不是确切的数字，没有记录。"
                            f"请发确切的数量，例如：{texts.example(own)}")
    catalogue = catalogue_for(ctx.campaign, ctx.person.department)
    try:
        parsed = parse(text)
    except GrammarError as exc:
        loose = _loose(ctx, text, catalogue, exact_grammar=False)
        return loose or _refuse(ctx, f"没看懂：{exc}\n{_how(own)}")
    resolved: list[tuple[Item, Indicator, Decimal]] = []
    problems: list[_Problem] = []
    for item in parsed.items:
        outcome = _resolve(item, catalogue, ctx)
        if isinstance(outcome, _Problem):
            problems.append(outcome)
            continue
        value = _convert(item, outcome, ctx.campaign.limits, parsed.correction)
        if isinstance(value, str):
            problems.append(_Problem(f"「{texts.quote(item.source)}」：{value}", hard=True))
        else:
            resolved.append((item, outcome, value))
    if parsed.correction and len({ind.key for _, ind, _ in resolved}) < len(resolved):
        problems.append(_Problem("同一个项目在一条更正里只能出现一次。", hard=True))
    if problems:
        if not any(p.hard for p in problems):
            loose = _loose(ctx, text, catalogue, exact_grammar=True)
            if loose:
                return loose
        return _refuse(ctx, _refusal(problems, parsed.items, resolved, parsed.correction, own))
    kind = "correction" if parsed.correction else "report"
    items = [Proposed(ind, value) for _, ind, value in resolved]
    limits = ctx.campaign.limits
    warnings = _warnings(limits, items)
    if warnings:
        return [proposals.propose(ctx, text, kind, items, warnings=warnings)]
    return [_book_exact(ctx, text, kind, items)]


def _book_exact(ctx: Context, text: str, kind: str, items: Sequence[Proposed]) -> Reply:
    """Book at once, unless the same text was booked for this contact moments ago (then ask)."""
    key = booking.key_of(ctx)

    def job(s: Session) -> Reply | dt.datetime:
        since = ctx.now - proposal_store.SAME_TEXT_WINDOW
        # The same-text check and the booking are one step (store/reporting.py): one round trip on PostgreSQL.
        if kind == "correction":
            same = reporting.clear_for(s, key=key, contact_id=ctx.person.id,
                                       department_id=ctx.person.department_id, text=text, since=since)
            if same is not None:
                return same
            targets = [(p.indicator, p.amount) for p in items]
            before, _ = booking.correct(s, ctx, key, text, targets, locked=True)
            return booking.corrected_reply(ctx, targets, before)
        booked = reporting.book_report(
            s, key=key, contact_id=ctx.person.id, department_id=ctx.person.department_id, text=text,
            lines=[Line(p.indicator.key, p.amount) for p in items], now=ctx.now, since=since)
        return booked if isinstance(booked, dt.datetime) else booking.booked_reply(ctx, booked)

    try:
        # The group-commit writer (store/writer.py): answered only after the COMMIT that holds this booking.
        outcome = ctx.db.write(job, ctx.person.department_id)
    except Duplicate as dup:
        return booking.duplicate_reply(ctx, dup.booking_id)
    except WouldGoNegative as neg:
        return booking.negative_reply(ctx, neg.indicator, neg.total, neg.change)
    if isinstance(outcome, Reply):
        return outcome
    at = texts.when(outcome, ctx.campaign.tz).split(" ")[-1]
    return proposals.propose(ctx, text, kind, items, header=proposals.same_text_header(ctx, at))


def _loose(ctx: Context, text: str, catalogue: Catalogue, *, exact_grammar: bool) -> list[Reply]:
    """Propose what the loose reader found, refuse on its problems, or return [] for the exact refusal."""
    if reading.QUESTION.search(text):
        return []  # a question is answered with the usual help, never read as a report
    read = reading.read(text, ctx.campaign, catalogue, ctx.department.short)
    if read.problems:
        shown = "\n".join(read.problems[:MAX_PROBLEMS])
        return _refuse(ctx, f"{shown}\n这条消息没有记录任何数据。\n{_how(ctx.own)}")
    if not read.lines:
        return []
    partial = bool(read.unread) or read.ambiguous
    prose = "。" in text or len(text) >= PROSE_LENGTH
    if partial and (read.figures < 2 or exact_grammar and not prose):
        return []  # a short list is all or nothing: the exact refusal says what is wrong
    if (read.correction or read.cumulative) and len({line.indicator.key for line in read.lines}) < len(read.lines):
        # A total is set once: two figures for one row would be added up, which no one means by 更正 or 累计.
        return _refuse(ctx, f"同一个项目在一条更正里只能出现一次。这条消息没有记录任何数据。\n{_how(ctx.own)}")
    seen: dict[str, Proposed] = {}
    for line in read.lines:
        prior = seen.get(line.indicator.key)
        seen[line.indicator.key] = Proposed(line.indicator, line.amount + (prior.amount if prior else 0))
    items = list(seen.values())
    kind = "correction" if read.correction else "cumulative" if read.cumulative else "report"
    warnings = _warnings(ctx.campaign.limits, items)
    return [proposals.propose(ctx, text, kind, items, unread=read.unread, warnings=warnings)]


def _warnings(limits: Limits, items: Sequence[Proposed]) -> list[str]:
    """An amount above the row's usual size (limits.per_unit / per_indicator) is proposed with this warning."""
    return [f"注意：数量太大了，{p.indicator.name}平时一次不超过"
            f"{texts.amount(limits.cap(p.indicator), p.indicator.unit)}，请核对单位和数字。"
            for p in items if abs(p.amount) > limits.cap(p.indicator)]


def _refuse(ctx: Context, reply: Reply | str) -> list[Reply]:
    """A refusal is a new report too: whatever waited for 确认 in this chat is dropped."""
    with ctx.db.session() as s:
        proposal_store.drop_open(s, ctx.msg.transport, ctx.msg.chat_id)
    return [reply if isinstance(reply, Reply) else Reply(reply)]


def _resolve(item: Item, catalogue: Catalogue, ctx: Context) -> Indicator | _Problem:
    if item.index is not None:
        found = catalogue.by_index(item.index)
        if found is None:
            return _Problem(
                f"「{texts.quote(item.source)}」：没有序号{item.index}，{ctx.department.short}的序号是1到{len(ctx.own)}。",
                hard=True,
            )
        if item.unit is not None and conversion(found.unit, item.unit) is None:
            return _Problem(f"「{texts.quote(item.source)}」：{found.name}的单位是{found.unit}，不能用{item.unit}。",
                            hard=not ctx.campaign.unit_fits_loosely(found, item.unit))
        return found
    res = catalogue.resolve(item.name, item.unit)
    if res.match is not None:
        return res.match
    if res.candidates:
        names = "\n".join("  " + texts.indicator_line(i) for i in res.candidates[:8])
        more = f"\n  …等{len(res.candidates)}项" if len(res.candidates) > 8 else ""
        asked = f"「{texts.quote(item.name)}」对应多个项目，请用序号：\n{names}{more}"
        first = "，下面是前8个（发“指标”看全部）" if more else ""
        question = f"「{texts.quote(item.name)}」对应{len(res.candidates)}个项目{first}，请选一个："
        return _Problem(asked, res.candidates[:8], item, question)
    if res.unit_misfit:
        ind = res.unit_misfit[0]
        units = "或".join(sorted({i.unit for i in res.unit_misfit}))
        loosely = res.unit is not None and any(ctx.campaign.unit_fits_loosely(i, res.unit) for i in res.unit_misfit)
        return _Problem(f"「{texts.quote(item.source)}」：{ind.name}的单位是{units}，不能用{res.unit}。",
                        hard=not loosely)
    if res.elsewhere is not None:
        return _Problem(
            f"「{texts.quote(item.name)}」是{res.elsewhere.group}的项目，{ctx.department.short}只能填报本单位的项目（发“指标”查看）。",
            hard=True,
        )
    if res.suggestions:
        names = "\n".join("  " + texts.indicator_line(i) for i in res.suggestions)
        return _Problem(f"没有找到「{texts.quote(item.name)}」。您是不是要报：\n{names}", res.suggestions, item,
                        f"没有找到「{texts.quote(item.name)}」。您是不是要报下面的项目？")
    return _Problem(f"没有找到「{texts.quote(item.name)}」这个项目。发“指标”查看本单位的项目和序号。")


def row_unit(item: Item, ind: Indicator) -> str | None:
    """The unit an item is in: as typed, or, for 0.5万 on a 万元 row, the row's own 万 (0.5万 is 0.5 万元)."""
    if item.unit is None and item.wan and ind.unit.startswith("万"):
        return ind.unit[1:]  # the amount was read as 5000: 5000元 is 0.5万元
    return item.unit


def _convert(item: Item, ind: Indicator, limits: Limits, correction: bool) -> Decimal | str:
    unit = row_unit(item, ind)
    factor = conversion(ind.unit, unit) if unit else Decimal(1)
    assert factor is not None  # _resolve refused units that do not fit
    value = item.amount * factor
    if not ind.fractional and value != value.to_integral_value():
        return f"{ind.name}按{ind.unit}计，只能填整数。"
    exponent = value.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > limits.decimal_places:
        return f"最多保留{limits.decimal_places}位小数（单位：{ind.unit}）。"
    if correction and value < 0:
        return "更正后的累计数不能是负数。"
    return value.normalize() if value == value.to_integral_value() else value


def _refusal(
    problems: Sequence[_Problem], items: Sequence[Item], resolved: Sequence[tuple[Item, Indicator, Decimal]],
    correction: bool, own: Sequence[Indicator],
) -> Reply:
    shown = [p.text for p in problems[:MAX_PROBLEMS]]
    if len(problems) > MAX_PROBLEMS:
        shown.append(f"……另有{len(problems) - MAX_PROBLEMS}处问题。")
    text = "\n".join(shown) + "\n这条消息没有记录任何数据。"
    asking = [p for p in problems if p.candidates and p.item is not None]
    if len(problems) == 1 and len(asking) == 1:
        # One open question: offer each candidate as a button that sends the whole message again by item numbers.
        problem = asking[0]
        done = {id(item): ind for item, ind, _ in resolved}
        choices = []
        for cand in problem.candidates:
            parts = [
                f"{cand.no if item is problem.item else done[id(item)].no} {item.quantity}" for item in items
            ]
            prefix = "更正 " if correction else ""
            choices.append(Choice(f"{cand.no}. {cand.label}", prefix + "，".join(parts)))
        return Reply(f"{problem.question}\n（还没有记录；也可以直接发“序号 数量”。）", choices=tuple(choices))
    return Reply(text + "\n" + _how(own))


def _how(own: Sequence[Indicator]) -> str:
    return f"请这样发：{texts.example(own)}　或　1 3（序号 数量）。发“帮助”查看说明。"


def undo(ctx: Context) -> list[Reply]:
    """Reverse the sender's last booking with a compensating entry."""
    try:
        target, booked = ctx.db.write(lambda s: ledger.undo_last(
            s, key=booking.key_of(ctx), contact_id=ctx.person.id, text=ctx.msg.text, now=ctx.now,
        ), ctx.person.department_id)
    except Duplicate as dup:
        return [booking.duplicate_reply(ctx, dup.booking_id)]
    except NothingToUndo:
        return [Reply("没有可以撤销的记录。")]
    except WouldGoNegative as neg:
        ind = ctx.campaign.indicator(neg.indicator)
        return [Reply(f"不能撤销：撤销后{ind.name}的累计会小于0（当前{texts.amount(neg.total, ind.unit)}）。"
                      "请用“更正 项目 数量”直接改累计数。")]
    unit = booking.unit
    body = "\n".join(
        f"· {ctx.campaign.indicator(line.indicator).name} {texts.signed(line.amount, unit(ctx, line.indicator))}，"
        f"累计 {texts.amount(booked.totals[line.indicator], unit(ctx, line.indicator))}"
        for line in booked.lines
    )
    said = target.text if len(target.text) <= 30 else target.text[:30] + "…"
    return [Reply(f"已撤销您{texts.when(target.booked_at, ctx.campaign.tz)}的记录「{said}」：\n{body}")]


