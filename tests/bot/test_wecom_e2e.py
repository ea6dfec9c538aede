"""End to end: the real `python -m bot run` serving WeCom on 127.0.0.1, talking to a fake WeCom.

One bot process serves the whole module. Each test speaks as its own member (userid), so the tests do not
share counts. Nothing sleeps: the tests wait on the fake API's condition variable, with a timeout.
To show that nothing *more* arrived, a test sends one more message and waits for its answer: a member's
messages are handled one at a time in order, so anything left over would have come before it.
"""

from __future__ import annotations

import io
import socket
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tests.fakes.process import PROJECT, BotProcess, clean_env
from tests.fakes.wecom_api import AES_KEY, AGENT_ID, CORP_ID, SECRET, TOKEN, ApiCall, FakeWeComApi, WeComSender

USERS = {"方广成": "fanggc", "王永辉": "wangyh", "陈明栋": "chenmd", "肖方侃": "xiaofk", "王晓芳": "wangxf"}
OTHER_AES_KEY = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut"


@dataclass
class Bot:
    process: BotProcess
    api: FakeWeComApi
    wecom: WeComSender
    database: Path

    def bookings(self, userid: str) -> int:
        with sqlite3.connect(self.database) as db:
            row = db.execute("SELECT count(*) FROM bookings WHERE transport = 'wecom' AND chat_id = ?",
                             (userid,)).fetchone()
        return int(row[0])

    def log(self) -> str:
        return self.process.log()

    def say(self, userid: str, text: str, expect: str) -> ApiCall:
        """Send a text message and wait for a new message from the bot containing `expect`."""
        before = len(self.api.sent(userid))
        assert self.wecom.text(userid, text) == (200, "")
        return self.api.wait_sent(userid, expect, after=before)


def _config(tmp: Path) -> Path:
    """The project's config.toml with WeCom userids added to a few contacts."""
    text = (PROJECT / "config.toml").read_text(encoding="utf-8")
    for name, userid in USERS.items():
        line = f'name = "{name}"\n'
        assert text.count(line) == 1, name
        text = text.replace(line, f'{line}wecom_userid = "{userid}"\n')
    path = tmp / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bot]:
    tmp = tmp_path_factory.mktemp("wecom")
    port = _free_port()
    with FakeWeComApi() as api:
        env = clean_env(
            BOT_CONFIG=str(_config(tmp)), BOT_DATABASE_URL=f"sqlite:///{tmp / 'bot.db'}", BOT_LOG_LEVEL="INFO",
            WECOM_CORP_ID=CORP_ID, WECOM_AGENT_ID=str(AGENT_ID), WECOM_SECRET=SECRET, WECOM_TOKEN=TOKEN,
            WECOM_ENCODING_AES_KEY=AES_KEY, WECOM_API_BASE_URL=api.base_url, WECOM_LISTEN=f"127.0.0.1:{port}",
        )
        process = BotProcess("wecom", env, tmp)
        try:
            process.start()
            assert "wecom" in process.ready.split(maxsplit=1)[1].split(","), process.ready
            bot = Bot(process, api, WeComSender(f"http://127.0.0.1:{port}/wecom/callback"), tmp / "bot.db")
            for userid in USERS.values():
                # A member's first message binds them and is answered with the greeting and their list.
                bot.say(userid, "开始", "报数示例")
            yield bot
        finally:
            api.release.set()
            code = process.stop()
        assert code == 0, process.log()


def test_url_verification_returns_the_decrypted_echostr(bot: Bot) -> None:
    assert bot.wecom.verify_url("echo-5183262337") == (200, "echo-5183262337")
    assert bot.wecom.verify_url("echo-5183262337", forged=True)[0] == 403


def test_report_is_confirmed_and_shows_in_totals(bot: Bot) -> None:
    confirmation = bot.say("fanggc", "查处网络违法案件 3", "已记录")
    assert "查处网络违法案件 +3 件，累计 3 件" in confirmation.text
    assert "查处网络违法案件：3 件" in bot.say("fanggc", "汇总", "市公安局累计").text
    # The admin sees the department's totals too.
    assert "查处网络违法案件：3 件" in bot.say("wangyh", "汇总 公安局", "市公安局累计").text
    assert bot.bookings("fanggc") == 1


def test_export_is_uploaded_then_sent_as_a_file(bot: Bot) -> None:
    before = len(bot.api.calls)
    assert bot.wecom.text("wangyh", "导出") == (200, "")

    def outcome(calls: list[ApiCall]) -> ApiCall | None:
        return next((c for c in calls[before:] if c.errcode == 0 and c.path == "message/send"
                     and c.touser == "wangyh" and c.body.get("msgtype") == "file"), None)

    sent = bot.api.wait_for(outcome)
    media_id = sent.body["file"]["media_id"]
    calls = list(bot.api.calls)
    upload = next(c for c in calls if c.path == "media/upload" and c.media_id == media_id)
    assert calls.index(upload) < calls.index(sent)
    assert upload.filename.endswith(".xlsx")
    workbook = load_workbook(io.BytesIO(upload.data))
    assert "统计表" in workbook.sheetnames


def test_retried_callback_is_booked_and_confirmed_once(bot: Bot) -> None:
    before = len(bot.api.sent("chenmd"))
    msg_id = bot.wecom.new_msg_id()
    bot.api.hold_sends()  # the bot is still busy with the first callback when the retries arrive
    try:
        for _ in range(3):
            # Answered at once although the reply cannot go out yet: WeCom has its answer within 5 s.
            assert bot.wecom.text("chenmd", "1 2", msg_id) == (200, "")
    finally:
        bot.api.release.set()
    assert "累计 2 个次" in bot.api.wait_sent("chenmd", "已记录", after=before).text
    bot.say("chenmd", "记录", "最近的记录")
    texts = [c.text for c in bot.api.sent("chenmd")[before:]]
    assert sum("已记录" in t for t in texts) == 1, texts
    assert not any("已经记过了" in t for t in texts), texts
    assert bot.bookings("chenmd") == 1


def test_forged_or_undecryptable_callback_is_refused(bot: Bot) -> None:
    assert bot.wecom.text("xiaofk", "1 5", forged=True)[0] == 403
    assert bot.wecom.text("xiaofk", "1 5", aes_key=OTHER_AES_KEY)[0] == 403
    log = bot.log()
    assert "WeCom callback refused (message from 127.0.0.1): bad signature" in log
    assert "WeCom callback refused (message from 127.0.0.1): cannot decrypt" in log
    before = len(bot.api.sent("xiaofk"))
    assert "查处违法违规行为：0 次" in bot.say("xiaofk", "汇总", "累计").text
    assert len(bot.api.sent("xiaofk")) == before + 1  # only the answer to 汇总
    assert bot.bookings("xiaofk") == 0


def test_expired_token_is_refreshed_and_the_reply_resent(bot: Bot) -> None:
    before = len(bot.api.sent("wangxf"))
    old = bot.api.expire_token()
    bot.say("wangxf", "指标", "填报项目")
    calls = list(bot.api.calls)
    refused = next(i for i, c in enumerate(calls) if c.path == "message/send" and c.token == old and c.errcode)
    assert calls[refused].errcode == 42001 and calls[refused].touser == "wangxf"
    resent = next(i for i, c in enumerate(calls) if i > refused and c.path == "message/send" and c.touser == "wangxf")
    assert any(c.path == "gettoken" for c in calls[refused:resent])
    assert calls[resent].errcode == 0 and calls[resent].body == calls[refused].body
    assert calls[resent].token not in ("", old)
    assert len(bot.api.sent("wangxf")) == before + 1


def test_unknown_userid_gets_one_polite_refusal(bot: Bot) -> None:
    refusal = bot.say("stranger01", "查处网络违法案件 1", "您还不在名单中")
    assert "请联系市市场监管局网监科" in refusal.text
    assert len(bot.api.sent("stranger01")) == 1
    assert bot.bookings("stranger01") == 0


def test_voice_gets_told_what_the_app_accepts(bot: Bot) -> None:
    xml = (f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><FromUserName><![CDATA[fanggc]]></FromUserName>"
           "<CreateTime>1692064900</CreateTime><MsgType><![CDATA[voice]]></MsgType>"
           "<MediaId><![CDATA[v1]]></MediaId><Format><![CDATA[amr]]></Format>"
           f"<MsgId>{bot.wecom.new_msg_id()}</MsgId><AgentID>{AGENT_ID}</AgentID></xml>")
    before = len(bot.api.sent("fanggc"))
    assert bot.wecom.post(xml) == (200, "")
    bot.api.wait_sent("fanggc", "能接收文字、图片和视频", after=before)
