"""Pure parts of the transports: the settings reader, WeCom cards, menu, start-up explanations, the hourly cap,
DingTalk's robot messages, and the capabilities each transport declares."""

from __future__ import annotations

import dataclasses
import urllib.parse
from typing import Any

import pytest

from bot import console, dingtalk, telegram, wecom
from bot.dingtalk_settings import DEFAULT_API_BASE_URL
from bot.dingtalk_settings import load_settings as dingtalk_settings
from bot.telegram_settings import load_settings as telegram_settings
from bot.wecom_api import WeComApiError
from bot.wecom_cards import card_of, fits_card, menu_buttons
from bot.wecom_check import explain
from bot.wecom_limit import MemberLimiter
from bot.wecom_settings import load_settings as wecom_settings
from campaign import Campaign, ConfigError
from handlers.messages import Attachment, Choice, Reply
from tests.fakes.wecom_api import AES_KEY

WECOM_ENV = {"WECOM_CORP_ID": "ww0123456789abcdef", "WECOM_AGENT_ID": "1000002", "WECOM_SECRET": "s",
             "WECOM_TOKEN": "t", "WECOM_ENCODING_AES_KEY": AES_KEY}
CHOICES = Reply("「寄递渠道查获侵权货物」对应2个项目，请选一个：", choices=(
    Choice("1. 寄递渠道查获侵权货物（批次）", "1 3"), Choice("2. 寄递渠道查获侵权货物（件）", "2 3")))


def with_section(campaign: Campaign, name: str, **values: Any) -> Campaign:
    return dataclasses.replace(campaign, sections={**campaign.sections, name: values})


@pytest.mark.parametrize(("section", "load", "env"), [
    ("wecom", wecom_settings, WECOM_ENV),
    ("telegram", telegram_settings, {"TELEGRAM_BOT_TOKEN": "123:abc"}),
    ("dingtalk", dingtalk_settings, {"DINGTALK_CLIENT_ID": "ding1", "DINGTALK_CLIENT_SECRET": "x"}),
])
def test_every_transport_refuses_unknown_keys_naming_file_and_key(campaign: Campaign, section: str, load: Any,
                                                                  env: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as err:
        load(with_section(campaign, section, webhok_url="typo"), env)
    assert (err.value.path, err.value.key) == (campaign.path, f"{section}.webhok_url")
    assert err.value.reason.startswith("unknown key")


def test_dingtalk_settings_defaults_and_the_secret_only_from_the_environment(campaign: Campaign) -> None:
    assert dingtalk_settings(campaign, {}) is None
    settings = dingtalk_settings(campaign, {"DINGTALK_CLIENT_ID": "ding1", "DINGTALK_CLIENT_SECRET": "x"})
    assert settings is not None
    assert (settings.robot_code, settings.api_base_url) == ("ding1", DEFAULT_API_BASE_URL)
    assert settings.oapi_base_url == "https://oapi.dingtalk.com" and "x" not in repr(settings)
    with pytest.raises(ConfigError) as err:
        dingtalk_settings(with_section(campaign, "dingtalk", client_secret="x"), {"DINGTALK_CLIENT_ID": "d"})
    assert err.value.key == "dingtalk.client_secret" and "DINGTALK_CLIENT_SECRET" in err.value.reason


@pytest.mark.parametrize("url", ["https://wx.gov.example", "https://wx.gov.example/", "https://wx.gov.example/cgi-bin",
                                 "https://wx.gov.example/cgi-bin/"])
def test_wecom_base_url_with_or_without_cgi_bin(campaign: Campaign, url: str) -> None:
    settings = wecom_settings(campaign, {**WECOM_ENV, "WECOM_API_BASE_URL": url})
    assert settings is not None and settings.api_base_url == "https://wx.gov.example"


def test_wecom_menu_from_config_is_checked(campaign: Campaign) -> None:
    settings = wecom_settings(with_section(campaign, "wecom", menu=["汇总", "记录"]), WECOM_ENV)
    assert settings is not None and settings.menu == ("汇总", "记录")
    with pytest.raises(ConfigError) as err:
        wecom_settings(with_section(campaign, "wecom", menu=["汇总", "报数吧"]), WECOM_ENV)
    assert err.value.key == "wecom.menu[1]"


def test_menu_buttons_keep_within_three_top_level_buttons() -> None:
    assert menu_buttons(("汇总", "帮助")) == [{"type": "click", "name": "汇总", "key": "汇总"},
                                             {"type": "click", "name": "帮助", "key": "帮助"}]
    buttons = menu_buttons(("汇总", "导出", "日程", "帮助"))
    assert len(buttons) == 3 and [b["name"] for b in buttons[2]["sub_button"]] == ["日程", "帮助"]


def test_a_reply_with_choices_becomes_a_button_card() -> None:
    assert fits_card(CHOICES) and not fits_card(Reply("x"))
    task, card = card_of(CHOICES, "t1")
    assert task == "t1" and card["card_type"] == "button_interaction"
    assert [(b["text"], b["key"]) for b in card["button_list"]] == [("选第1项", "1 3"), ("选第2项", "2 3")]
    assert "第1项：1. 寄递渠道查获侵权货物（批次）" in card["sub_title_text"]
    # The message above the card keeps the full labels; the buttons carry the choices.
    assert wecom.render(CHOICES, carded=True) == [CHOICES.text + "\n第1项：1. 寄递渠道查获侵权货物（批次）"
                                                  "\n第2项：2. 寄递渠道查获侵权货物（件）"]
    many = Reply("x", choices=tuple(Choice(str(n), str(n)) for n in range(7)))
    assert not fits_card(many) and "回复：6" in wecom.render(many)[0]


@pytest.mark.parametrize(("code", "words"), [(40013, "企业ID"), (40001, "Secret"), (60020, "企业可信IP")])
def test_start_up_failures_are_explained_in_chinese_and_english(code: int, words: str) -> None:
    line = explain(WeComApiError("gettoken", code, "msg"), "https://qyapi.weixin.qq.com")
    assert words in line and str(code) in line and " / WeCom start-up check failed: " in line
    assert "\n" not in line


def test_network_errors_name_the_proxy_in_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://user:pw@10.0.0.8:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    line = explain(OSError("connection refused"), "https://qyapi.weixin.qq.com")
    assert "经代理 http://10.0.0.8:3128" in line and "via proxy http://10.0.0.8:3128" in line
    assert "pw" not in line  # the proxy's password is never logged
    monkeypatch.setenv("NO_PROXY", "qyapi.weixin.qq.com")
    assert "未使用代理" in explain(OSError("refused"), "https://qyapi.weixin.qq.com")


def test_the_member_cap_holds_per_minute_and_per_hour() -> None:
    now = [0.0]
    limiter = MemberLimiter(limit=30, window=61.0, clock=lambda: now[0], hourly=1000)
    delays = []
    for _ in range(1001):
        delays.append(limiter.reserve("u"))
    assert delays[29] == 0 and delays[30] == pytest.approx(61.0)
    times = sorted(d for d in delays)
    # 1000 sends fit in the first hour's slots; the 1001st waits for the hour to pass.
    assert times[-1] >= 3601.0
    assert all(sum(1 for t in times if start <= t < start + 60) <= 30 for start in range(0, 4000, 61))


def test_dingtalk_buttons_are_an_action_card_sending_the_choice() -> None:
    ((key, param),) = dingtalk.messages(CHOICES)
    assert key == "sampleActionCard2" and param["actionTitle2"] == "2. 寄递渠道查获侵权货物（件）"
    prefix = "dtmd://dingtalkclient/sendMessage?content="
    assert urllib.parse.unquote(param["actionURL2"].removeprefix(prefix)) == "2 3"
    assert dingtalk.messages(Reply("好")) == [("sampleText", {"content": "好"})]
    filed = dingtalk.messages(Reply("", file=Attachment("a.xlsx", b"PK", caption="统计表")))
    assert filed == [("sampleText", {"content": "统计表"})]


def test_dingtalk_incoming_reads_the_directory_userid() -> None:
    msg = dingtalk.incoming({"msgId": "m1", "senderStaffId": "User01", "conversationType": "1", "msgtype": "text",
                             "text": {"content": " 1 3 "}, "senderNick": "方"})
    assert msg is not None and (msg.sender_id, msg.text, msg.private) == ("User01", "1 3", True)
    assert msg.caps.directory_identity and not msg.caps.contact_card
    assert dingtalk.incoming({"msgId": "m2", "msgtype": "text", "text": {"content": "x"}}) is None


def test_each_transport_declares_what_it_can_do() -> None:
    assert telegram.CAPS.contact_card and not telegram.CAPS.directory_identity
    assert wecom.CAPS.directory_identity and wecom.CAPS.buttons and wecom.CAPS.receive_media
    assert not wecom.CAPS.receive_files  # a self-built WeCom app receives no files
    assert dingtalk.CAPS.directory_identity and dingtalk.CAPS.buttons and dingtalk.CAPS.send_files
    assert console.CAPS.send_files and not console.CAPS.buttons
