"""Report materials in chat: a file sent is a material of the sender's department for the next deadline.

材料 shows the checklist, 撤回材料 N withdraws a file, 材料类别 N 类别 says what a file is (the buttons send it),
材料包 (admins) sends the zip, 看板 / 上传 answer with a sign-in link to the desk.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Set as AbstractSet
from pathlib import Path

from campaign import Campaign, Deadline, Department
from campaign.materials import base_url, kind_in, kind_of, web_settings
from handlers import schedule, scoping, texts
from handlers.context import Context
from handlers.messages import Attachment, Choice, Reply
from reminders.dispatch import route
from store import checklist, desk_auth, directory, materials, outbox, reach
from store.contacts_xlsx import read_contacts
from store.database import Database
from store.material_pack import build_pack

# The choice after a file without a caption: (button label, material key).
BUTTONS = (("总结报告", "summary"), ("典型案例", "case"), ("图片视频", "media"), ("先进经验", "practice"),
           ("处罚决定书", "penalty"))
MEDIA = {"image": "图片", "video": "视频", "document": "文件"}
MAX_CHAT_ZIP = 45 * 1024 * 1024  # chat apps take files up to about 50 MB; bigger zips go through the desk


def looks_like_contacts(document: Attachment) -> bool:
    """An xlsx whose sheet has the 附件1 header (单位, 姓名): an admin's contact list, not a material."""
    if not document.filename.lower().endswith(".xlsx"):
        return False
    try:
        records, problems = read_contacts(document.data)
    except ValueError:
        return False
    return bool(records) or not any(p.row == 0 for p in problems)


def _today(ctx: Context) -> dt.date:
    return ctx.now.astimezone(ctx.campaign.tz).date()


def _deadline_line(deadline: Deadline) -> str:
    return f"截止：{texts.day(deadline.date)}（{deadline.title}）"


def _lines_text(ctx: Context, deadline: Deadline, department: Department) -> list[str]:
    with ctx.db.read() as s:
        lines = materials.lines_for(s, ctx.campaign, deadline.collection, department)
    return [("✓ " if line.done else "✗ ") + line.text for line in lines]


def intake(ctx: Context, document: Attachment) -> list[Reply]:
    """Keep a file the sender sent as a material and answer with the checklist line it changed."""
    deadline = checklist.next_deadline(ctx.campaign, ctx.department, _today(ctx))
    if deadline is None:
        return [Reply("现在没有需要报送材料的期限，文件没有保存。发“日程”查看安排。")]
    kind = kind_in(document.caption) if document.caption.strip() else None
    if kind is None and document.kind in ("image", "video"):
        kind = "media"
    msg = ctx.msg
    try:
        saved = materials.save(
            ctx.db, ctx.campaign, collection=deadline.collection, department=ctx.department, kind=kind or "",
            filename=document.filename, data=document.data, media=document.kind, contact_id=ctx.person.id,
            source=f"{msg.transport}:{msg.chat_id}:{msg.message_id}", now=ctx.now,
        )
    except materials.Refused as exc:
        return [Reply(str(exc))]
    f = saved.file
    if saved.duplicate:
        head = f"这个{MEDIA.get(document.kind, '文件')}已经收到过（{f.stored_name}），不会重复保存。"
    else:
        what = MEDIA.get(document.kind, "文件")
        head = f"已收到{what}：{f.stored_name}（编号{f.id}，原名 {texts.quote(f.original_name, 40)}）"
    if not f.kind:
        lines = [head, "这是哪类材料？请点下面的按钮，或发“材料类别 " + str(f.id) + " 总结报告”。"]
        choices = tuple(Choice(label, f"材料类别 {f.id} {label}") for label, _ in BUTTONS)
        # Transports without buttons show each choice's text (the console prints it; WeCom sends the words).
        return [Reply("\n".join(lines), choices=choices)]
    return [Reply("\n".join([head, *_changed(ctx, deadline, f.kind), _deadline_line(deadline),
                             f"发错了可以发“撤回材料 {f.id}”。"]))]


def _changed(ctx: Context, deadline: Deadline, kind: str) -> list[str]:
    with ctx.db.read() as s:
        lines = materials.lines_for(s, ctx.campaign, deadline.collection, ctx.department)
    shown = [line for line in lines if line.key == kind]
    if not shown:
        return [f"（{checklist.label(kind)}不在本期限的清单里，已作为其他材料保存。）"]
    return [("✓ " if line.done else "✗ ") + line.text for line in shown]


def choose_kind(ctx: Context) -> list[Reply]:
    """材料类别 N 类别: say which material file N is (the buttons after a file send this)."""
    parts = ctx.args.split()
    kind = kind_of(parts[1]) if len(parts) == 2 and parts[0].isdigit() else None
    if kind is None:
        kinds = "、".join(b for b, _ in BUTTONS)
        return [Reply(f"格式：材料类别 编号 类别，例如：材料类别 12 总结报告。类别：{kinds}")]
    found = _own_file(ctx, int(parts[0]))
    if isinstance(found, Reply):
        return [found]
    f = materials.set_kind(ctx.db, ctx.campaign, found.id, kind, ctx.person.id, ctx.now)
    deadline = next(d for d in ctx.campaign.deadlines if d.key == f.collection)
    return [Reply("\n".join([f"已记为{checklist.label(kind)}：{f.stored_name}", *_changed(ctx, deadline, kind)]))]


def _own_file(ctx: Context, material_id: int) -> materials.MaterialFile | Reply:
    with ctx.db.read() as s:
        f = materials.get(s, material_id)
    if f is None or (f.contact_id != ctx.person.id and not ctx.person.is_admin):
        return Reply(f"没有您发送的编号为{material_id}的材料。发“材料”查看已交的文件和编号。")
    return f


def checklist_reply(ctx: Context) -> list[Reply]:
    """材料: the sender's checklist for the next deadline; admins see every department's (材料 单位: one)."""
    campaign = ctx.campaign
    if ctx.person.is_admin and ctx.args:
        dep = campaign.find_department(ctx.args)
        if dep is None:
            return [Reply(f"没有找到单位「{ctx.args}」。例如：材料 公安局")]
        return [Reply(_department_text(ctx, dep))]
    if ctx.person.is_admin:
        return [Reply(_overview(ctx))]
    return [Reply(_department_text(ctx, ctx.department))]


def _department_text(ctx: Context, dep: Department) -> str:
    deadline = checklist.next_deadline(ctx.campaign, dep, _today(ctx))
    if deadline is None:
        return f"{dep.short}：报送材料的期限都已过去。"
    lines = [f"{dep.short}的材料（{deadline.title}）", _deadline_line(deadline), *_lines_text(ctx, deadline, dep)]
    with ctx.db.read() as s:
        kept = materials.files(s, deadline.collection, dep.key)
    if kept:
        lines.append("已交文件：")
        lines += [f"  编号{f.id} {f.stored_name}（{f.sender}）" for f in kept[-15:]]
        lines.append("撤回：撤回材料 编号。发文件时在说明里写类别（如“总结报告”）。")
    else:
        lines.append("直接把文件、图片或视频发给我即可，说明里写类别（如“总结报告”）。")
    return "\n".join(lines)


def _overview(ctx: Context) -> str:
    today = _today(ctx)
    lines: list[str] = ["各单位材料报送情况："]
    shown: set[str] = set()
    with ctx.db.read() as s:
        for dep in ctx.campaign.departments:
            deadline = checklist.next_deadline(ctx.campaign, dep, today)
            if deadline is None:
                continue
            if deadline.key not in shown:
                shown.add(deadline.key)
                lines.append(f"【{deadline.title}】{_deadline_line(deadline)}")
            got = materials.lines_for(s, ctx.campaign, deadline.collection, dep)
            missing = checklist.missing(got)
            state = "齐全" if not missing else "缺：" + "、".join(missing)
            counts = "，".join(f"{line.label} {line.have}/{line.need}" for line in got)
            lines.append(f"· {dep.short}：{state}（{counts}）")
    if len(lines) == 1:
        return "报送材料的期限都已过去。"
    lines.append("发“材料 单位”看某单位的文件；“材料包”下载全部材料。")
    return "\n".join(lines)


def withdraw(ctx: Context) -> list[Reply]:
    """撤回材料 N: withdraw one of one's own files (kept in the audit trail, no longer counted)."""
    number = ctx.args.strip().lstrip("#")
    if not number.isdigit():
        return [Reply("格式：撤回材料 编号，例如：撤回材料 12。发“材料”查看编号。")]
    found = _own_file(ctx, int(number))
    if isinstance(found, Reply):
        return [found]
    if found.withdrawn_at is not None:
        return [Reply(f"编号{found.id}（{found.stored_name}）已经撤回过了。")]
    f = materials.withdraw(ctx.db, found.id, ctx.person.id, ctx.now)
    deadline = next(d for d in ctx.campaign.deadlines if d.key == f.collection)
    return [Reply("\n".join([f"已撤回：{f.stored_name}（不再计入，记录保留）。", *_changed(ctx, deadline, f.kind)]))]


def pack(ctx: Context) -> list[Reply]:
    """材料包 [期限] (admins): every department's files and tables, and 清单.xlsx, in one zip."""
    campaign = ctx.campaign
    if ctx.args:
        deadline = checklist.find_deadline(campaign, ctx.args)
        if deadline is None:
            keys = "、".join(f"{d.key}（{d.date.month}月{d.date.day}日）" for d in campaign.deadlines)
            return [Reply(f"没有找到期限「{ctx.args}」。可以写：{keys}")]
    else:
        deadline = checklist.next_deadline(campaign, campaign.department(campaign.coordinator), _today(ctx)) or next(
            (d for d in reversed(campaign.deadlines) if checklist.source_of(campaign, d).materials), None)
        if deadline is None:
            return [Reply("没有需要报送材料的期限。")]
    with tempfile.TemporaryDirectory(prefix="pack-") as tmp:
        built = build_pack(ctx.db, campaign, deadline, Path(tmp) / "pack.zip", _today(ctx))
        if built.path.stat().st_size > MAX_CHAT_ZIP:
            return [Reply("材料包太大，聊天里发不了。请发“看板”打开网页下载。")]
        data = built.path.read_bytes()
    caption = f"{deadline.title} 材料包：{built.departments}个单位，{built.files}个文件，含统计表和清单.xlsx"
    return [Reply(caption, file=Attachment(built.filename, data, caption))]


def desk_link(ctx: Context) -> list[Reply]:
    """看板 (admins) / 上传 (members): a single-use link to the desk, valid for 15 minutes."""
    web = web_settings(ctx.campaign.web)
    if web.listen == "off" and not web.public_url:
        return [Reply("网页看板现在没有开启，打不开。请联系管理员；材料也可以直接发给我。")]
    with ctx.db.session() as s:
        token = desk_auth.issue_link(s, ctx.person.id, ctx.now)
    url = f"{base_url(web)}/login/{token}"
    what = "看板（进度、统计表、材料）" if ctx.person.is_admin else "上传材料的网页"
    return [Reply(f"{what}：\n{url}\n链接只能用一次，15分钟内有效；请不要转发给别人。")]


def nudge(ctx: Context) -> list[Reply]:
    """催报: remind the units of the sender's scope that have not reported counts, then those missing materials."""
    counts = schedule.nudge(ctx)
    if not ctx.transports:
        return counts  # it says nothing could be sent
    among = set(scoping.own_scope(ctx).members)
    sent, unreachable = remind_missing(ctx.db, ctx.campaign, ctx.now, ctx.transports, among)
    reply = (f"材料催报：{sent}人（每人每天最多一次）。" if sent
             else "材料：没有需要催报的人（都已交齐，或今天已经催过）。")
    if unreachable:
        reply += "\n" + texts.unreachable(unreachable)
    return [*counts, Reply(reply)]


def remind_missing(db: Database, campaign: Campaign, now: dt.datetime, transports: AbstractSet[str],
                   among: AbstractSet[str] | None = None) -> tuple[int, list[str]]:
    """Queue a 催报 naming what is missing to each contact of each department that lacks materials.

    The chat's 催报 and the desk's button both call this; the outbox key (deadline, day, contact) claims each
    message once, so two presses, two admins or two instances send it once.
    """
    today = now.astimezone(campaign.tz).date()
    sent, unreachable = 0, []
    with db.session() as s:
        people = directory.people(s)
        for dep in campaign.departments:
            if among is not None and dep.key not in among:
                continue
            deadline = checklist.next_deadline(campaign, dep, today)
            if deadline is None:
                continue
            missing = checklist.missing(materials.lines_for(s, campaign, deadline.collection, dep))
            if not missing:
                continue
            text = (f"【催报】{deadline.title}，{texts.day(deadline.date)}截止。贵单位还缺：{'、'.join(missing)}。\n"
                    "直接把文件、图片或视频发给我（说明里写类别），或发“上传”在网页上传；发“材料”查看清单。")
            for person in (p for p in people if p.department == dep.key):
                chat = route(s, person, transports)
                if chat is None or reach.is_refused(s, *chat):
                    unreachable.append(person.name)
                    continue
                sent += outbox.enqueue(s, key=f"materials-nudge:{deadline.collection}:{today}#{person.id}",
                                       contact_id=person.id, transport=chat[0], chat_id=chat[1], text=text, now=now)
    return sent, unreachable
