"""The wrong bookings of issue 11, each one a test: a 万 on a 万元 row, colloquial numerals, contradicting rows."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from bot.app import App
from handlers.numbers import parse_number
from store import ledger
from store.models import Entry
from tests.support import Chat


def total(app: App, key: str) -> Decimal:
    with app.db.session() as s:
        return sum(ledger.totals(s, indicators=[key]).values(), Decimal(0))


def entries(app: App) -> int:
    with app.db.session() as s:
        return s.scalar(select(func.count(Entry.id))) or 0


@pytest.mark.parametrize(("who", "text", "key", "amount"), [
    ("王永辉", "网络餐饮服务案件罚没款 0.5万", "sc14", "0.5"),
    ("陈明栋", "网售药品违法案件处罚金额 0.3万", "yp5", "0.3"),
    ("李勤额", "清理网上违法违规信息 1.2万", "wx1", "1.2"),
])
def test_wan_after_the_number_is_the_rows_own_unit(app: App, who: str, text: str, key: str, amount: str) -> None:
    reply = Chat(app, who).say(text)
    assert reply.startswith("已记录"), reply
    assert total(app, key) == Decimal(amount)


@pytest.mark.parametrize(("text", "value"), [("一百一", 110), ("两百五", 250), ("一万二", 12000), ("三千五", 3500),
                                             ("十二万五", 125000), ("一百零一", 101), ("两千零五", 2005)])
def test_a_trailing_digit_takes_the_next_lower_place(text: str, value: int) -> None:
    assert parse_number(text) == value


@pytest.mark.parametrize(("text", "amount"), [("查处网络违法案件 一百一", 110), ("查处网络违法案件 两百五", 250),
                                               ("查处网络违法案件 三千五", 3500)])
def test_colloquial_numerals_book_as_read(app: App, text: str, amount: int) -> None:
    reply = Chat(app, "方广成").say(text)
    assert reply.startswith("已记录"), reply
    assert total(app, "ga1") == amount


def test_a_suggestion_never_books_a_contradicting_row(app: App) -> None:
    drugs = Chat(app, "陈明栋")
    replies = drugs.send("查处药品案件2件，医疗器械案件1件，化妆品案件4件")
    assert entries(app) == 0
    for reply in replies:
        for choice in reply.choices:
            assert "移送" not in choice.label
    shown = "\n".join(r.text for r in replies)
    assert "移送" not in shown, shown
    for key in ("yp8", "yp9", "yp10"):
        assert total(app, key) == 0


def test_a_part_shared_with_a_transfer_row_is_not_booked_at_once(app: App) -> None:
    drugs = Chat(app, "陈明栋")
    reply = drugs.say("医疗器械案件 1")
    assert not reply.startswith("已记录"), reply
    assert entries(app) == 0


def test_fines_and_penalties_do_not_stand_in_for_each_other(app: App) -> None:
    drugs = Chat(app, "陈明栋")
    replies = drugs.send("药品案件罚没款 0.3")
    assert entries(app) == 0
    assert all("处罚金额" not in c.label for r in replies for c in r.choices)


def test_another_departments_row_in_a_sentence_is_refused_not_read_as_an_own_row(app: App) -> None:
    """查处网络违法案件 is 公安局's row: a market regulation contact's sentence naming it is refused, never proposed
    as 查处网络虚假违法广告案件 (which merely holds its characters in order)."""
    market = Chat(app, "王永辉")
    reply = market.say("今天查处网络违法案件3起")
    assert "是公安局的项目" in reply and "虚假违法广告" not in reply and "确认" not in reply, reply


def test_a_loose_correction_naming_one_row_twice_is_refused(app: App) -> None:
    police = Chat(app, "方广成")
    reply = police.say("更正 今天查处网络违法案件5起，查处网络违法案件3起")
    assert "只能出现一次" in reply and "确认" not in reply, reply
