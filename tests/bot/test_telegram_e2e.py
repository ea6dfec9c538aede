"""End to end: the real `python -m bot run` process against a fake Bot API server on 127.0.0.1.

One bot process serves the whole module (start-up costs about a second); every test uses its own
Telegram users, so the tests do not depend on each other. Nothing sleeps: each step waits for the
call it expects from the bot, with a timeout. No Telegram account and no internet are needed.
"""

from __future__ import annotations

import io
import itertools
import json
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from tests.fakes.process import PROJECT, BotProcess, clean_env
from tests.fakes.telegram_api import Call, FakeBotApi

TOKEN = "123456:TEST-token"  # the shape of a token, but no real one: Telegram's have 35 characters after ':'
CODE = re.compile(r"[A-Z2-9]{4}-[A-Z2-9]{4}")
OUT = ("sendMessage", "sendDocument", "editMessageText")
GROUP_ID = -1001234567890
GROUP: dict[str, Any] = {"id": GROUP_ID, "type": "supergroup", "title": "专项行动工作群"}


def bot_env(api_url: str, workdir: Path, **extra_env: str) -> dict[str, str]:
    """The bot's environment: this fake server, a fresh database, and DEBUG logs (the token must not show)."""
    return clean_env(TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_BASE_URL=api_url,
                     BOT_DATABASE_URL=f"sqlite:///{workdir / 'bot.db'}", BOT_LOG_LEVEL="DEBUG", **extra_env)


def start_bot(api_url: str, workdir: Path, **extra_env: str) -> BotProcess:
    """Start `python -m bot run` and wait for its READY line."""
    bot = BotProcess("telegram", bot_env(api_url, workdir, **extra_env), workdir).start()
    assert "telegram" in bot.ready
    return bot


@pytest.fixture(scope="module")
def api() -> Iterator[FakeBotApi]:
    fake = FakeBotApi(TOKEN)
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def bot(api: FakeBotApi, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcess]:
    running = start_bot(api.url, tmp_path_factory.mktemp("telegram"))
    yield running
    assert running.stop() == 0, running.log()[-3000:]


_callback_ids = itertools.count(1)


class TgUser:
    """A Telegram user; their private chat with the bot has their user id as chat id, as in Telegram."""

    def __init__(self, api: FakeBotApi, user_id: int, first_name: str = "测试") -> None:
        self.api, self.id = api, user_id
        self.user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name,
                                     "language_code": "zh-hans"}
        self.chat: dict[str, Any] = {"id": user_id, "type": "private", "first_name": first_name}
        self.last_update_id = 0

    def _send(self, content: dict[str, Any], chat: dict[str, Any] | None = None, twice: bool = False) -> int:
        chat = chat or self.chat
        mark = self.api.mark()
        message = {"message_id": self.api.next_message_id(chat["id"]), "date": int(time.time()), "chat": chat,
                   "from": self.user, **content}
        self.last_update_id = self.api.push({"message": message}, twice=twice)
        return mark

    def say(self, text: str, chat: dict[str, Any] | None = None, twice: bool = False) -> int:
        """Send a text; return the mark to wait from."""
        content: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        return self._send(content, chat, twice)

    def share_contact(self, phone: str, owner: int | None = None, forwarded: bool = False) -> int:
        """Share a contact card: by default the user's own (the request_contact button)."""
        content: dict[str, Any] = {"contact": {"phone_number": phone, "first_name": "某人",
                                               "user_id": self.id if owner is None else owner}}
        if forwarded:
            content["forward_origin"] = {"type": "user", "date": int(time.time()) - 60,
                                         "sender_user": {"id": 555, "is_bot": False, "first_name": "别人"}}
        return self._send(content)

    def send_document(self, filename: str, data: bytes) -> int:
        """Send a file, as Telegram delivers it: a document with a file id to fetch."""
        file_id = f"f{self.id}-{len(self.api.files)}"
        self.api.files[file_id] = data
        return self._send({"document": {"file_id": file_id, "file_unique_id": file_id, "file_name": filename,
                                        "file_size": len(data)}})

    def press(self, keyboard_message: dict[str, Any], button: dict[str, Any]) -> int:
        mark = self.api.mark()
        self.api.push({"callback_query": {"id": f"cq{next(_callback_ids)}", "from": self.user,
                                          "message": keyboard_message, "chat_instance": f"ci{self.id}",
                                          "data": button["callback_data"]}})
        return mark

    def wait(self, contains: str, since: int, chat_id: int | None = None) -> Call:
        """The bot's first delivered message (or edit, or document) to the chat since the mark with the text."""
        chat = self.id if chat_id is None else chat_id
        return self.api.wait_for(
            lambda c: c.status == 200 and c.method in OUT and c.chat_id == chat and contains in c.text, since
        )

    def answer(self, since: int) -> Call:
        return self.api.wait_for(lambda c: c.method == "answerCallbackQuery", since)


def registered(api: FakeBotApi, user_id: int, phone: str, department: str) -> TgUser:
    """A user bound by sharing their own contact, after the greeting and the indicator list."""
    user = TgUser(api, user_id)
    user.wait(f"{department}的填报项目", user.share_contact(phone))
    return user


def test_the_command_menu_is_set_in_chinese(bot: BotProcess, api: FakeBotApi) -> None:
    menu = {c["command"]: c["description"] for c in api.commands["default"]}
    assert list(menu) == ["start", "help", "list", "total", "history", "undo", "export", "deadlines"]
    assert all(re.search(r"[\u4e00-\u9fff]", d) for d in menu.values())
    assert [c["command"] for c in api.commands["all_group_chats"]] == ["help"]


def test_registration_by_the_users_own_contact(bot: BotProcess, api: FakeBotApi) -> None:
    user = TgUser(api, 1001)
    ask = user.wait("分享手机号", user.say("你好"))
    assert ask.params["reply_markup"]["keyboard"] == [[{"text": "分享手机号", "request_contact": True}]]
    assert ask.params["reply_markup"]["one_time_keyboard"] is True
    mark = user.share_contact("+86 136 6698 7053")  # 方广成 in 附件1, written as phones show it
    greeting = user.wait("方广成（市公安局），您好", mark)
    assert greeting.params["reply_markup"] == {"remove_keyboard": True}
    listing = user.wait("市公安局的填报项目", mark)
    assert "1. 查处网络违法案件：0 件" in listing.text


def test_a_forwarded_or_foreign_contact_is_refused(bot: BotProcess, api: FakeBotApi) -> None:
    user = TgUser(api, 1002)
    user.wait("只能用您本人的手机号", user.share_contact("13385099438", owner=4242))  # someone else's card
    user.wait("只能用您本人的手机号", user.share_contact("13385099438", forwarded=True))
    refusal = user.wait("分享手机号", user.say("/total"))  # still a stranger: sees nothing
    assert "累计" not in refusal.text


def test_a_binding_code_works_once(bot: BotProcess, api: FakeBotApi) -> None:
    cli = subprocess.run([sys.executable, "-m", "bot", "invite", "王永辉"], cwd=PROJECT, env=bot.env,
                         capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0, cli.stderr
    found = CODE.search(cli.stdout)
    assert found and "前有效" in cli.stdout
    admin = TgUser(api, 1003)
    admin.wait("王永辉（市市场监管局），您好", admin.say(found.group().lower().replace("-", " ")))
    invite = admin.wait("李勤额的绑定码", admin.say("/invite 李勤额"))
    code = CODE.search(invite.text)
    assert code
    first, second = TgUser(api, 1004), TgUser(api, 1005)
    greeting = first.wait("李勤额（市委网信办），您好", first.say(code.group()))
    assert greeting.params["reply_markup"] == {"remove_keyboard": True}
    refusal = second.wait("已经用过了", second.say(code.group()))
    assert refusal.params["reply_markup"]["keyboard"][0][0]["request_contact"] is True
    second.wait("绑定码不对", second.say("ABCD-EFGH"))


def test_a_report_is_booked_and_totalled(bot: BotProcess, api: FakeBotApi) -> None:
    user = registered(api, 1006, "17671325280", "市邮政管理局")  # 肖方侃
    user.wait("查处违法违规行为 +3 次，累计 3 次", user.say("查处违法违规行为 3"))
    user.wait("累计 4 次", user.say("1 1"))
    user.wait("1. 查处违法违规行为：4 次", user.say("/total"))


def test_an_ambiguous_report_is_resolved_by_a_button_once(bot: BotProcess, api: FakeBotApi) -> None:
    user = registered(api, 1007, "13507563828", "三明海关")  # 王晓芳
    question = user.wait("请选一个", user.say("寄递渠道查获侵权货物 3"))
    keyboard = question.result
    buttons = [row[0] for row in keyboard["reply_markup"]["inline_keyboard"]]
    assert [b["text"] for b in buttons] == ["1. 寄递渠道查获侵权货物（批次）", "2. 寄递渠道查获侵权货物（件）"]
    mark = user.press(keyboard, buttons[1])
    edit = api.wait_for(lambda c: c.method == "editMessageText", mark)
    assert edit.params["message_id"] == keyboard["message_id"] and "reply_markup" not in edit.params
    assert "已选择：2. 寄递渠道查获侵权货物（件）" in edit.text and "累计 3 件" in edit.text
    user.answer(mark)
    for button in (buttons[1], buttons[0]):  # the same keyboard again: a double tap, or the other choice
        again = user.press(keyboard, button)
        assert "已经记过" in user.answer(again).params["text"]
    totals = user.wait("三明海关累计", user.say("/total"))
    assert "1. 寄递渠道查获侵权货物：0 批次" in totals.text and "2. 寄递渠道查获侵权货物：3 件" in totals.text


def test_export_sends_the_xlsx_as_a_document(bot: BotProcess, api: FakeBotApi) -> None:
    user = registered(api, 1008, "13906983469", "市通信管理办")  # 伊贤琦
    mark = user.say("/export")
    document = api.wait_for(lambda c: c.method == "sendDocument" and c.chat_id == user.id, mark)
    filename, data = document.files["document"]
    assert filename.endswith(".xlsx") and re.search(r"[\u4e00-\u9fff]", document.params.get("caption", ""))
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    assert "统计表" in workbook.sheetnames


def test_a_redelivered_update_books_once(bot: BotProcess, api: FakeBotApi) -> None:
    user = registered(api, 1009, "13385099438", "省药监局三明办")  # 陈明栋
    mark = user.say("1 2", twice=True)
    user.wait("累计 2 个次", mark)
    # The copy is either dropped before the core (it is fetched while the first is in hand, or after it was
    # acknowledged) or answered 已经记过了 by the ledger: never booked twice, never confirmed twice.
    user.wait("1. 屏蔽或关闭网站：2 个次", user.say("/total"))
    confirmations = [c for c in api.since(mark) if c.method == "sendMessage" and "累计 2 个次" in c.text]
    assert len(confirmations) == 1


def test_reports_from_many_accounts_at_once_are_each_booked_and_answered(bot: BotProcess, api: FakeBotApi) -> None:
    # Six accounts of one contact send at the same moment: the dispatcher hands them over as a group and their
    # bookings share a commit (bot/dispatcher.py); each account still gets its own confirmation, once.
    users = [registered(api, 1301 + n, "13906983469", "市通信管理办") for n in range(6)]  # 伊贤琦
    marks = [user.say(f"1 {n + 1}") for n, user in enumerate(users)]
    for n, (user, mark) in enumerate(zip(users, marks, strict=True)):
        reply = user.wait("已记录", mark)
        assert f"+{n + 1} " in reply.text, reply.text
        assert sum(c.method == "sendMessage" and c.chat_id == user.id and "已记录" in c.text
                   for c in api.since(mark)) == 1
    assert "：21 " in users[0].wait("累计", users[0].say("/total")).text


def test_in_a_group_only_help_is_answered(bot: BotProcess, api: FakeBotApi) -> None:
    member = registered(api, 1010, "13666987053", "市公安局")  # 方广成 again, from another account
    mark = member.say("/help@sanming_test_bot", chat=GROUP)
    member.wait("私聊", mark, chat_id=GROUP_ID)
    member.say("1 3", chat=GROUP)
    member.say("/total", chat=GROUP)
    member.say("/list", chat=GROUP)
    member.wait("私聊", member.say("/help", chat=GROUP), chat_id=GROUP_ID)  # updates are handled in order
    to_group = [c for c in api.since(mark) if c.method in OUT and c.chat_id == GROUP_ID]
    assert len(to_group) == 2 and all("私聊" in c.text for c in to_group)
    member.wait("1. 查处网络违法案件：0 件", member.say("/total"))


def test_an_edited_message_changes_nothing(bot: BotProcess, api: FakeBotApi) -> None:
    user = registered(api, 1011, "17671325280", "市邮政管理局")
    mark = api.mark()
    api.push({"edited_message": {"message_id": 1, "date": int(time.time()), "edit_date": int(time.time()),
                                 "chat": user.chat, "from": user.user, "text": "1 100"}})
    user.wait("修改已发出的消息不会改动数据", mark)


def test_flood_control_and_network_errors_are_retried(bot: BotProcess, api: FakeBotApi) -> None:
    api.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    api.fail_next("sendMessage", 502, "Bad Gateway")
    user = TgUser(api, 1012)
    mark = user.say("你好")
    user.wait("分享手机号", mark)
    assert [c.status for c in api.since(mark) if c.method == "sendMessage"] == [429, 502, 200]


def test_a_failure_is_logged_with_the_update_id_and_apologised_for(bot: BotProcess, api: FakeBotApi) -> None:
    api.fail_next("sendMessage", 400, "Bad Request: can't parse entities")  # not retried: it would fail again
    user = TgUser(api, 1013)
    mark = user.say("你好")
    apology = user.wait("抱歉，出了点问题", mark)
    assert "Traceback" not in apology.text and "Error" not in apology.text
    logged = bot.log().split(f"update {user.last_update_id} failed", 1)  # logged before the apology was sent
    assert len(logged) == 2 and "can't parse entities" in logged[1].lower()


def test_the_token_is_never_logged(bot: BotProcess) -> None:
    log = bot.log()
    assert "<TELEGRAM_BOT_TOKEN>" in log  # at DEBUG, PTB and httpx log URLs: the filter was at work
    assert TOKEN not in log and TOKEN.split(":")[1] not in log


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_webhook_mode(tmp_path: Path) -> None:
    api = FakeBotApi(TOKEN)
    url = api.start()
    port = free_port()
    config = tmp_path / "config.toml"
    config.write_text((PROJECT / "config.toml").read_text(encoding="utf-8") + (
        f'\n[telegram]\nwebhook_url = "https://bot.example.test/tg-hook"\nlisten = "127.0.0.1"\nport = {port}\n'
    ), encoding="utf-8")
    webhook_bot = start_bot(url, tmp_path, BOT_CONFIG=str(config))
    try:
        assert api.webhook["url"] == "https://bot.example.test/tg-hook"
        secret = api.webhook["secret_token"]
        assert secret not in webhook_bot.log() and "<TELEGRAM_WEBHOOK_SECRET>" in webhook_bot.log()
        update = {"update_id": 1, "message": {"message_id": 1, "date": int(time.time()), "text": "你好",
                                              "chat": {"id": 2001, "type": "private", "first_name": "甲"},
                                              "from": {"id": 2001, "is_bot": False, "first_name": "甲"}}}

        def post(token: str) -> int:
            request = urllib.request.Request(f"http://127.0.0.1:{port}/tg-hook", json.dumps(update).encode(),
                                             {"Content-Type": "application/json",
                                              "X-Telegram-Bot-Api-Secret-Token": token})
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    return int(response.status)
            except urllib.error.HTTPError as exc:
                return exc.code

        assert post("wrong") == 403
        mark = api.mark()
        assert post(secret) == 200
        api.wait_for(lambda c: c.method == "sendMessage" and "分享手机号" in c.text, mark)
    finally:
        code = webhook_bot.stop()
        api.stop()
    assert code == 0, webhook_bot.log()[-3000:]


def test_a_rejected_token_stops_the_bot_without_showing_it(tmp_path: Path) -> None:
    api = FakeBotApi("654321:OTHER-token")  # answers 401 Unauthorized to every other token
    try:
        run = subprocess.run([sys.executable, "-m", "bot", "run"], cwd=PROJECT, env=bot_env(api.start(), tmp_path),
                             capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    finally:
        api.stop()
    assert run.returncode != 0 and "READY" not in run.stdout
    assert "拒绝了 TELEGRAM_BOT_TOKEN" in run.stderr
    assert TOKEN.split(":")[1] not in run.stderr + run.stdout


def test_an_admin_sends_the_contact_list_as_a_file(bot: BotProcess, api: FakeBotApi) -> None:
    cli = subprocess.run([sys.executable, "-m", "bot", "invite", "张秀齐"], cwd=PROJECT, env=bot.env,
                         capture_output=True, text=True, timeout=60)
    code = CODE.search(cli.stdout)
    assert code, cli.stderr
    admin = TgUser(api, 1020)
    admin.wait("张秀齐（市市场监管局），您好", admin.say(code.group()))
    sheet = openpyxl.Workbook()
    ws = sheet.active
    assert ws is not None
    ws.append(["单位", "姓名", "部门", "联系方式", "传真", "电子邮箱"])
    ws.append(["市公安局", "赵新", "网安支队", "13800000077", "", ""])
    buffer = io.BytesIO()
    sheet.save(buffer)
    admin.wait("新增1人", admin.send_document("名单.xlsx", buffer.getvalue()))
    newcomer = TgUser(api, 1021)
    newcomer.wait("赵新（市公安局），您好", newcomer.share_contact("13800000077"))
    police = registered(api, 1022, "13666987053", "市公安局")
    # A member's file is a report material (kept for the next deadline, or refused when none is open), never imported.
    assert "导入" not in police.wait("文件", police.send_document("名单.xlsx", buffer.getvalue())).text
