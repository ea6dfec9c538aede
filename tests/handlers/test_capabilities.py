"""Handlers ask the sender's capabilities and the running transports; they never name a platform."""

from __future__ import annotations

from bot.app import App
from handlers.messages import Capabilities, Incoming
from tests.support import TELEGRAM_CAPS, Chat

DIRECTORY = Capabilities(directory_identity=True, buttons=True, send_files=True)


def _say(app: App, transport: str, user: str, text: str, caps: Capabilities) -> str:
    replies = app.core.handle(Incoming(transport, user, user, f"{user}-{text}", text, caps=caps))
    return "\n".join(r.text for r in replies)


def test_the_contact_card_is_offered_only_where_it_exists(app: App) -> None:
    assert "分享手机号" in _say(app, "telegram", "901", "你好", TELEGRAM_CAPS)
    plain = _say(app, "sms", "902", "你好", Capabilities())
    assert "分享手机号" not in plain and "绑定码" in plain


def test_an_unknown_directory_userid_is_refused_without_the_card(app: App) -> None:
    answer = _say(app, "dingtalk", "nobody", "查处网络违法案件 1", DIRECTORY)
    assert "不在名单中" in answer and "分享手机号" not in answer


def test_notify_says_so_when_no_transport_is_running(app: App) -> None:
    admin = Chat(app, "王永辉")
    app.core.transports = frozenset()
    reply = admin.say("通知 请今天登记数据")
    assert "没有发出" in reply and "已通知" not in reply
