"""End to end, WeCom as the first-class channel: template cards, the menu, pictures, enter_agent, the directory
lookup by mobile, and a deployment that says what is wrong (a proxy, 60020 at start).

Each fixture starts the real `python -m bot run` against the fake WeCom of tests/fakes/wecom_api.py on
127.0.0.1. Nothing sleeps: every wait is on the fake's condition variable, with a timeout.
"""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fakes.http_proxy import FakeProxy
from tests.fakes.process import BotProcess, clean_env
from tests.fakes.wecom_api import AES_KEY, AGENT_ID, CORP_ID, SECRET, TOKEN, ApiCall, FakeWeComApi, WeComSender
from tests.materials_support import shifted_config

USERS = {"方广成": "FangGC", "王永辉": "wangyh", "王晓芳": "wangxf"}
BY_MOBILE = {"13860508184": "daicy"}  # 戴超颖 has no userid in config: found by mobile at start
JPEG = b"\xff\xd8\xff\xe0" + b"fake-jpeg" * 100


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

    def say(self, userid: str, text: str, expect: str) -> ApiCall:
        before = len(self.api.sent(userid))
        assert self.wecom.text(userid, text) == (200, "")
        return self.api.wait_sent(userid, expect, after=before)

    def event(self, userid: str, event: str, created: int, **fields: str) -> None:
        extra = "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in fields.items())
        xml = (f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><FromUserName><![CDATA[{userid}]]>"
               f"</FromUserName><CreateTime>{created}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
               f"<Event><![CDATA[{event}]]></Event>{extra}<AgentID>{AGENT_ID}</AgentID></xml>")
        assert self.wecom.post(xml) == (200, "")


def _config(tmp: Path) -> Path:
    # The final deadline 20 days ahead (the process's clock is real): a picture is a material for it, and no
    # reminder falls due while the tests run.
    text = shifted_config(tmp, ahead=20).read_text(encoding="utf-8")
    for name, userid in USERS.items():
        line = f'name = "{name}"\n'
        text = text.replace(line, f'{line}wecom_userid = "{userid}"\n')
    path = tmp / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(tmp: Path, api: FakeWeComApi, port: int, **extra: str) -> dict[str, str]:
    return clean_env(
        BOT_CONFIG=str(_config(tmp)), BOT_DATABASE_URL=f"sqlite:///{tmp / 'bot.db'}", BOT_LOG_LEVEL="INFO",
        BOT_MATERIALS_DIR=str(tmp / "materials"), BOT_WEB_LISTEN="off",
        WECOM_CORP_ID=CORP_ID, WECOM_AGENT_ID=str(AGENT_ID), WECOM_SECRET=SECRET, WECOM_TOKEN=TOKEN,
        WECOM_ENCODING_AES_KEY=AES_KEY, WECOM_API_BASE_URL=api.base_url, WECOM_LISTEN=f"127.0.0.1:{port}",
        NO_PROXY="127.0.0.1", no_proxy="127.0.0.1", **extra,
    )


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bot]:
    tmp = tmp_path_factory.mktemp("wecom-features")
    port = _free_port()
    with FakeWeComApi(mobiles=BY_MOBILE) as api:
        api.media["pic-1"] = JPEG
        process = BotProcess("wecom-features", _env(tmp, api, port), tmp)
        try:
            process.start()
            yield Bot(process, api, WeComSender(f"http://127.0.0.1:{port}/wecom/callback"), tmp / "bot.db")
        finally:
            code = process.stop()
        assert code == 0, process.log()


def test_the_menu_is_set_at_start_and_a_click_runs_its_command(bot: Bot) -> None:
    menu = bot.api.wait_for(lambda calls: next((c for c in calls if c.path == "menu/create"), None))
    assert menu.query["agentid"] == str(AGENT_ID)
    names = [b["name"] for b in menu.body["button"]] + [
        s["name"] for b in menu.body["button"] for s in b.get("sub_button", [])]
    assert {"汇总", "导出", "日程", "帮助"} <= set(names)
    before = len(bot.api.sent("FangGC"))
    bot.event("FangGC", "click", 1692070001, EventKey="汇总")
    assert "市公安局累计" in bot.api.wait_sent("FangGC", "累计", after=before).text


def test_an_ambiguous_report_is_a_card_and_a_press_books_once(bot: Bot) -> None:
    before = len(bot.api.calls)
    assert bot.wecom.text("wangxf", "寄递渠道查获侵权货物 3") == (200, "")
    card_call = bot.api.wait_for(lambda calls: next(
        (c for c in calls[before:] if c.body.get("msgtype") == "template_card" and c.touser == "wangxf"), None))
    card = card_call.body["template_card"]
    assert card["card_type"] == "button_interaction"
    keys = [b["key"] for b in card["button_list"]]
    assert keys == ["1 3", "2 3"]
    assert bot.bookings("wangxf") == 0  # nothing booked on a guess

    sent = len(bot.api.sent("wangxf"))
    bot.event("wangxf", "template_card_event", 1692070100, EventKey="1 3", TaskId=card["task_id"],
              CardType="button_interaction", ResponseCode="rc-first")
    assert "+3 批次" in bot.api.wait_sent("wangxf", "已记录", after=sent).text
    update = bot.api.wait_for(lambda calls: next(
        (c for c in calls if c.path == "message/update_template_card"), None))
    assert update.body["response_code"] == "rc-first" and update.body["userids"] == ["wangxf"]
    assert update.body["button"]["replace_name"].startswith("已选择：1.")
    assert bot.bookings("wangxf") == 1

    # A second press on the same card (another button, a new ResponseCode): nothing is booked, and it says so.
    sent = len(bot.api.sent("wangxf"))
    bot.event("wangxf", "template_card_event", 1692070200, EventKey="2 3", TaskId=card["task_id"],
              CardType="button_interaction", ResponseCode="rc-second")
    assert "没有重复记录" in bot.api.wait_sent("wangxf", "已经处理过了", after=sent).text
    bot.say("wangxf", "记录", "最近的记录")  # handled after the press: anything it booked would show
    assert bot.bookings("wangxf") == 1


def test_a_picture_is_downloaded_and_handed_to_the_core(bot: Bot) -> None:
    xml = (f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><FromUserName><![CDATA[FangGC]]></FromUserName>"
           "<CreateTime>1692064900</CreateTime><MsgType><![CDATA[image]]></MsgType>"
           "<PicUrl><![CDATA[http://127.0.0.1/p.jpg]]></PicUrl><MediaId><![CDATA[pic-1]]></MediaId>"
           f"<MsgId>{bot.wecom.new_msg_id()}</MsgId><AgentID>{AGENT_ID}</AgentID></xml>")
    before = len(bot.api.sent("FangGC"))
    assert bot.wecom.post(xml) == (200, "")
    reply = bot.api.wait_sent("FangGC", "已收到图片", after=before).text
    assert "图片视频资料" in reply, reply  # a checklist line of the sender's department (report materials)
    fetched = bot.api.wait_for(lambda calls: next((c for c in calls if c.path == "media/get"), None))
    assert fetched.query["media_id"] == "pic-1"


def test_enter_agent_greets_at_most_once_a_day(bot: Bot) -> None:
    before = len(bot.api.sent("wangyh"))
    bot.event("wangyh", "enter_agent", 1692071000)
    assert "王永辉，您好" in bot.api.wait_sent("wangyh", "您好", after=before).text
    bot.event("wangyh", "enter_agent", 1692071500)  # opened again the same day
    bot.say("wangyh", "日程", "")  # answered after the second visit: a second greeting would come before
    greetings = [c for c in bot.api.sent("wangyh")[before:] if "，您好！直接发" in c.text]
    assert len(greetings) == 1


def test_contacts_are_found_by_mobile_and_admins_get_who_is_missing(bot: Bot) -> None:
    bot.api.wait_for(lambda calls: any(c.path == "user/getuserid" for c in calls))
    assert "戴超颖" in bot.say("daicy", "开始", "您好").text  # no userid typed anywhere
    missing = bot.api.wait_sent("wangyh", "通讯录里没有找到")
    assert "陈明栋" in missing.text and "戴超颖" not in missing.text


def test_userids_compare_case_insensitively(bot: Bot) -> None:
    assert "市公安局累计" in bot.say("fanggc", "汇总", "累计").text  # config spells it FangGC


def test_60020_at_start_is_named_in_one_log_line(tmp_path: Path) -> None:
    with FakeWeComApi(blocked_ip="203.0.113.7") as api:
        process = BotProcess("wecom-60020", _env(tmp_path, api, _free_port()), tmp_path)
        try:
            process.start()
        finally:
            process.stop()
    lines = [line for line in process.log().splitlines() if "企业微信启动检查失败" in line]
    assert len(lines) == 1, process.log()
    assert "60020" in lines[0] and "企业可信IP" in lines[0] and "trusted IPs" in lines[0]


def test_the_proxy_is_honoured_and_a_cgi_bin_base_url_works(tmp_path: Path) -> None:
    port = _free_port()
    with FakeWeComApi() as api, FakeProxy() as proxy:
        env = _env(tmp_path, api, port, HTTP_PROXY=proxy.url, http_proxy=proxy.url)
        env.update(NO_PROXY="", no_proxy="", WECOM_API_BASE_URL=api.base_url + "/cgi-bin/")  # as copied from docs
        process = BotProcess("wecom-proxy", env, tmp_path)
        try:
            process.start()
            proxy.wait_for(f"GET {api.base_url}/cgi-bin/gettoken?")
            proxy.wait_for(f"GET {api.base_url}/cgi-bin/agent/get?")
            sender = WeComSender(f"http://127.0.0.1:{port}/wecom/callback")
            assert sender.text("FangGC", "汇总") == (200, "")
            api.wait_sent("FangGC", "市公安局累计")
            proxy.wait_for(f"POST {api.base_url}/cgi-bin/message/send?")
        finally:
            assert process.stop() == 0, process.log()
    assert "企业微信启动检查失败" not in process.log()
