"""python -m bot materials add|pack: materials from the command line, on the same store functions as the chat."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.app import App
from campaign import Deadline
from campaign.materials import kind_of
from handlers.people import find_contact
from store import checklist, materials
from store.material_pack import build_pack


def _deadline(app: App, text: str | None, department_key: str) -> Deadline | None:
    if text:
        return checklist.find_deadline(app.campaign, text)
    today = app.now().astimezone(app.campaign.tz).date()
    return checklist.next_deadline(app.campaign, app.campaign.department(department_key), today)


def add(app: App, args: argparse.Namespace) -> int:
    """Keep FILE as a material of the contact's department (for --deadline, or the next one)."""
    if not args.file or not args.name or not args.kind:
        print("用法：python -m bot materials add --as 姓名 --kind summary 文件", file=sys.stderr)
        return 2
    kind = kind_of(args.kind)
    if kind is None:
        print(f"没有材料类别「{args.kind}」。可用：summary 总结报告、table 统计表、media 图片视频资料、case 典型案例、"
              "penalty 行政处罚决定书、practice 先进经验做法", file=sys.stderr)
        return 2
    person = find_contact(app.campaign, app.db, args.name)
    if isinstance(person, str):
        print(person, file=sys.stderr)
        return 2
    deadline = _deadline(app, args.deadline, person.department)
    if deadline is None:
        print("没有找到需要报送材料的期限（--deadline final 或 11-20）。", file=sys.stderr)
        return 2
    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError as exc:
        print(f"无法读取文件：{exc}", file=sys.stderr)
        return 2
    suffix = materials.suffix_of(path.name)
    media = "image" if suffix in _types(app, "pictures") else "video" if suffix in _types(app, "video") else "document"
    try:
        saved = materials.save(app.db, app.campaign, collection=deadline.collection,
                               department=app.campaign.department(person.department), kind=kind, filename=path.name,
                               data=data, media=media, contact_id=person.id, source="cli", now=app.now())
    except materials.Refused as exc:
        print(exc, file=sys.stderr)
        return 1
    verb = "已经有了（未重复保存）" if saved.duplicate else "已保存"
    print(f"{verb}：{saved.file.stored_name}（编号{saved.file.id}，{deadline.title}）")
    return 0


def _types(app: App, name: str) -> tuple[str, ...]:
    return next((c.types for c in app.campaign.storage.classes if c.name == name), ())


def pack(app: App, args: argparse.Namespace) -> int:
    """Write the zip of a deadline's materials to --out."""
    deadline = _deadline(app, args.deadline, app.campaign.coordinator)
    if deadline is None:
        print(f"没有找到期限「{args.deadline or ''}」。可以写：" + "、".join(d.key for d in app.campaign.deadlines),
              file=sys.stderr)
        return 2
    today = app.now().astimezone(app.campaign.tz).date()
    out = Path(args.out) if args.out else Path(f"材料包-{deadline.collection}.zip")
    built = build_pack(app.db, app.campaign, deadline, out, today)
    print(f"已导出材料包：{out}（{built.departments}个单位，{built.files}个文件）")
    return 0
