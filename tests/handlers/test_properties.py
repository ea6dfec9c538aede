"""Any text gets a reply and never a crash; nothing is booked unless the text was a valid report."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.app import App, build_app
from campaign import load_campaign
from handlers.grammar import GrammarError, parse
from handlers.messages import Incoming
from handlers.throttle import Throttle
from store.models import Entry
from tests.support import TELEGRAM_CAPS, Chat, FakeClock, booking_count

CAMPAIGN = load_campaign()
NAMES = [i.name for i in CAMPAIGN.indicators] + [a for i in CAMPAIGN.indicators for a in i.aliases]
WORDS = ["汇总", "撤销", "更正", "指标", "帮助", "/undo", "/total", "-", "+", "万", "条", "件", "元", "吨", "批次",
         "，", "、", "\n", " ", "=1+1", "'; DROP TABLE entries;--", "😀", "三", "十", "点", "0", "1.5", "１２"]
pieces = st.one_of(
    st.sampled_from(NAMES), st.sampled_from(WORDS), st.integers(-100, 100000).map(str),
    st.decimals(min_value=-10, max_value=10, places=5).map(str), st.text(max_size=6),
)
messages = st.one_of(st.lists(pieces, max_size=8).map(" ".join), st.text(max_size=60))
_ids = itertools.count()


@pytest.fixture(scope="module")
def shared_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    path = tmp_path_factory.mktemp("prop") / "bot.db"
    built = build_app(url=f"sqlite:///{path}", clock=FakeClock())
    built.core.throttle = Throttle(burst=10**9)  # thousands of messages in one frozen instant: not a flood test
    yield built
    built.close()


def _entries(app: App) -> int:
    with app.db.session() as s:
        return s.scalar(select(func.count(Entry.id))) or 0


BOOKED = ("已记录", "已更正", "已撤销")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=messages, who=st.sampled_from(["王永辉", "方广成", "王晓芳", "陈明栋", "戴超颖"]))
def test_any_text_gets_a_reply_and_books_only_valid_reports(shared_app: App, text: str, who: str) -> None:
    chat = Chat(shared_app, who)
    before = _entries(shared_app)
    replies = chat.send(text, message_id=f"p{next(_ids)}")
    after = _entries(shared_app)
    assert replies and all(r.text for r in replies)
    reply = replies[0].text
    assert "出错" not in reply  # the polite apology means an exception escaped a handler
    if after != before:
        assert reply.startswith(BOOKED), (text, reply)
        if not reply.startswith("已撤销"):
            parse(text)  # booked text must be a valid report
    else:
        assert not reply.startswith(BOOKED), (text, reply)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(messages, min_size=1, max_size=6),
       who=st.sampled_from(["王永辉", "方广成", "王晓芳", "陈明栋", "戴超颖"]))
def test_texts_handled_together_each_get_their_own_reply_and_book_as_alone(
        shared_app: App, texts: list[str], who: str) -> None:
    # Core.handle_many, as the dispatcher uses it for messages that arrive together (store/gathering.py).
    chats = [Chat(shared_app, who, transport=f"g{n}") for n in range(len(texts))]
    messages_ = [chat.message(text, message_id=f"g{next(_ids)}") for chat, text in zip(chats, texts, strict=True)]
    assert all(isinstance(shared_app.core.books(msg), bool) for msg in messages_)
    before = booking_count(shared_app)
    answers = shared_app.core.handle_many(messages_)
    assert len(answers) == len(texts)
    assert all(replies and all(r.text for r in replies) and "出错" not in replies[0].text for replies in answers)
    booked = sum(replies[0].text.startswith(BOOKED) for replies in answers)
    assert booking_count(shared_app) - before == booked, (texts, [r[0].text for r in answers])


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=200))
def test_the_grammar_never_crashes(text: str) -> None:
    try:
        parse(text)
    except GrammarError as exc:
        assert str(exc)


def test_strangers_never_book(shared_app: App) -> None:
    before = _entries(shared_app)
    for n, text in enumerate(["1 3", "查处网络违法案件 3", "更正 1 5"]):
        replies = shared_app.core.handle(Incoming("telegram", "555", "555", f"x{n}", text, caps=TELEGRAM_CAPS))
        assert replies[0].request_contact
    assert _entries(shared_app) == before
