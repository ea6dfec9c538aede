"""End to end: the real `python -m bot run` serving DingTalk in Stream mode against a fake DingTalk on 127.0.0.1.

The bot gets a token, opens the stream gateway's connection (ticket), holds a real websocket, receives robot
messages as CALLBACK frames and ACKs them, answers with the robot's batchSend and uploads files to oapi.
Nothing sleeps: every wait is on the fake's condition variable, with a timeout.
"""

from __future__ import annotations

import socket
import sqlite3
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fakes.dingtalk_api import CLIENT_ID, CLIENT_SECRET, ROBOT_CODE, FakeDingTalk, Sent
from tests.fakes.process import PROJECT, BotProcess, clean_env

# Directory ids from config, spelt in another case than DingTalk sends them: they compare case-insensitively.
CONFIGURED = {"方广成": "FangGC", "王永辉": "WangYH", "王晓芳": "wangxf"}
BY_MOBILE = {"13860508184": "daicy"}  # 戴超颖: found by the lookup by mobile at start


@dataclass
class Bot:
    process: BotProcess
    ding: FakeDingTalk
    database: Path

    def bookings(self, userid: str) -> int:
        with sqlite3.connect(self.database) as db:
            row = db.execute("SELECT count(*) FROM bookings WHERE transport = 'dingtalk' AND lower(chat_id) = ?",
                             (userid.lower(),)).fetchone()
        return int(row[0])

    def say(self, userid: str, text: str, expect: str, key: str | None = None) -> Sent:
        before = len(self.ding.sent_to(userid))
        frame = self.ding.deliver(userid, text)
        sent = self.ding.wait_sent(userid, expect, after=before, key=key)
        ack = self.ding.wait_ack(frame)
        assert ack["code"] == 200 and ack["headers"]["messageId"] == frame
        return sent


def _config(tmp: Path) -> Path:
    text = (PROJECT / "config.toml").read_text(encoding="utf-8")
    for name, userid in CONFIGURED.items():
        line = f'name = "{name}"\n'
        assert text.count(line) == 1, name
        text = text.replace(line, f'{line}dingtalk_userid = "{userid}"\n')
    path = tmp / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bot]:
    tmp = tmp_path_factory.mktemp("dingtalk")
    with FakeDingTalk(mobiles=BY_MOBILE) as ding:
        env = clean_env(
            BOT_CONFIG=str(_config(tmp)), BOT_DATABASE_URL=f"sqlite:///{tmp / 'bot.db'}", BOT_LOG_LEVEL="INFO",
            DINGTALK_CLIENT_ID=CLIENT_ID, DINGTALK_CLIENT_SECRET=CLIENT_SECRET, DINGTALK_ROBOT_CODE=ROBOT_CODE,
            DINGTALK_API_BASE_URL=ding.base_url, DINGTALK_OAPI_BASE_URL=ding.base_url + "/",
            NO_PROXY="127.0.0.1", no_proxy="127.0.0.1",
        )
        process = BotProcess("dingtalk", env, tmp)
        try:
            process.start()
            assert process.ready.split(maxsplit=1)[1].split(",") == ["dingtalk"], process.ready
            yield Bot(process, ding, tmp / "bot.db")
        finally:
            code = process.stop()
        assert code == 0, process.log()


def test_connects_out_with_the_client_credentials(bot: Bot) -> None:
    opened = bot.ding.wait_for(lambda s: s.opened)
    assert opened[0]["clientId"] == CLIENT_ID and opened[0]["clientSecret"] == CLIENT_SECRET
    assert {"type": "CALLBACK", "topic": "/v1.0/im/bot/messages/get"} in opened[0]["subscriptions"]
    assert bot.ding.state.connections >= 1
    ping = bot.ding.ping()
    assert bot.ding.wait_ack(ping)["code"] == 200  # SYSTEM ping answered


def test_report_is_confirmed_and_shows_in_totals(bot: Bot) -> None:
    confirmation = bot.say("fanggc", "查处网络违法案件 3", "已记录")
    assert confirmation.key == "sampleText"
    assert "查处网络违法案件 +3 件，累计 3 件" in confirmation.text
    assert "查处网络违法案件：3 件" in bot.say("fanggc", "汇总", "市公安局累计").text
    assert bot.bookings("fanggc") == 1


def test_a_send_failing_once_is_retried_and_confirmed_once(bot: Bot) -> None:
    """DingTalk answering 500 to the confirmation: the one retry policy sends it again; booked and said once."""
    before = len(bot.ding.sent_to("fanggc"))
    bot.ding.failures.append(500)
    confirmation = bot.say("fanggc", "查处网络违法案件 2", "已记录")
    assert "+2 件" in confirmation.text and not bot.ding.failures
    assert sum("已记录" in s.text for s in bot.ding.sent_to("fanggc")[before:]) == 1


def test_a_member_outside_the_robots_range_is_reported_once(bot: Bot) -> None:
    """invalidStaffIdList is a refusal for good: not retried, the admins hear of it once, and 进度 names them."""
    bot.ding.refused.add("wangxf")
    try:
        frame = bot.ding.deliver("wangxf", "日程")  # books nothing: other tests count her bookings
        assert bot.ding.wait_ack(frame)["code"] == 200
        note = bot.ding.wait_sent("wangyh", "消息无法送达")
        assert "王晓芳" in note.text
        assert "王晓芳" in bot.say("wangyh", "进度", "报数进度").text
    finally:
        bot.ding.refused.discard("wangxf")


def test_export_arrives_as_a_file(bot: Bot) -> None:
    before = len(bot.ding.state.uploads)
    sent = bot.say("wangyh", "导出", "", key="sampleFile")
    upload = bot.ding.wait_for(lambda s: s.uploads[before:])[0]
    assert sent.param["mediaId"] == upload.media_id and sent.param["fileName"] == upload.filename
    assert upload.filename.endswith(".xlsx") and upload.data.startswith(b"PK")


def test_ambiguous_report_shows_buttons_and_a_press_books(bot: Bot) -> None:
    card = bot.say("wangxf", "寄递渠道查获侵权货物 3", "", key="sampleActionCard2")
    assert bot.bookings("wangxf") == 0  # nothing booked on a guess
    prefix = "dtmd://dingtalkclient/sendMessage?content="
    assert card.param["actionURL1"].startswith(prefix)
    labels = [card.param["actionTitle1"], card.param["actionTitle2"]]
    assert any("批次" in label for label in labels) and any("件" in label for label in labels)
    # Pressing makes the member's client send the button's text: it arrives as their next message.
    pressed = urllib.parse.unquote(card.param["actionURL1"].removeprefix(prefix))
    assert "已记录" in bot.say("wangxf", pressed, "已记录").text
    assert bot.bookings("wangxf") == 1


def test_redelivered_message_books_once(bot: Bot) -> None:
    before = len(bot.ding.sent_to("fanggc"))
    first = bot.ding.deliver("fanggc", "督促互联网企业关停违法违规账号 2", msg_id="msgSameId01")
    bot.ding.wait_ack(first)
    again = bot.ding.deliver("fanggc", "督促互联网企业关停违法违规账号 2", msg_id="msgSameId01")
    bot.ding.wait_ack(again)
    bot.say("fanggc", "记录", "最近的记录")  # handled after both: anything the redelivery sent came before
    texts = [s.text for s in bot.ding.sent_to("fanggc")[before:]]
    assert sum(t.startswith("已记录") for t in texts) == 1, texts
    assert any("已经记过了" in t for t in texts), texts  # the redelivery is answered, and books nothing
    with sqlite3.connect(bot.database) as db:
        assert db.execute("SELECT count(*) FROM bookings WHERE message_id = 'msgSameId01'").fetchone() == (1,)
    assert "督促互联网企业关停违法违规账号：2 个" in bot.say("fanggc", "汇总", "市公安局累计").text


def test_stranger_is_refused_and_books_nothing(bot: Bot) -> None:
    refusal = bot.say("stranger9", "查处网络违法案件 1", "您还不在名单中")
    assert "分享手机号" not in refusal.text
    assert bot.bookings("stranger9") == 0


def test_directory_lookup_by_mobile_registers_and_admins_hear_who_is_missing(bot: Bot) -> None:
    assert "13860508184" in bot.ding.wait_for(lambda s: s.lookups)
    assert "戴超颖" in bot.say("daicy", "开始", "您好").text  # known without any userid typed
    missing = bot.ding.wait_sent("wangyh", "通讯录里没有找到")
    assert "陈明栋" in missing.text and "戴超颖" not in missing.text


def test_wecom_and_dingtalk_run_in_one_process(tmp_path: Path) -> None:
    from tests.fakes.wecom_api import AES_KEY, AGENT_ID, CORP_ID, SECRET, TOKEN, FakeWeComApi, WeComSender

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    config = _config(tmp_path).read_text(encoding="utf-8").replace(
        'dingtalk_userid = "FangGC"\n', 'dingtalk_userid = "FangGC"\nwecom_userid = "fanggc-wx"\n')
    (tmp_path / "config.toml").write_text(config, encoding="utf-8")
    with FakeDingTalk() as ding, FakeWeComApi() as api:
        env = clean_env(
            BOT_CONFIG=str(tmp_path / "config.toml"), BOT_DATABASE_URL=f"sqlite:///{tmp_path / 'bot.db'}",
            DINGTALK_CLIENT_ID=CLIENT_ID, DINGTALK_CLIENT_SECRET=CLIENT_SECRET, DINGTALK_ROBOT_CODE=ROBOT_CODE,
            DINGTALK_API_BASE_URL=ding.base_url, DINGTALK_OAPI_BASE_URL=ding.base_url,
            WECOM_CORP_ID=CORP_ID, WECOM_AGENT_ID=str(AGENT_ID), WECOM_SECRET=SECRET, WECOM_TOKEN=TOKEN,
            WECOM_ENCODING_AES_KEY=AES_KEY, WECOM_API_BASE_URL=api.base_url, WECOM_LISTEN=f"127.0.0.1:{port}",
            NO_PROXY="127.0.0.1", no_proxy="127.0.0.1",
        )
        process = BotProcess("both", env, tmp_path)
        try:
            process.start()
            assert set(process.ready.split(maxsplit=1)[1].split(",")) == {"wecom", "dingtalk"}
            ding.deliver("fanggc", "查处网络违法案件 2")
            ding.wait_sent("fanggc", "累计 2 件")
            assert WeComSender(f"http://127.0.0.1:{port}/wecom/callback").text("fanggc-wx", "查处网络违法案件 1") == (
                200, "")
            api.wait_sent("fanggc-wx", "累计 3 件")  # one contact, one ledger, two chats
        finally:
            assert process.stop() == 0, process.log()
