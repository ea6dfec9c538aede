"""Material files on a real database (SQLite and PostgreSQL) and a real folder: kept once, refused, withdrawn."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app import App
from handlers.messages import Attachment, Incoming
from reminders.calendar import calendar_from_config
from reminders.dispatch import enqueue_planned
from reminders.plan import build_plan
from store import materials
from store.models import OutboxRow
from tests.support import SHANGHAI, Chat, FakeClock


@pytest.fixture(autouse=True)
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    target = tmp_path / "materials"
    monkeypatch.setenv("BOT_MATERIALS_DIR", str(target))
    yield target


def files_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def send_file(chat: Chat, name: str, data: bytes, caption: str = "", kind: str = "document") -> str:
    msg = Incoming(chat.transport, chat.user, chat.user, f"f{name}{len(data)}{caption}", "",
                   document=Attachment(name, data, caption, kind))
    return "\n".join(r.text for r in chat.app.core.handle(msg))


def test_a_file_is_kept_once_under_a_made_name(app: App, clock: FakeClock, folder: Path) -> None:
    clock.now = dt.datetime(2023, 11, 10, 10, 0, tzinfo=SHANGHAI)
    police = Chat(app, "方广成")
    answer = send_file(police, "../../etc/passwd.docx", b"summary", "中期总结报告")
    assert "已收到文件：市公安局-总结报告-20231110-1.docx" in answer and "总结报告 1/1 已交" in answer
    assert "截止：2023年11月20日" in answer
    kept = [p.relative_to(folder).as_posix() for p in files_in(folder)]
    assert kept == ["final/gaj/市公安局-总结报告-20231110-1.docx"]
    assert "已经收到过" in send_file(police, "copy.docx", b"summary", "总结报告")
    assert len(files_in(folder)) == 1
    second = send_file(police, "v2.docx", b"summary v2", "总结报告")
    assert "市公安局-总结报告-20231110-2.docx" in second and "总结报告 2/1 已交" in second


def test_refused_type_size_and_empty(app: App, clock: FakeClock, folder: Path) -> None:
    clock.now = dt.datetime(2023, 11, 10, 10, 0, tzinfo=SHANGHAI)
    post = Chat(app, "肖方侃")
    assert "不能接收“.exe”类型" in send_file(post, "setup.exe", b"MZ", "总结报告")
    assert "不能接收“没有扩展名”类型" in send_file(post, "README", b"text", "总结报告")
    big = b"\0" * (10 * 1024 * 1024 + 1)
    assert "文件太大（10 MB），图片最大 10 MB" in send_file(post, "p.jpg", big, kind="image")
    assert "没有收到文件内容" in send_file(post, "empty.pdf", b"", "总结报告")
    assert files_in(folder) == []
    assert "✗ 总结报告 0/1 未交" in post.say("材料")


def test_kind_by_choice_withdraw_and_counts(app: App, clock: FakeClock, folder: Path) -> None:
    clock.now = dt.datetime(2023, 11, 10, 10, 0, tzinfo=SHANGHAI)
    admin = Chat(app, "王永辉")
    asked = send_file(admin, "案例一.pdf", b"case one")
    assert "这是哪类材料" in asked and "市市场监管局-待分类-20231110-1.pdf" in asked
    number = asked.split("编号", 1)[1].split("，", 1)[0]
    chosen = admin.say(f"材料类别 {number} 典型案例")
    assert "已记为典型案例：市市场监管局-典型案例-20231110-1.pdf" in chosen and "典型案例 1/2 未交" in chosen
    assert [p.name for p in files_in(folder)] == ["市市场监管局-典型案例-20231110-1.pdf"]
    listing = admin.say("材料 市场监管局")
    assert "✗ 典型案例 1/2 未交" in listing and "✗ 行政处罚决定书 0/2 未交" in listing
    other = Chat(app, "方广成")
    assert "没有您发送的编号" in other.say(f"撤回材料 {number}")
    assert "已撤回" in admin.say(f"撤回材料 {number}") and "典型案例 0/2 未交" in admin.say("材料 市场监管局")
    assert "已经撤回过了" in admin.say(f"撤回材料 {number}")
    assert len(files_in(folder)) == 1  # the file stays for the audit trail
    assert "材料包" in admin.say("帮助")


def test_the_reminder_before_11_20_names_missing_materials(app: App, clock: FakeClock) -> None:
    clock.now = dt.datetime(2023, 11, 13, 9, 0, tzinfo=SHANGHAI)
    police, admin = Chat(app, "方广成", "telegram"), Chat(app, "王永辉", "telegram")
    send_file(police, "总结.docx", b"police summary", "总结报告")
    plan = build_plan(app.campaign, calendar_from_config({}, app.campaign.path))
    item = next(p for p in plan if p.id == "deadline:final:7")
    enqueue_planned(app.db, app.campaign, item, clock.now, {"telegram"})
    with app.db.session() as s:
        texts = {row.contact_id: row.text for row in s.scalars(select(OutboxRow))
                 if row.key.startswith("deadline:final:7#")}
    assert "贵单位还缺：统计表、图片视频资料、先进经验做法" in texts[police.person.id]
    assert ("贵单位还缺：总结报告、统计表、图片视频资料、典型案例（还差2件）、行政处罚决定书（还差2件）、先进经验做法"
            in texts[admin.person.id])


def test_materials_add_on_the_store(app: App, clock: FakeClock) -> None:
    clock.now = dt.datetime(2023, 8, 15, 10, 0, tzinfo=SHANGHAI)
    dep = app.campaign.department("wlj")
    saved = materials.save(app.db, app.campaign, collection="midterm", department=dep, kind="summary",
                           filename="a.pdf", data=b"pdf", media="document", contact_id=None, source="cli",
                           now=clock.now)
    assert saved.file.stored_name == "市文旅局-总结报告-20230815-1.pdf" and saved.file.sender == "命令行"
    with app.db.read() as s:
        lines = materials.lines_for(s, app.campaign, "midterm", dep)
    assert [line.text for line in lines] == ["总结报告 1/1 已交"]  # 市文旅局 has no rows: no 统计表 owed
