"""Proposals through the core: 确认 books once; 取消, a new report or 10 minutes drop it; the same text is asked."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from bot.app import App
from handlers.messages import Capabilities, Incoming
from store import ledger
from store.models import Entry, Proposal
from tests.support import Chat, FakeClock


def total(app: App, key: str) -> Decimal:
    with app.db.read() as s:
        return sum(ledger.totals(s, indicators=[key]).values(), Decimal(0))


def entries(app: App) -> int:
    with app.db.read() as s:
        return s.scalar(select(func.count(Entry.id))) or 0


@pytest.fixture
def police(app: App) -> Chat:
    return Chat(app, "方广成")


def test_confirm_books_once_even_when_sent_twice(app: App, police: Chat) -> None:
    shown = police.say("今天查处网络违法案件3起")
    assert "请核对" in shown and "1. 查处网络违法案件 +3 件" in shown and entries(app) == 0
    assert police.say("确认").startswith("已记录")
    assert "已经确认记过了" in police.say("确认")
    assert "已经确认记过了" in police.say("确认", message_id="again")
    assert total(app, "ga1") == 3


def test_cancel_and_a_new_report_drop_the_proposal(app: App, police: Chat) -> None:
    police.say("今天查处网络违法案件3起")
    assert "已取消" in police.say("取消")
    assert "没有记录" in police.say("确认")
    police.say("今天查处网络违法案件4起")
    assert police.say("查处网络违法案件 1").startswith("已记录")  # a new report: the proposal is dropped
    assert "没有记录" in police.say("确认")
    police.say("今天查处网络违法案件5起")
    police.say("你好")  # refused, but still a new message in place of the report
    assert "没有记录" in police.say("确认")
    assert total(app, "ga1") == 1


def test_a_proposal_expires_after_ten_minutes(app: App, police: Chat, clock: FakeClock) -> None:
    police.say("今天查处网络违法案件3起")
    clock.advance(minutes=10, seconds=1)
    assert "超过10分钟" in police.say("确认")
    assert entries(app) == 0
    police.say("今天查处网络违法案件3起")
    clock.advance(minutes=9)
    assert police.say("确认").startswith("已记录")


def test_a_redelivered_loose_message_shows_the_same_proposal(app: App, police: Chat) -> None:
    first = police.say("今天查处网络违法案件3起", message_id="loose-1")
    again = police.say("今天查处网络违法案件3起", message_id="loose-1")
    assert first == again
    with app.db.read() as s:
        assert s.scalar(select(func.count(Proposal.id))) == 1
    assert police.say("确认").startswith("已记录")
    assert total(app, "ga1") == 3


def test_the_same_text_again_within_ten_minutes_is_asked_about(app: App, police: Chat, clock: FakeClock) -> None:
    assert police.say("查处网络违法案件 3").startswith("已记录")
    clock.advance(minutes=2)
    asked = police.say("查处网络违法案件 3")
    assert asked.startswith("刚才 10:00 已记过同样的内容") and "确定再记一次吗？" in asked
    assert total(app, "ga1") == 3
    assert police.say("确认").startswith("已记录")
    assert total(app, "ga1") == 6
    clock.advance(minutes=11)
    assert police.say("查处网络违法案件 3").startswith("已记录")
    assert total(app, "ga1") == 9


def test_a_redelivery_is_still_a_duplicate_not_a_question(app: App, police: Chat) -> None:
    police.say("查处网络违法案件 3", message_id="same")
    assert "已经记过了" in police.say("查处网络违法案件 3", message_id="same")


def test_cumulative_wording_asks_and_the_second_choice_sets_the_total(app: App, police: Chat) -> None:
    police.say("查处网络违法案件 5")
    asked = police.say("截至8月20日，查处网络违法案件12件")
    assert "是新增12件，还是累计为12件？" in asked and total(app, "ga1") == 5
    assert "请回复“新增”或“累计”" in police.say("确认")
    reply = police.say("累计")
    assert reply.startswith("已更正") and "累计改为 12 件（原 5 件）" in reply
    assert total(app, "ga1") == 12
    police.say("查处网络违法案件共计2件")
    assert police.say("新增").startswith("已记录")
    assert total(app, "ga1") == 14


def test_above_the_usual_size_is_proposed_with_a_warning(app: App) -> None:
    market = Chat(app, "王永辉")
    reply = market.say("网络餐饮服务案件罚没款 150")
    assert "数量太大" in reply and "确认" in reply and total(app, "sc14") == 0
    assert market.say("确认").startswith("已记录")
    assert total(app, "sc14") == 150
    police = Chat(app, "方广成")
    assert police.say("清理网上违法有害信息 12000条").startswith("已记录")  # 12000条 is a normal report


def test_buttons_where_the_transport_has_them(app: App, police: Chat) -> None:
    with_buttons = Incoming("test", police.user, police.user, "b1", "今天查处网络违法案件3起",
                            caps=Capabilities(buttons=True))
    (reply,) = app.core.handle(with_buttons)
    assert [(c.label, c.text) for c in reply.choices] == [("确认", "确认"), ("取消", "取消")]
    plain = app.core.handle(Incoming("test", police.user, police.user, "b3", "今天查处网络违法案件4起"))
    assert plain[0].choices == () and "回复“确认”" in plain[0].text
    asked = app.core.handle(Incoming("test", police.user, police.user, "b2", "查处网络违法案件累计12件",
                                     caps=Capabilities(buttons=True)))
    assert [c.text for c in asked[0].choices] == ["新增", "累计", "取消"]
    assert asked[0].choices[1].label == "累计为12件"


def test_confirm_without_a_proposal(app: App, police: Chat) -> None:
    assert "没有等待确认的内容" in police.say("确认")
    assert "没有等待确认的内容" in police.say("取消")
    assert entries(app) == 0


def test_the_proposal_is_kept_in_the_database(app: App, police: Chat) -> None:
    # Another core on the same database (a restart, a second instance) books it on 确认.
    police.say("今天查处网络违法案件3起")
    from handlers.core import Core

    other = Core(app.campaign, app.db, app.core.clock)
    replies = other.handle(Incoming("test", police.user, police.user, "elsewhere-1", "确认"))
    assert replies[0].text.startswith("已记录")
    assert total(app, "ga1") == 3
