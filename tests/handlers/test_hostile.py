"""10,000 hostile inputs: no crash, no booking, and always a clear, short Chinese reply."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.app import App, build_app
from handlers.throttle import Throttle
from store.models import Entry
from tests.support import Chat, FakeClock

# Pieces that are never a valid report for 市林业局 (two rows): no number fits both an item number
# (1 or 2) and an amount, and huge, tiny, negative and fractional numbers are all refused.
numbers = st.one_of(
    st.integers(min_value=10**5, max_value=10**40).map(str),
    st.integers(min_value=-(10**9), max_value=-1).map(str),
    st.sampled_from(["0.00001", "1e308", "NaN", "inf", "-0", "１２３４５６", "十万万", "一点二点三", "1.2.3", "∞",
                     "٣", "Ⅻ", "0x1F", "1_000", "3.14159265358979"]),
)
hostile = st.one_of(
    st.sampled_from([
        "=1+1", "+SUM(A1:A9)", "-2+3", "@cmd", "=HYPERLINK(\"http://x\",\"点\")", "'; DROP TABLE entries;--",
        "\" OR 1=1 --", "<script>alert(1)</script>", "${jndi:ldap://x}", "%s%s%n", "../../etc/passwd",
        "\x00\x01\x1b[31m", "\u202e反转\u202c", "\ufeff", "😀🔥💯", "ＡＢＣ", "Ｓａｎｍｉｎｇ", "привет", "مرحبا",
        "한국어", "ひらがな", "ℌ𝔢𝔩𝔩𝔬", "\t\r\n", "　", "/", "//", "/start@", "/ 汇总", "更正", "撤销撤销",
    ]),
    numbers,
    # No digits of any kind: ² and ① fold to 2 and 1 (NFKC), and "² ²" is a valid report for item 2.
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Nd", "No"]), max_size=30),
    st.text(min_size=1001, max_size=3000),
)
messages = st.lists(hostile, min_size=1, max_size=6).map(" ".join)
_ids = itertools.count()


@pytest.fixture(scope="module")
def forestry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[App, Chat]]:
    path = tmp_path_factory.mktemp("hostile") / "bot.db"
    app = build_app(url=f"sqlite:///{path}", clock=FakeClock())
    app.core.throttle = Throttle(burst=10**9)  # the flood limit has its own test
    yield app, Chat(app, "陈彬", transport="telegram")
    app.close()


def _entries(app: App) -> int:
    with app.db.session() as s:
        return s.scalar(select(func.count(Entry.id))) or 0


@settings(max_examples=10_000, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=messages)
def test_hostile_input(forestry: tuple[App, Chat], text: str) -> None:
    app, chat = forestry
    before = _entries(app)
    replies = chat.send(text, message_id=f"h{next(_ids)}")
    assert _entries(app) == before == 0, (text, replies)
    assert replies
    reply = "\n".join(r.text for r in replies)
    assert reply and len(reply) < 1500, reply
    assert "出错" not in reply and "Traceback" not in reply
    assert any("\u4e00" <= ch <= "\u9fff" for ch in reply)  # a Chinese sentence, not an echo
    assert not any(ch in reply for ch in "\x00\x1b\u202e")
