"""Properties: nothing is booked without the exact grammar or a 确认; a booked amount is the oracle's number."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from decimal import Decimal

import cn2an
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.app import App, build_app
from campaign import load_campaign
from handlers.grammar import parse
from handlers.throttle import Throttle
from store import ledger
from store.models import Entry
from tests.support import Chat, FakeClock

CAMPAIGN = load_campaign()
NAMES = [i.name for i in CAMPAIGN.indicators] + [a for i in CAMPAIGN.indicators for a in i.aliases]
FRAMING = ["今天", "本周", "我局", "其中", "截至8月20日，", "累计", "共计", "👍", "。", "，", "下一步将继续加强监管",
           "约", "十几", "上百", "？", "确认", "取消", "新增"]
NUMBERS = ["3", "12", "1,200", "1万5千", "一百一", "两百五", "0.5万", "1.5", "十二万五", "三千五", "20000"]
UNITS = ["", "件", "起", "宗", "家", "条", "个", "万元", "元", "吨", "批次", "人次"]
piece = st.one_of(st.sampled_from(NAMES), st.sampled_from(FRAMING), st.sampled_from(NUMBERS), st.sampled_from(UNITS),
                  st.text(max_size=4))
messages = st.lists(piece, min_size=1, max_size=8).map("".join)
_ids = itertools.count()
BOOKED = ("已记录", "已更正")
PROPOSED = ("请核对", "是新增", "刚才")


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[App, FakeClock]]:
    clock = FakeClock()
    built = build_app(url=f"sqlite:///{tmp_path_factory.mktemp('reading') / 'bot.db'}", clock=clock)
    built.core.throttle = Throttle(burst=10**9)
    yield built, clock
    built.close()


def _entries(app: App) -> int:
    with app.db.read() as s:
        return s.scalar(select(func.count(Entry.id))) or 0


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=messages, who=st.sampled_from(["王永辉", "方广成", "王晓芳", "陈明栋", "李勤额"]),
       answer=st.sampled_from(["确认", "新增", "累计", "取消"]))
def test_never_books_without_the_exact_grammar_or_a_confirmation(shared: tuple[App, FakeClock], text: str, who: str,
                                                                 answer: str) -> None:
    app, clock = shared
    clock.advance(minutes=11)
    chat = Chat(app, who)
    before = _entries(app)
    reply = chat.say(text, message_id=f"r{next(_ids)}")
    assert reply and "出错" not in reply
    if _entries(app) != before:
        # Booked at once (every earlier proposal has expired: the clock moved 11 minutes): the exact grammar.
        assert reply.startswith(BOOKED), (text, reply)
        parse(text)
        return
    middle = _entries(app)
    confirmed = chat.say(answer, message_id=f"r{next(_ids)}")
    if _entries(app) != middle:
        assert reply.startswith(PROPOSED) or "请核对" in reply or "是新增" in reply, (text, reply, confirmed)
        assert confirmed.startswith(BOOKED)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(min_value=0, max_value=10**8), form=st.sampled_from(["chinese", "arabic", "spoken"]))
def test_a_booked_amount_is_the_oracles_number(shared: tuple[App, FakeClock], n: int, form: str) -> None:
    app, clock = shared
    clock.advance(minutes=11)
    written = {"chinese": cn2an.an2cn(n), "arabic": str(n),
               "spoken": cn2an.an2cn(n).replace("二千", "两千").replace("二百", "两百")}[form]
    oracle = Decimal(str(cn2an.cn2an(written.replace("两", "二"), "smart")))
    police = Chat(app, "方广成")
    with app.db.read() as s:
        before = sum(ledger.totals(s, indicators=["ga4"]).values(), Decimal(0))
    reply = police.say(f"清理网上违法有害信息 {written}条")
    if not reply.startswith("已记录"):
        assert "数量太大" in reply, reply  # above the usual size: proposed, booked on 确认
        assert police.say("确认").startswith("已记录")
    with app.db.read() as s:
        after = sum(ledger.totals(s, indicators=["ga4"]).values(), Decimal(0))
    assert after - before == oracle == n
