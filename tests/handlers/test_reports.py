"""Booking through the transport-neutral core: every grammar rule, duplicates, all-or-nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from bot.app import App
from store import ledger
from store.models import Entry
from tests.support import Chat


def entries(app: App) -> int:
    with app.db.session() as s:
        return s.scalar(select(func.count(Entry.id))) or 0


def total(app: App, key: str) -> Decimal:
    with app.db.session() as s:
        return sum(ledger.totals(s, indicators=[key]).values(), Decimal(0))


@pytest.fixture
def police(app: App) -> Chat:
    return Chat(app, "方广成")


@pytest.fixture
def customs(app: App) -> Chat:
    return Chat(app, "王晓芳")


@pytest.fixture
def drugs(app: App) -> Chat:
    return Chat(app, "陈明栋")


@pytest.mark.parametrize(
    ("text", "amount"),
    [("查处网络违法案件 3", 3), ("查处网络违法案件3件", 3), ("1 3", 3), ("查处网络违法案件 三件", 3),
     ("查处网络违法案件 十二", 12), ("网络违法案件 两", 2), ("1 3件", 3)],
)
def test_report_forms(app: App, police: Chat, text: str, amount: int) -> None:
    reply = police.say(text)
    assert reply.startswith("已记录（市公安局）")
    assert f"累计 {amount} 件" in reply
    assert total(app, "ga1") == amount


def test_each_booking_confirms_the_new_total(app: App, police: Chat) -> None:
    police.say("查处网络违法案件 3")
    reply = police.say("查处网络违法案件 2，清理网上违法有害信息 100")
    assert "查处网络违法案件 +2 件，累计 5 件" in reply
    assert "清理网上违法有害信息 +100 条，累计 100 条" in reply


def test_same_message_delivered_twice_is_booked_once(app: App, police: Chat) -> None:
    first = police.say("查处网络违法案件 3", message_id="dup-1")
    again = police.say("查处网络违法案件 3", message_id="dup-1")
    assert "累计 3 件" in first
    assert "已经记过了" in again and "当前累计 3 件" in again
    assert total(app, "ga1") == 3 and entries(app) == 1


def test_same_message_id_in_another_chat_is_another_message(app: App, police: Chat) -> None:
    other = Chat(app, "方广成", transport="other")
    police.say("1 1", message_id="42")
    other.say("1 2", message_id="42")  # the same text again would be asked about (刚才…已记过同样的内容)
    assert total(app, "ga1") == 3


def test_several_items_all_or_nothing(app: App, police: Chat) -> None:
    reply = police.say("查处网络违法案件 3，不存在的项目 5")
    assert "没有找到「不存在的项目」" in reply and "没有记录任何数据" in reply
    assert entries(app) == 0
    assert "已记录" in police.say("查处网络违法案件 3，清理网上违法有害信息 5")
    assert entries(app) == 2


def test_exact_decimal_sums(app: App, drugs: Chat) -> None:
    drugs.say("网售药品违法案件处罚金额 0.1")
    reply = drugs.say("网售药品违法案件处罚金额 0.2万元")
    assert "累计 0.3 万元" in reply
    assert total(app, "yp5") == Decimal("0.3")


def test_unit_conversions_are_exact(app: App, drugs: Chat) -> None:
    assert "累计 0.5 万元" in drugs.say("网售药品违法案件处罚金额 5000元")
    assert "累计 0.5001 万元" in drugs.say("网售药品违法案件处罚金额 1元")
    market = Chat(app, "王永辉")
    assert "累计 1.2 万元" in market.say("网络餐饮服务案件罚没款 12000元")
    web = Chat(app, "李勤额")
    assert "累计 1.2 万条" in web.say("清理网上违法违规信息 12000条")


def test_unit_decides_between_batches_and_pieces(app: App, customs: Chat) -> None:
    (reply,) = customs.send("寄递渠道查获侵权货物 3")
    assert "对应2个项目，请选一个" in reply.text and "还没有记录" in reply.text
    assert [c.label for c in reply.choices] == ["1. 寄递渠道查获侵权货物（批次）", "2. 寄递渠道查获侵权货物（件）"]
    assert [c.text for c in reply.choices] == ["1 3", "2 3"]
    assert entries(app) == 0
    customs.say("寄递渠道查获侵权货物 3批次")
    customs.say("寄递渠道查获侵权货物 7件")
    assert total(app, "hg1") == 3 and total(app, "hg2") == 7


def test_ambiguous_offers_buttons_that_book_once(app: App) -> None:
    market = Chat(app, "王永辉")
    replies = market.send("罚没款 2，红黑榜 1")
    assert entries(app) == 0
    choices = replies[0].choices
    assert [c.label for c in choices] == ["14. 网络餐饮服务案件罚没款（万元）", "21. 餐饮“网红店”案件罚没款（万元）"]
    assert choices[1].text == "21 2，23 1"
    assert "已记录" in market.say(choices[1].text, message_id="cb-1")
    assert "已经记过了" in market.say(choices[0].text, message_id="cb-1")
    assert total(app, "sc21") == 2 and total(app, "sc14") == 0 and total(app, "sc23") == 1


def test_another_departments_indicator_is_refused(app: App) -> None:
    forestry = Chat(app, "陈彬")
    reply = forestry.say("查处网络违法案件 3")
    assert "是公安局的项目" in reply and "只能填报本单位的项目" in reply
    assert entries(app) == 0


def test_department_without_rows_books_nothing(app: App) -> None:
    commerce = Chat(app, "戴超颖")
    assert "没有需要填报的项目" in commerce.say("查处网络违法案件 3")
    assert entries(app) == 0


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("查处网络违法案件 1.5", "只能填整数"),
        ("查处网络违法案件 3吨", "单位是件，不能用吨"),
        ("1 3吨", "单位是件，不能用吨"),
        ("查处网络违法案件 20000", "数量太大"),
        ("9 3", "没有序号9"),
        ("你好", "没看懂"),
        ("查处网络违法案件", "没看懂"),
        ("查处网络违法案件 -1", "会小于0"),
    ],
)
def test_bad_input_says_what_is_wrong_and_books_nothing(app: App, police: Chat, text: str, reason: str) -> None:
    reply = police.say(text)
    assert reason in reply
    assert entries(app) == 0


def test_bad_input_shows_an_example_that_works(app: App, police: Chat) -> None:
    reply = police.say("你好")
    assert "查处网络违法案件 3" in reply


def test_negative_correction_and_floor_at_zero(app: App, police: Chat) -> None:
    police.say("查处网络违法案件 3")
    assert "查处网络违法案件 -1 件，累计 2 件" in police.say("查处网络违法案件 -1")
    assert "会小于0" in police.say("查处网络违法案件 -5")
    assert total(app, "ga1") == 2


def test_correction_sets_the_total(app: App, police: Chat) -> None:
    police.say("查处网络违法案件 8")
    reply = police.say("更正 查处网络违法案件 5")
    assert "累计改为 5 件（原 8 件）" in reply
    assert total(app, "ga1") == 5
    assert "不能是负数" in police.say("更正 1 -2")
    assert total(app, "ga1") == 5


def test_undo_reverses_the_last_booking_and_keeps_both(app: App, police: Chat) -> None:
    police.say("查处网络违法案件 3")
    police.say("查处网络违法案件 2，清理网上违法有害信息 5")
    reply = police.say("撤销")
    assert "已撤销" in reply and "累计 3 件" in reply and "清理网上违法有害信息 -5 条，累计 0 条" in reply
    assert entries(app) == 5  # 3 bookings' worth of lines: nothing was deleted
    assert "累计 0 件" in police.say("/undo")
    assert "没有可以撤销的记录" in police.say("撤销")
    assert total(app, "ga1") == 0


def test_undo_delivered_twice_undoes_once(app: App, police: Chat) -> None:
    police.say("查处网络违法案件 3")
    police.say("查处网络违法案件 2")
    police.say("撤销", message_id="u1")
    assert "已经记过了" in police.say("撤销", message_id="u1")
    assert total(app, "ga1") == 3


def test_undo_only_touches_the_senders_own_bookings(app: App) -> None:
    admin_a, admin_b = Chat(app, "王永辉"), Chat(app, "张秀齐")
    admin_a.say("红黑榜 1")
    assert "没有可以撤销的记录" in admin_b.say("撤销")
    assert total(app, "sc23") == 1


def test_a_copied_label_with_its_unit(app: App) -> None:
    web = Chat(app, "李勤额")
    assert "累计 1.5 万条" in web.say("清理网上违法违规信息（万条） 1.5")
    police = Chat(app, "方广成")
    assert "单位是件，不能用吨" in police.say("查处网络违法案件（吨） 3")
