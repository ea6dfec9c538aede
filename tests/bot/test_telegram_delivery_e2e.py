"""End to end on Telegram: a failing Bot API neither loses a confirmation nor doubles one.

The real bot against the fake Bot API: a sendMessage answered 502 once is retried under the one policy
(bot/delivery.py) and the user gets one confirmation; a button pressed so late that answerCallbackQuery fails
("query is too old") still confirms its booking; a user who blocked the bot (403 Forbidden) is reported to the
admins once and shown in 进度.
"""

from __future__ import annotations

import io
import subprocess
import sys
import threading
from collections.abc import Iterator

import openpyxl
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


def _admin(api: FakeBotApi, bot: BotProcess, user_id: int, name: str = "张秀齐") -> TgUser:
    cli = subprocess.run([sys.executable, "-m", "bot", "invite", name], cwd=PROJECT, env=bot.env,
                         capture_output=True, text=True, timeout=60)
    code = CODE.search(cli.stdout)
    assert cli.returncode == 0 and code, cli.stderr
    admin = TgUser(api, user_id)
    admin.wait(f"{name}（市市场监管局），您好", admin.say(code.group()))
    return admin


def _contact_list() -> bytes:
    sheet = openpyxl.Workbook()
    ws = sheet.active
    assert ws is not None
    ws.append(["单位", "姓名", "部门", "联系方式", "传真", "电子邮箱"])
    ws.append(["市公安局", "钱多", "网安支队", "13800000078", "", ""])
    buffer = io.BytesIO()
    sheet.save(buffer)
    return buffer.getvalue()


def test_a_slow_file_never_keeps_other_users_waiting_and_one_users_messages_stay_in_order(
    bot: BotProcess, api: FakeBotApi
) -> None:
    """Before, updates were handled one at a time: while one admin's file downloaded (or a 1M-row rejection
    report went out), every other contact waited."""
    admin = _admin(api, bot, 2005)
    other = registered(api, 2006, "13385099438", "省药监局三明办")  # 陈明栋
    gate = threading.Event()
    api.slow_files[f"f{admin.id}-{len(api.files)}"] = gate
    try:
        mark = admin.send_document("名单.xlsx", _contact_list())
        later = admin.say("/total")  # the same user: answered only after the file
        other.wait("累计", other.say("/total"))  # another user: answered while the file is still downloading
        assert not [c for c in api.since(mark) if c.chat_id == admin.id and c.method == "sendMessage"]
    finally:
        gate.set()
    report = admin.wait("新增1人", mark)
    total = admin.wait("各单位报数情况", later)
    assert api.calls.index(report) < api.calls.index(total)


def test_a_document_without_file_size_is_size_checked_while_downloading(bot: BotProcess, api: FakeBotApi) -> None:
    admin = _admin(api, bot, 2007, "王永辉")
    file_id = f"f{admin.id}-{len(api.files)}"
    api.unsized.add(file_id)
    mark = api.mark()
    admin.api.files[file_id] = b"PK" + b"\0" * (21 * 2**20)
    admin._send({"document": {"file_id": file_id, "file_unique_id": file_id, "file_name": "名单.xlsx"}})
    refusal = admin.wait("文件太大", mark)
    assert "20MB" in refusal.text
    assert "Traceback" not in bot.log()
