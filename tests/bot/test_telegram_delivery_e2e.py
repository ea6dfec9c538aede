"""End to end on Telegram: a failing Bot API neither loses a confirmation nor doubles one.

The real bot against the fake Bot API: a sendMessage answered 502 once is retried under the one policy
(bot/delivery.py) and the user gets one confirmation; a button pressed so late that answerCallbackQuery fails
("query is too old") still confirms its booking; a user who blocked the bot (403 Forbidden) is reported to the
admins once and shown in 进度.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.bot.test_telegram_e2e import CODE, TgUser, registered, start_bot
from tests.fakes.process import PROJECT, BotProcess
from tests.fakes.telegram_api import FakeBotApi

TOKEN = "123456:TEST-token"


@pytest.fixture(scope="module")
def api() -> Iterator[FakeBotApi]:
    fake = FakeBotApi(TOKEN)
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def bot(api: FakeBotApi, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcess]:
    running = start_bot(api.url, tmp_path_factory.mktemp("telegram-delivery"))
    yield running
    assert running.stop() == 0, running.log()[-3000:]


def test_a_send_failing_once_is_retried_and_confirmed_once(bot: BotProcess, api: FakeBotApi) -> None:
    user = registered(api, 2001, "17671325280", "市邮政管理局")  # 肖方侃
    api.fail_next("sendMessage", 502, "Bad Gateway")
    mark = user.say("查处违法违规行为 3")
    user.wait("累计 3 次", mark)
    user.wait("累计", user.say("/total"))
    confirmations = [c for c in api.since(mark) if c.method == "sendMessage" and c.status == 200
                     and "已记录" in c.text]
    assert len(confirmations) == 1
    assert any(c.status == 502 for c in api.since(mark))


def test_a_late_button_press_still_confirms_the_booking(bot: BotProcess, api: FakeBotApi) -> None:
    user = registered(api, 2002, "13507563828", "三明海关")  # 王晓芳
    question = user.wait("请选一个", user.say("寄递渠道查获侵权货物 3"))
    keyboard = question.result
    buttons = [row[0] for row in keyboard["reply_markup"]["inline_keyboard"]]
    api.fail_next("answerCallbackQuery", 400,
                  "Bad Request: query is too old and response timeout expired or query ID is invalid")
    mark = user.press(keyboard, buttons[1])
    edit = api.wait_for(lambda c: c.method == "editMessageText" and c.status == 200, mark)
    assert "累计 3 件" in edit.text
    assert not [c for c in api.since(mark) if "抱歉" in c.text]


def test_a_user_who_blocked_the_bot_is_reported_once_and_shown_in_progress(bot: BotProcess, api: FakeBotApi) -> None:
    cli = subprocess.run([sys.executable, "-m", "bot", "invite", "王永辉"], cwd=PROJECT, env=bot.env,
                         capture_output=True, text=True, timeout=60)
    code = CODE.search(cli.stdout)
    assert cli.returncode == 0 and code, cli.stderr
    admin = TgUser(api, 2003)
    admin.wait("王永辉（市市场监管局），您好", admin.say(code.group()))
    blocked = registered(api, 2004, "13666987053", "市公安局")  # 方广成
    api.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")
    mark = blocked.say("/total")
    note = admin.wait("消息无法送达", mark)
    assert "方广成" in note.text
    progress = admin.wait("报数进度", admin.say("进度"))
    assert "收不到机器人消息的" in progress.text and "方广成" in progress.text
    assert len([c for c in api.since(mark) if "消息无法送达" in c.text]) == 1
