"""End to end: materials through the real `python -m bot run` and the fake Bot API on 127.0.0.1.

A document and a photo become checklist lines; a refused type and a file over the cap are answered and not
kept; 材料包 sends one zip with the renamed files, the tables and 清单.xlsx. The campaign is moved so that the
final deadline is five days ahead (the process's clock is real).
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest

from tests.bot.test_telegram_e2e import TgUser
from tests.fakes.process import PROJECT, BotProcess, clean_env
from tests.fakes.telegram_api import FakeBotApi
from tests.materials_support import shifted_config

TOKEN = "123456:TEST-token"


@pytest.fixture(scope="module")
def api() -> Iterator[FakeBotApi]:
    fake = FakeBotApi(TOKEN)
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("materials")


@pytest.fixture(scope="module")
def bot(api: FakeBotApi, workdir: Path) -> Iterator[BotProcess]:
    config = shifted_config(workdir, edits={"max_mb = 10": "max_mb = 1"})  # pictures: 1 MB in this test
    env = clean_env(TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_BASE_URL=api.url, BOT_CONFIG=str(config),
                    BOT_DATABASE_URL=f"sqlite:///{workdir / 'bot.db'}", BOT_MATERIALS_DIR=str(workdir / "materials"),
                    BOT_WEB_LISTEN="off")
    running = BotProcess("materials", env, workdir).start()
    yield running
    assert running.stop() == 0, running.log()[-3000:]


def registered(api: FakeBotApi, user_id: int, phone: str, department: str) -> TgUser:
    user = TgUser(api, user_id)
    user.wait(f"（{department}），您好", user.share_contact(phone))
    return user


def send_photo(user: TgUser, data: bytes, caption: str = "") -> int:
    file_id = f"p{user.id}-{len(user.api.files)}"
    user.api.files[file_id] = data
    small = {"file_id": file_id + "s", "file_unique_id": file_id + "s", "width": 90, "height": 60}
    large = {"file_id": file_id, "file_unique_id": file_id, "width": 1280, "height": 853, "file_size": len(data)}
    content: dict[str, object] = {"photo": [small, large]}  # Telegram lists the sizes, largest last
    if caption:
        content["caption"] = caption
    user.api.files[file_id + "s"] = data[:10]
    return user._send(content)


def kept(workdir: Path) -> list[Path]:
    return sorted(p for p in (workdir / "materials").rglob("*") if p.is_file())


def test_a_document_and_a_photo_become_checklist_lines(bot: BotProcess, api: FakeBotApi, workdir: Path) -> None:
    police = registered(api, 3001, "13666987053", "市公安局")  # 方广成
    mark = police._send({"document": _doc(api, police, "中期总结.docx", b"summary text"), "caption": "总结报告"})
    reply = police.wait("已收到文件", mark)
    assert "市公安局-总结报告-" in reply.text and "总结报告 1/1 已交" in reply.text
    reply = police.wait("已收到图片", send_photo(police, b"\xff\xd8\xff fake jpeg bytes"))
    assert "市公安局-图片视频资料-" in reply.text and "图片视频资料 1/1 已交" in reply.text
    listing = police.wait("市公安局的材料", police.say("材料"))
    assert "✓ 总结报告 1/1 已交" in listing.text and "✗ 先进经验做法 0/1 未交" in listing.text
    names = [p.name for p in kept(workdir)]
    assert any(n.startswith("市公安局-总结报告-") and n.endswith("-1.docx") for n in names)
    assert any(n.startswith("市公安局-图片视频资料-") and n.endswith("-1.jpg") for n in names)
    # The same bytes again are kept once.
    mark = police._send({"document": _doc(api, police, "again.docx", b"summary text"), "caption": "总结报告"})
    police.wait("已经收到过", mark)
    assert len(kept(workdir)) == len(names)


def test_a_document_without_caption_asks_which_kind(bot: BotProcess, api: FakeBotApi) -> None:
    trade = registered(api, 3002, "13860508184", "市商务局")  # 戴超颖
    question = trade.wait("这是哪类材料", trade._send({"document": _doc(api, trade, "经验.pdf", b"%PDF practice")}))
    buttons = [b for row in question.params["reply_markup"]["inline_keyboard"] for b in row]
    assert [b["text"] for b in buttons] == ["总结报告", "典型案例", "图片视频", "先进经验", "处罚决定书"]
    button = next(b for b in buttons if b["text"] == "先进经验")
    mark = trade.press(question.result, button)
    trade.wait("先进经验做法 1/1 已交", mark)


def test_refused_files_are_not_kept(bot: BotProcess, api: FakeBotApi, workdir: Path) -> None:
    post = registered(api, 3003, "17671325280", "市邮政管理局")  # 肖方侃
    before = kept(workdir)
    reply = post.wait("不能接收", post._send({"document": _doc(api, post, "tool.exe", b"MZ binary"),
                                             "caption": "总结报告"}))
    assert "材料没有保存" in reply.text
    reply = post.wait("文件太大", send_photo(post, b"\xff" * (1024 * 1024 + 10)))
    assert "最大 1 MB" in reply.text
    assert kept(workdir) == before
    post.wait("✗ 总结报告 0/1 未交", post.say("材料"))


def test_the_pack_holds_renamed_files_tables_and_the_list(bot: BotProcess, api: FakeBotApi) -> None:
    police = registered(api, 3004, "13666987053", "市公安局")
    police.wait("已收到文件", police._send({"document": _doc(api, police, "案例.docx", b"practice 2"),
                                          "caption": "先进经验"}))
    admin = admin_of(api, bot, 3005)
    mark = admin.say("材料包 final")
    document = api.wait_for(lambda c: c.method == "sendDocument" and c.chat_id == admin.id, mark)
    filename, data = document.files["document"]
    assert filename.startswith("材料包-final-") and filename.endswith(".zip")
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = zf.namelist()
        assert any(n.startswith("市公安局/市公安局-总结报告-") for n in names), names
        assert any(n.startswith("市公安局/市公安局-先进经验做法-") for n in names)
        assert any(n.startswith("市公安局/") and n.endswith(".xlsx") and "统计表" in n for n in names)
        assert any("/" not in n and "全市" in n for n in names)
        sheet = openpyxl.load_workbook(io.BytesIO(zf.read("清单.xlsx"))).active
        assert sheet is not None
        rows = [[c for c in row] for row in sheet.iter_rows(min_row=3, values_only=True)]
    police_rows = {r[1]: r for r in rows if r[0] == "市公安局"}
    assert police_rows["总结报告"][4] == "已交" and police_rows["总结报告"][6] == "方广成"
    assert "市公安局-总结报告-" in police_rows["总结报告"][5]
    assert police_rows["图片视频资料"][4] in ("已交", "未交")
    market = {r[1]: r for r in rows if r[0] == "市市场监管局"}
    assert market["典型案例"][3] == 2 and market["典型案例"][8] == "典型案例（还差2件）"


def admin_of(api: FakeBotApi, bot: BotProcess, user_id: int) -> TgUser:
    """王永辉 (admin, only a landline in 附件1) binds with a code from `python -m bot invite`."""
    out = subprocess.run([sys.executable, "-m", "bot", "invite", "王永辉"], cwd=PROJECT, env=bot.env, text=True,
                         capture_output=True, check=True).stdout
    code = re.search(r"[A-Z2-9]{4}-[A-Z2-9]{4}", out)
    assert code is not None, out
    user = TgUser(api, user_id)
    user.wait("王永辉（市市场监管局），您好", user.say(code.group(0)))
    return user


def _doc(api: FakeBotApi, user: TgUser, filename: str, data: bytes) -> dict[str, object]:
    file_id = f"d{user.id}-{len(api.files)}"
    api.files[file_id] = data
    return {"file_id": file_id, "file_unique_id": file_id, "file_name": filename, "file_size": len(data)}
