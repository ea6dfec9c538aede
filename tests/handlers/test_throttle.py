"""A flooding user is slowed down; everyone else, and the console, are not."""

from __future__ import annotations

import datetime as dt

from bot.app import App
from handlers.messages import Incoming
from handlers.throttle import Throttle
from tests.support import Chat, FakeClock

T0 = dt.datetime(2023, 8, 15, 2, 0, tzinfo=dt.UTC)


def test_token_bucket() -> None:
    throttle = Throttle(rate=1.0, burst=3)
    assert [throttle.check("telegram", "a", T0) for _ in range(5)] == ["ok", "ok", "ok", "warn", "drop"]
    assert throttle.check("telegram", "b", T0) == "ok"  # another user is not affected
    assert throttle.check("telegram", "a", T0 + dt.timedelta(seconds=1)) == "ok"
    assert [throttle.check("console", "a", T0) for _ in range(100)] == ["ok"] * 100


def test_flood_through_the_core_books_only_what_was_let_through(app: App, clock: FakeClock) -> None:
    flooder = Chat(app, "方广成", transport="telegram")
    other = Chat(app, "王晓芳", transport="telegram")
    # Hundreds within the same instant, each text different (the same text again would be asked about).
    replies = [flooder.send(f"1 1，4 {n + 1}") for n in range(300)]
    booked = sum(1 for r in replies if r and r[0].text.startswith("已记录"))
    warned = sum(1 for r in replies if r and "发得太快" in r[0].text)
    assert booked == 20 and warned == 1 and sum(1 for r in replies if not r) == 279
    assert other.say("寄递渠道查获侵权货物 1批次").startswith("已记录")
    assert flooder.send("1 1") == []  # still empty-handed in the same instant
    clock.advance(seconds=5)
    assert "累计 24 件" in flooder.say("1 4")


def test_console_is_never_limited(app: App) -> None:
    console = Chat(app, "方广成", transport="console")
    replies = [console.say(f"1 1，4 {n + 1}") for n in range(60)]
    assert all(r.startswith("已记录") for r in replies)


def test_strangers_are_limited_too(app: App) -> None:
    replies = [app.core.handle(Incoming("telegram", "9", "9", str(n), "你好")) for n in range(40)]
    assert sum(1 for r in replies if not r) == 19
