"""The bot is killed (SIGKILL) in the middle of a stream of Telegram reports, restarted, and Telegram delivers
again everything the bot had not acknowledged: every acknowledged report is booked exactly once.

Telegram's acknowledgement is the getUpdates offset: once the bot asks for updates from offset N, Telegram
deletes every update below N for good. So at the moment of the kill, every update below the highest offset
the bot sent must already be in the ledger, and so must every report whose 已记录 the user saw. After the
restart the fake Bot API delivers the rest again (real Telegram semantics), and in the end each report is
booked once: never lost, never doubled.
"""

from __future__ import annotations

import re
import time
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from bot.app import build_app
from store import directory
from tests.fakes.process import BotProcess
from tests.fakes.telegram_api import FakeBotApi
from tests.reliability.support import Ledger, base_env, config_copy

TOKEN = "123456:TEST-token-crash"
FIRST_USER = 6_100_001
USERS = 20  # the bot answers a chat about once a second (Telegram's pace): many users keep the stream quick
WAVES = 5  # one report from every user per wave: 100 reports
PLUS = re.compile(r"\+(\d+) ")


def bind_users(config: Path, url: str) -> dict[int, tuple[str, str]]:
    """Migrate and seed the database, and bind USERS Telegram accounts to the contacts who book (as if
    each had shared their phone number once); user id -> (department key, the key of its item 1)."""
    app = build_app(config, url)
    try:
        with app.db.session() as s:
            bookers = [p for p in directory.people(s) if app.campaign.indicators_of(p.department)]
            users = {}
            for n in range(USERS):
                person = bookers[n % len(bookers)]
                directory.bind(s, transport="telegram", user_id=str(FIRST_USER + n), chat_id=str(FIRST_USER + n),
                               contact_id=person.id, now=app.now())
                users[FIRST_USER + n] = (person.department, app.campaign.indicators_of(person.department)[0].key)
        return users
    finally:
        app.close()


class Stream:
    """Reports pushed to the fake Bot API: wave k is "1 k" (item 1, amount k) from every user."""

    def __init__(self, api: FakeBotApi, users: dict[int, tuple[str, str]]) -> None:
        self.api, self.users = api, users
        self.sent: dict[int, tuple[int, int, int]] = {}  # update id -> (user, message id, amount)

    def wave(self, k: int) -> None:
        for user in self.users:
            message_id = self.api.next_message_id(user)
            chat = {"id": user, "type": "private", "first_name": "测试"}
            update_id = self.api.push({"message": {
                "message_id": message_id, "date": int(time.time()), "text": f"1 {k}", "chat": chat,
                "from": {"id": user, "is_bot": False, "first_name": "测试"}}})
            self.sent[update_id] = (user, message_id, k)

    def confirmations(self) -> dict[int, list[int]]:
        """The amounts of every 已记录 each user got so far, in order."""
        seen: dict[int, list[int]] = defaultdict(list)
        for call in self.api.since(0):
            if call.method == "sendMessage" and call.status == 200 and call.text.startswith("已记录"):
                assert call.chat_id is not None
                seen[call.chat_id] += [int(amount) for amount in PLUS.findall(call.text)]
        return seen

    def wait_confirmed(self, count: int, timeout: float = 30) -> None:
        self.api.wait_until(lambda: sum(map(len, self.confirmations().values())) >= count, timeout,
                            f"{count} confirmations")


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    # A killed process must not lose a committed count on either database: SQLite's WAL with
    # synchronous=FULL, PostgreSQL's commit.
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'bot.db'}"
    return str(request.getfixturevalue("pg_url"))


def test_sigkill_mid_stream_loses_and_doubles_nothing(url: str, tmp_path: Path) -> None:
    config = config_copy(tmp_path)
    users = bind_users(config, url)
    api = FakeBotApi(TOKEN)
    api.start()
    bot = BotProcess("telegram", base_env(config, url, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_BASE_URL=api.url),
                     tmp_path)
    stream = Stream(api, users)
    try:
        bot.start()
        # A stream: more reports arrive while the bot is still busy with earlier ones; the kill lands
        # while the bot holds fetched updates it has not finished.
        stream.wave(1)
        stream.wave(2)
        stream.wait_confirmed(USERS // 2)
        stream.wave(3)
        stream.wave(4)
        stream.wait_confirmed(USERS * 2 + USERS // 2)
        bot.kill()
        first_log = bot.log()

        offset, pushed = api.confirmed, len(stream.sent)  # Telegram has forgotten the updates below offset
        seen = stream.confirmations()
        ledger = Ledger.read(url, "telegram")
        booked = {uid for uid, (user, mid, _) in stream.sent.items() if (str(user), str(mid)) in ledger.bookings}
        lost = sorted(uid for uid in stream.sent if uid < offset and uid not in booked)
        assert not lost, f"acknowledged to Telegram (offset {offset}) but not booked: updates {lost}"
        amounts = {(user, k) for user, ks in seen.items() for k in ks}
        booked_amounts = {(int(chat), int(entries[0][1])) for (chat, _), entries in ledger.bookings.items()}
        assert amounts <= booked_amounts, "a report was confirmed to its user but is not in the ledger"
        # The kill came mid-stream: updates were waiting (and some perhaps handled but not yet acknowledged).
        assert max(stream.sent) >= offset, "the kill came after the stream, not in its middle"

        # Restarted, the bot gets everything from the last acknowledged update on again, and the stream goes on.
        bot.start()
        for k in range(5, WAVES + 1):
            stream.wave(k)
        api.wait_confirmed(max(stream.sent) + 1, timeout=60)  # the offset passes an update once it is handled
    finally:
        code = bot.stop()
        api.stop()
    assert code == 0, bot.log()[-3000:]
    assert "Traceback" not in first_log + bot.log(), (first_log + bot.log())[-3000:]

    ledger = Ledger.read(url, "telegram")
    assert ledger.duplicate_keys == []
    expected = {(str(user), str(mid)): [(users[user][1], Decimal(k))] for user, mid, k in stream.sent.values()}
    assert ledger.bookings == expected
    sums: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for user, _, k in stream.sent.values():
        sums[users[user]] += k
    assert ledger.entry_sums == sums and ledger.totals == sums
    # Each report was confirmed with 已记录 at most once; a report whose answer the kill swallowed, or that
    # was handled but not yet acknowledged, was answered 已经记过了 after the restart: every report got an answer.
    seen = stream.confirmations()
    for user in users:
        assert all(n == 1 for n in Counter(seen[user]).values()), seen[user]
    answered = Counter(c.chat_id for c in api.since(0) if c.method == "sendMessage" and c.status == 200
                       and c.text.startswith(("已记录", "这条消息已经记过了")))
    assert all(answered[user] >= WAVES for user in users), answered
    print(f"\nkilled with {pushed} updates pushed, {len(booked)} booked, offset {offset} acknowledged; "
          f"{sum(answered.values()) - len(stream.sent)} answered twice (已经记过了) after the restart")
