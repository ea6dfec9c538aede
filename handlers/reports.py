"""Booking counts: reports, corrections and undo. All lines of a message, or none."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.orm import Session

from campaign import Indicator, Limits
from campaign.units import conversion
from handlers import texts
from handlers.context import Context
from handlers.grammar import GrammarError, Item, parse
from handlers.matching import Catalogue
from handlers.messages import Choice, Reply
from store import ledger
from store.errors import Duplicate, NothingToUndo, WouldGoNegative
from store.ledger import Line, MessageKey

MAX_PROBLEMS = 5  # a reply lists this many problems; a flood of garbage gets a short answer


@dataclass(frozen=True)
class _Problem:
    text: str
    candidates: tuple[Indicator, ...] = ()
    item: Item | None = None
    question: str = ""  # the short form shown above buttons, which list the candidates themselves


def key_of(ctx: Context) -> MessageKey:
    return MessageKey(ctx.msg.transport, ctx.msg.chat_id, ctx.msg.message_id)


def report(ctx: Context, text: str) -> list[Reply]:
    """Book a report or correction, or explain what is wrong and book nothing."""
    own = ctx.own
    try:
        parsed = parse(text)
    except GrammarError as exc:
        return [Reply(f"没看懂：{exc}\n{_how(own)}")]
    if not own:
        return [Reply(f"{ctx.department.short}在统计表中没有需要填报的项目，不用报数。发“帮助”查看其他功能。")]
    catalogue = Catalogue(own, ctx.campaign.indicators)
    resolved: list[tuple[Item, Indicator, Decimal]] = []
    problems: list[_Problem] = []
    for item in parsed.items:
        outcome = _resolve(item, catalogue, ctx)
        if isinstance(outcome, _Problem):
            problems.append(outcome)
            continue
        value = _convert(item, outcome, ctx.campaign.limits, parsed.correction)
        if isinstance(value, str):
            problems.append(_Problem(f"「{texts.quote(item.source)}」：{value}"))
        else:
            resolved.append((item, outcome, value))
    if parsed.correction and len({ind.key for _, ind, _ in resolved}) < len(resolved):
        problems.append(_Problem("同一个项目在一条更正里只能出现一次。"))
    if problems:
        return [_refusal(problems, parsed.items, resolved, parsed.correction, own)]
    if parsed.correction:
        return [_correct(ctx, text, [(ind, value) for _, ind, value in resolved])]
    return [_book(ctx, text, [Line(ind.key, value) for _, ind, value in resolved])]


def _resolve(item: Item, catalogue: Catalogue, ctx: Context) -> Indicator | _Problem:
    if item.index is not None:
        found = catalogue.by_index(item.index)
        if found is None:
            return _Problem(
                f"「{texts.quote(item.source)}」：没有序号{item.index}，{ctx.department.short}的序号是1到{len(ctx.own)}。"
            )
        if item.unit is not None and conversion(found.unit, item.unit) is None:
            return _Problem(f"「{texts.quote(item.source)}」：{found.name}的单位是{found.unit}，不能用{item.unit}。")
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
        return _Problem(f"「{texts.quote(item.source)}」：{ind.name}的单位是{units}，不能用{res.unit}。")
    if res.elsewhere is not None:
        return _Problem(
            f"「{texts.quote(item.name)}」是{res.elsewhere.group}的项目，{ctx.department.short}只能填报本单位的项目（发“指标”查看）。"
        )
    if res.suggestions:
        names = "\n".join("  " + texts.indicator_line(i) for i in res.suggestions)
        return _Problem(f"没有找到「{texts.quote(item.name)}」。您是不是要报：\n{names}", res.suggestions, item,
                        f"没有找到「{texts.quote(item.name)}」。您是不是要报下面的项目？")
    return _Problem(f"没有找到「{texts.quote(item.name)}」这个项目。发“指标”查看本单位的项目和序号。")


def _convert(item: Item, ind: Indicator, limits: Limits, correction: bool) -> Decimal | str:
    factor = conversion(ind.unit, item.unit) if item.unit else Decimal(1)
    assert factor is not None  # _resolve refused units that do not fit
    value = item.amount * factor
    if not ind.fractional and value != value.to_integral_value():
        return f"{ind.name}按{ind.unit}计，只能填整数。"
    exponent = value.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > limits.decimal_places:
        return f"最多保留{limits.decimal_places}位小数（单位：{ind.unit}）。"
    if abs(value) > limits.max_amount:
        return f"数量太大了，一次最多{texts.amount(limits.max_amount, ind.unit)}。请检查单位或分几次报。"
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


def _book(ctx: Context, text: str, lines: list[Line]) -> Reply:
    try:
        booked = ctx.db.write(lambda s: ledger.book(
            s, key=key_of(ctx), contact_id=ctx.person.id, department_id=ctx.person.department_id,
            kind="report", text=text, lines=lines, now=ctx.now,
        ), ctx.person.department_id)
    except Duplicate as dup:
        return _duplicate(ctx, dup.booking_id)
    except WouldGoNegative as neg:
        ind = ctx.campaign.indicator(neg.indicator)
        return Reply(
            f"不能减少：{ind.name}当前累计{texts.amount(neg.total, ind.unit)}，"
            f"减{texts.amount(-neg.change, ind.unit)}后会小于0。这条消息没有记录任何数据。"
        )
    body = "\n".join(
        f"· {ctx.campaign.indicator(line.indicator).name} {texts.signed(line.amount, _unit(ctx, line.indicator))}，"
        f"累计 {texts.amount(booked.totals[line.indicator], _unit(ctx, line.indicator))}"
        for line in lines
    )
    return Reply(f"已记录（{ctx.department.short}）：\n{body}")


def _correct(ctx: Context, text: str, targets: list[tuple[Indicator, Decimal]]) -> Reply:
    def job(s: Session) -> dict[str, Decimal]:
        ledger.lock_department(s, ctx.person.department_id)
        current = ledger.totals(s, [ctx.person.department_id], [ind.key for ind, _ in targets])
        before = {ind.key: current.get((ctx.person.department_id, ind.key), Decimal(0)) for ind, _ in targets}
        ledger.book(
            s, key=key_of(ctx), contact_id=ctx.person.id, department_id=ctx.person.department_id,
            kind="correction", text=text, lines=[Line(ind.key, value - before[ind.key]) for ind, value in targets],
            now=ctx.now,
        )
        return before

    try:
        before = ctx.db.write(job, ctx.person.department_id)
    except Duplicate as dup:
        return _duplicate(ctx, dup.booking_id)
    body = "\n".join(
        f"· {ind.name} 累计改为 {texts.amount(value, ind.unit)}（原 {texts.amount(before[ind.key], ind.unit)}）"
        for ind, value in targets
    )
    return Reply(f"已更正（{ctx.department.short}）：\n{body}")


def undo(ctx: Context) -> list[Reply]:
    """Reverse the sender's last booking with a compensating entry."""
    try:
        target, booked = ctx.db.write(lambda s: ledger.undo_last(
            s, key=key_of(ctx), contact_id=ctx.person.id, text=ctx.msg.text, now=ctx.now,
        ), ctx.person.department_id)
    except Duplicate as dup:
        return [_duplicate(ctx, dup.booking_id)]
    except NothingToUndo:
        return [Reply("没有可以撤销的记录。")]
    except WouldGoNegative as neg:
        ind = ctx.campaign.indicator(neg.indicator)
        return [Reply(f"不能撤销：撤销后{ind.name}的累计会小于0（当前{texts.amount(neg.total, ind.unit)}）。"
                      "请用“更正 项目 数量”直接改累计数。")]
    body = "\n".join(
        f"· {ctx.campaign.indicator(line.indicator).name} {texts.signed(line.amount, _unit(ctx, line.indicator))}，"
        f"累计 {texts.amount(booked.totals[line.indicator], _unit(ctx, line.indicator))}"
        for line in booked.lines
    )
    said = target.text if len(target.text) <= 30 else target.text[:30] + "…"
    return [Reply(f"已撤销您{texts.when(target.booked_at, ctx.campaign.tz)}的记录「{said}」：\n{body}")]


def _duplicate(ctx: Context, booking_id: int) -> Reply:
    with ctx.db.read() as s:
        lines = ledger.booking_lines(s, booking_id)
        current = ledger.totals(s, [ctx.person.department_id], [line.indicator for line in lines])
    body = "\n".join(
        f"· {ctx.campaign.indicator(ind).name} 当前累计 "
        f"{texts.amount(current.get((ctx.person.department_id, ind), Decimal(0)), _unit(ctx, ind))}"
        for ind in dict.fromkeys(line.indicator for line in lines)
    )
    return Reply("这条消息已经记过了，不会重复计数。" + (f"\n{body}" if body else ""))


def _unit(ctx: Context, key: str) -> str:
    return ctx.campaign.indicator(key).unit
