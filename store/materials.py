"""Material files: kept on disk by deadline and department, described in the database.

A file is written under folder/<deadline>/<department>/ with a name the bot makes (单位-材料-日期-序号.ext):
nothing the sender wrote becomes part of a path, only its suffix, and only when that suffix is an allowed
type. The same bytes sent twice for one deadline by one department are one row (UNIQUE collection,
department, sha256). A withdrawal marks the row and keeps the file, for the audit trail.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from campaign import Campaign, Department
from campaign.materials import Storage
from store import checklist, queries
from store.database import PROJECT, Database
from store.material_models import MaterialEvent, MaterialRow
from store.models import ContactRow, DepartmentRow

_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]+")


class Refused(Exception):
    """A file the bot does not keep; the message says why, in the sender's words."""


@dataclass(frozen=True)
class MaterialFile:
    id: int
    collection: str
    department: str  # department key
    kind: str
    seq: int
    stored_name: str
    original_name: str
    media: str
    size: int
    sha256: str
    sender: str  # contact name, or 命令行
    contact_id: int | None
    received_at: dt.datetime
    withdrawn_at: dt.datetime | None

    @property
    def label(self) -> str:
        return checklist.label(self.kind)


@dataclass(frozen=True)
class Saved:
    file: MaterialFile
    duplicate: bool  # these bytes were already there: nothing new was kept


def folder(storage: Storage) -> Path:
    """Where the files live: BOT_MATERIALS_DIR, else the configured folder (relative to the project)."""
    chosen = Path(os.environ.get("BOT_MATERIALS_DIR") or storage.folder)
    return chosen if chosen.is_absolute() else PROJECT / chosen


def suffix_of(filename: str) -> str:
    """The lower-case suffix of a sender's file name, e.g. ".docx"; "" when it has none that is plain."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    _, dot, ext = name.rpartition(".")
    return f".{ext.lower()}" if dot and ext.isascii() and ext.isalnum() and len(ext) <= 8 else ""


def check(storage: Storage, filename: str, size: int) -> str:
    """The file's suffix if the bot takes it; else Refused with the reason and what works."""
    suffix = suffix_of(filename)
    found = storage.class_of(suffix) if suffix else None
    if found is None:
        kinds = "、".join(t.lstrip(".") for t in storage.all_types[:14])
        raise Refused(f"不能接收“{suffix or '没有扩展名'}”类型的文件，材料没有保存。可以发送：{kinds} 等。")
    if size == 0:
        raise Refused("没有收到文件内容（文件是空的，或超过聊天能传的20 MB），材料没有保存。"
                      "大文件请发“上传”在网页上传。")
    if size > found.max_bytes:
        raise Refused(f"文件太大（{_mb(size)}），{_CLASS_WORD[found.name]}最大 {_mb(found.max_bytes)}，材料没有保存。"
                      "请压缩后再发，或在网页（发“上传”获取链接）上传。")
    return suffix


_CLASS_WORD = {"documents": "文档", "pictures": "图片", "video": "视频"}


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB".replace(".0 MB", " MB")


def safe_part(text: str) -> str:
    """A name part without path separators or control characters."""
    cleaned = _UNSAFE.sub("_", text).strip(" .")
    return cleaned or "_"


def stored_name(department: Department, kind: str, day: dt.date, seq: int, suffix: str) -> str:
    return f"{safe_part(department.short)}-{checklist.label(kind)}-{day:%Y%m%d}-{seq}{suffix}"


def path_of(storage: Storage, f: MaterialFile) -> Path:
    return folder(storage) / safe_part(f.collection) / safe_part(f.department) / f.stored_name


def save(db: Database, campaign: Campaign, *, collection: str, department: Department, kind: str, filename: str,
         data: bytes, media: str, contact_id: int | None, source: str, now: dt.datetime) -> Saved:
    """Keep one file (or find it kept already). Refused when its type or size is not allowed: nothing is kept."""
    suffix = check(campaign.storage, filename, len(data))
    digest = hashlib.sha256(data).hexdigest()
    original = safe_part(filename.replace("\\", "/").rsplit("/", 1)[-1])[:255]
    with db.session() as s:
        dep_id = _department_id(s, department.key)
        row = s.scalar(select(MaterialRow).where(MaterialRow.collection == collection,
                                                 MaterialRow.department_id == dep_id, MaterialRow.sha256 == digest))
        if row is not None:
            if row.withdrawn_at is None:
                return Saved(_file(s, row), True)
            row.withdrawn_at = None  # sent again after a withdrawal: it counts again
            s.add(MaterialEvent(material_id=row.id, action="resubmitted", detail=source, contact_id=contact_id, at=now))
            s.flush()
            return Saved(_file(s, row), False)
        seq = _next_seq(s, collection, dep_id, kind)
        day = now.astimezone(campaign.tz).date()
        row = MaterialRow(collection=collection, department_id=dep_id, kind=kind, seq=seq,
                          stored_name=stored_name(department, kind, day, seq, suffix), original_name=original,
                          media=media, size=len(data), sha256=digest, contact_id=contact_id, source=source[:130],
                          received_at=now, withdrawn_at=None)
        target = folder(campaign.storage) / safe_part(collection) / safe_part(department.key) / row.stored_name
        try:
            with s.begin_nested():
                s.add(row)
                s.flush()
        except IntegrityError:
            # Another instance kept these bytes (or took this name) a moment ago.
            again = s.scalar(select(MaterialRow).where(MaterialRow.collection == collection,
                                                       MaterialRow.department_id == dep_id,
                                                       MaterialRow.sha256 == digest))
            if again is None:
                raise
            return Saved(_file(s, again), True)
        s.add(MaterialEvent(material_id=row.id, action="received", detail=f"{original} {source}",
                            contact_id=contact_id, at=now))
        _write(target, data)
        try:
            s.flush()
            saved = _file(s, row)
        except Exception:
            target.unlink(missing_ok=True)
            raise
    return Saved(saved, False)


def set_kind(db: Database, campaign: Campaign, material_id: int, kind: str, contact_id: int | None,
             now: dt.datetime) -> MaterialFile:
    """Say which material a file is; the file gets its name for that kind."""
    with db.session() as s:
        row = s.get(MaterialRow, material_id)
        if row is None:
            raise KeyError(material_id)
        if row.kind == kind:
            return _file(s, row)
        dep_key = s.scalar(select(DepartmentRow.key).where(DepartmentRow.id == row.department_id)) or ""
        old = folder(campaign.storage) / safe_part(row.collection) / safe_part(dep_key) / row.stored_name
        seq = _next_seq(s, row.collection, row.department_id, kind)
        day = row.received_at.astimezone(campaign.tz).date()
        row.kind, row.seq = kind, seq
        row.stored_name = stored_name(campaign.department(dep_key), kind, day, seq, suffix_of(row.stored_name))
        s.add(MaterialEvent(material_id=row.id, action="kind", detail=kind, contact_id=contact_id, at=now))
        s.flush()
        new = old.with_name(row.stored_name)
        if old.exists():
            os.replace(old, new)
        return _file(s, row)


def withdraw(db: Database, material_id: int, contact_id: int | None, now: dt.datetime) -> MaterialFile:
    with db.session() as s:
        row = s.get(MaterialRow, material_id)
        if row is None:
            raise KeyError(material_id)
        if row.withdrawn_at is None:
            row.withdrawn_at = now
            s.add(MaterialEvent(material_id=row.id, action="withdrawn", detail="", contact_id=contact_id, at=now))
            s.flush()
        return _file(s, row)


def get(session: Session, material_id: int) -> MaterialFile | None:
    row = session.get(MaterialRow, material_id)
    return _file(session, row) if row is not None else None


def files(session: Session, collection: str, department_key: str | None = None,
          include_withdrawn: bool = False) -> list[MaterialFile]:
    """The files of a deadline, oldest first; one department's or all."""
    query = (select(MaterialRow, DepartmentRow.key, ContactRow.name)
             .join(DepartmentRow, DepartmentRow.id == MaterialRow.department_id)
             .outerjoin(ContactRow, ContactRow.id == MaterialRow.contact_id)
             .where(MaterialRow.collection == collection).order_by(MaterialRow.id))
    if department_key is not None:
        query = query.where(DepartmentRow.key == department_key)
    if not include_withdrawn:
        query = query.where(MaterialRow.withdrawn_at.is_(None))
    return [_from_row(row, key, name) for row, key, name in session.execute(query)]


def registered(session: Session, campaign: Campaign, collection: str) -> set[str]:
    """Department keys that booked counts since the deadline before this one: their 统计表 is in the bot."""
    deadline = next(d for d in campaign.deadlines if d.key == collection)
    earlier = [d.date for d in campaign.deadlines if d.date < deadline.date and not d.materials_from]
    since = dt.datetime.combine(max(earlier, default=campaign.start), dt.time(0), campaign.tz)
    active = queries.last_bookings(session, since=since)
    ids = {id_: key for key, id_ in session.execute(select(DepartmentRow.key, DepartmentRow.id))}
    return {ids[i] for i in active if i in ids}


def lines_for(session: Session, campaign: Campaign, collection: str, department: Department,
              booked: Iterable[str] | None = None) -> list[checklist.Line]:
    deadline = next(d for d in campaign.deadlines if d.key == collection)
    done = set(booked) if booked is not None else registered(session, campaign, collection)
    kinds = [f.kind for f in files(session, collection, department.key)]
    return checklist.checklist(campaign, deadline, department, kinds, registered=department.key in done)


def _write(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    with partial.open("wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial, target)


def _department_id(session: Session, key: str) -> int:
    found = session.scalar(select(DepartmentRow.id).where(DepartmentRow.key == key))
    if found is None:
        raise KeyError(key)
    return found


def _next_seq(session: Session, collection: str, department_id: int, kind: str) -> int:
    top = session.scalar(select(func.max(MaterialRow.seq)).where(
        MaterialRow.collection == collection, MaterialRow.department_id == department_id, MaterialRow.kind == kind))
    return (top or 0) + 1


def _file(session: Session, row: MaterialRow) -> MaterialFile:
    key = session.scalar(select(DepartmentRow.key).where(DepartmentRow.id == row.department_id)) or ""
    name = session.scalar(select(ContactRow.name).where(ContactRow.id == row.contact_id)) if row.contact_id else None
    return _from_row(row, key, name)


def _from_row(row: MaterialRow, department: str, sender: str | None) -> MaterialFile:
    return MaterialFile(row.id, row.collection, department, row.kind, row.seq, row.stored_name, row.original_name,
                        row.media, row.size, row.sha256, sender or "命令行", row.contact_id, row.received_at,
                        row.withdrawn_at)


def missing_note(session: Session, campaign: Campaign, deadline_key: str | None, department_key: str) -> str:
    """For a reminder: the line naming what this department still misses for that deadline ("" if nothing)."""
    deadline = next((d for d in campaign.deadlines if d.key == deadline_key), None)
    department = next((d for d in campaign.departments if d.key == department_key), None)
    if deadline is None or department is None or not checklist.in_audience(deadline, department):
        return ""
    if not checklist.source_of(campaign, deadline).materials:
        return ""
    missing = checklist.missing(lines_for(session, campaign, deadline.collection, department))
    if not missing:
        return "\n贵单位的材料已交齐。"
    return f"\n贵单位还缺：{'、'.join(missing)}。直接把文件发给我（说明里写类别），发“材料”查看清单。"
