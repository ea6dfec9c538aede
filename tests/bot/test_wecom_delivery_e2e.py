"""End to end: the real bot against a fake WeCom that fails. Nothing lost, nothing doubled, nobody left waiting.

Before bot/delivery.py, one failed message/send (errcode -1, HTTP 500, a hang past the timeout) left the member
with no confirmation and the inbox row marked handled; they reported again and were counted twice. Now each send
is retried with backoff; a reply that still cannot go out is kept in the outbox and sent late with a note; a
member WeCom refuses for good (81013) is reported to the admins and shown in 进度.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bot.test_wecom_e2e import USERS, Bot, _config, _free_port
from tests.fakes.process import BotProcess, clean_env
from tests.fakes.wecom_api import AES_KEY, AGENT_ID, CORP_ID, SECRET, TOKEN, FakeWeComApi, WeComSender


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bot]:
    tmp = tmp_path_factory.mktemp("wecom-delivery")
    config = _config(tmp)
    # A one-second call timeout, so that a hang costs the test one second, not thirty.
    config.write_text(config.read_text(encoding="utf-8") + "\n[wecom]\ntimeout_seconds = 1\n", encoding="utf-8")
    port = _free_port()
    with FakeWeComApi() as api:
        api.hang_seconds = 3.0
        env = clean_env(
            BOT_CONFIG=str(config), BOT_DATABASE_URL=f"sqlite:///{tmp / 'bot.db'}", BOT_LOG_LEVEL="INFO",
            WECOM_CORP_ID=CORP_ID, WECOM_AGENT_ID=str(AGENT_ID), WECOM_SECRET=SECRET, WECOM_TOKEN=TOKEN,
            WECOM_ENCODING_AES_KEY=AES_KEY, WECOM_API_BASE_URL=api.base_url, WECOM_LISTEN=f"127.0.0.1:{port}",
        )
        process = BotProcess("wecom", env, tmp)
        try:
            process.start()
            bot = Bot(process, api, WeComSender(f"http://127.0.0.1:{port}/wecom/callback"), tmp / "bot.db")
            for userid in USERS.values():
                bot.say(userid, "开始", "报数示例")
            yield bot
        finally:
            api.release.set()
            code = process.stop()
        assert code == 0, process.log()


def _unhandled(database: Path) -> int:
    """Inbox rows left unhandled, apart from each member's newest (its reply may still be on its way; a member's
    messages are handled in order, so every earlier one was marked before it started)."""
    with sqlite3.connect(database) as db:
        return int(db.execute(
            "SELECT count(*) FROM inbox i WHERE handled_at IS NULL"
            " AND id < (SELECT max(id) FROM inbox j WHERE j.chat_id = i.chat_id)").fetchone()[0])


@pytest.mark.parametrize("fault", ["-1", "45009", "500", "hang"])
def test_a_send_failing_once_is_retried_and_confirmed_once(bot: Bot, fault: str) -> None:
    userid = "fanggc"
    bookings = bot.bookings(userid)
    before = len(bot.api.sent(userid))
    bot.api.fail_next(fault, touser=userid)
    # A different amount each time: the same text again within 10 minutes would be asked about, not booked.
    amount = ["-1", "45009", "500", "hang"].index(fault) + 1
    confirmation = bot.say(userid, f"查处网络违法案件 {amount}", "已记录")
    assert "补发" not in confirmation.text  # the retry got it there in time
    failed = [c for c in bot.api.calls if c.path == "message/send" and c.touser == userid and c.errcode]
    assert failed, "the fake did not fail the first send"
    bot.say(userid, "记录", "最近的记录")  # anything left over would arrive before this answer
    texts = [c.text for c in bot.api.sent(userid)[before:]]
    assert sum("已记录" in t for t in texts) == 1, texts
    assert bot.bookings(userid) == bookings + 1
    assert _unhandled(bot.database) == 0


def test_a_reply_that_cannot_be_sent_now_is_sent_late_with_a_note(bot: Bot) -> None:
    userid = "chenmd"
    before = len(bot.api.sent(userid))
    bot.api.fail_next(*["-1"] * 4, touser=userid)  # every attempt of the one retry policy fails
    assert bot.wecom.text(userid, "1 2") == (200, "")
    late = bot.api.wait_sent(userid, "已记录", after=before, timeout=30)
    assert "（补发，原消息 " in late.text, late.text
    assert bot.bookings(userid) == 1
    bot.say(userid, "记录", "最近的记录")
    texts = [c.text for c in bot.api.sent(userid)[before:]]
    assert sum("已记录" in t for t in texts) == 1, texts
    assert _unhandled(bot.database) == 0


def test_a_member_outside_the_visible_range_is_reported_once_and_shown_in_progress(bot: Bot) -> None:
    bot.api.refuse.add("xiaofk")
    admin_before = len(bot.api.sent("wangyh"))
    assert bot.wecom.text("xiaofk", "汇总") == (200, "")
    note = bot.api.wait_sent("wangyh", "消息无法送达", after=admin_before, timeout=30)
    assert "肖方侃" in note.text
    assert bot.wecom.text("xiaofk", "指标") == (200, "")  # refused again: no second note
    progress = bot.say("wangyh", "进度", "报数进度")
    assert "收不到机器人消息的" in progress.text and "肖方侃" in progress.text
    notes = [c for c in bot.api.sent("wangyh")[admin_before:] if "消息无法送达" in c.text]
    assert len(notes) == 1
    assert _unhandled(bot.database) == 0
    bot.api.refuse.discard("xiaofk")
