"""看板 / 上传 answer with a sign-in link only where the desk runs."""

from __future__ import annotations

import re

import pytest

from bot.app import App
from tests.support import Chat


def test_a_link_when_the_desk_listens(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_WEB_LISTEN", "127.0.0.1:8090")
    reply = Chat(app, "王永辉").say("看板")
    assert re.search(r"http://127\.0\.0\.1:8090/login/[A-Za-z0-9_-]{20,}", reply), reply


def test_no_dead_link_when_the_desk_is_off(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_WEB_LISTEN", "off")
    monkeypatch.delenv("BOT_WEB_PUBLIC_URL", raising=False)
    reply = Chat(app, "方广成").say("上传")
    assert "http" not in reply and "没有开启" in reply, reply
