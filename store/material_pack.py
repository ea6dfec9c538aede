"""材料包: one zip of a deadline's materials, written to a file member by member (never held in memory).

Layout: a folder per department with its renamed files and its 附件2 table, the city table at the top,
and 清单.xlsx (department × material: count, files, who, when, missing).
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from campaign import Campaign, Deadline
from store import checklist, materials
from store.database import Database
from store.statistics import build_export


@dataclass(frozen=True)
class Pack:
    path: Path
    filename: str  # how the download is called: 专项行动材料-final-20231120.zip
    departments: int
    files: int


def pack_name(campaign: Campaign, deadline: Deadline, as_of: dt.date) -> str:
    return f"材料包-{materials.safe_part(deadline.collection)}-{as_of:%Y%m%d}.zip"


def build_pack(db: Database, campaign: Campaign, deadline: Deadline, out: Path, today: dt.date) -> Pack:
    """Write the zip of `deadline`'s materials to `out`; tables are as of today (at most the deadline day)."""
    as_of = min(today, deadline.date)
    collection = deadline.collection
    with db.read() as s:
        kept = materials.files(s, collection)
        booked = materials.registered(s, campaign, collection)
    source = checklist.source_of(campaign, deadline)
    by_department = {d.key: [f for f in kept if f.department == d.key] for d in campaign.departments}
    count = 0
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for dep in campaign.departments:
            if not checklist.in_audience(source, dep):
                continue
            top = materials.safe_part(dep.short)
            for f in by_department[dep.key]:
                path = materials.path_of(campaign.storage, f)
                if path.is_file():
                    # Copied in chunks from disk; pictures and videos are compressed already: stored as they are.
                    method = zipfile.ZIP_STORED if f.media in ("image", "video") else zipfile.ZIP_DEFLATED
                    zf.write(path, f"{top}/{f.stored_name}", compress_type=method)
                    count += 1
            if dep.group is not None:
                table = build_export(db, campaign, dep, as_of)
                zf.writestr(f"{top}/{table.filename}", table.data)
        city = build_export(db, campaign, None, as_of)
        zf.writestr(city.filename, city.data)
        zf.writestr("清单.xlsx", status_workbook(campaign, source, by_department, booked, as_of))
    return Pack(out, pack_name(campaign, deadline, as_of), sum(1 for v in by_department.values() if v), count)


def status_workbook(campaign: Campaign, deadline: Deadline, by_department: dict[str, list[materials.MaterialFile]],
                    booked: set[str], as_of: dt.date) -> bytes:
    """清单.xlsx: one row per department and material."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "清单"
    ws.append([f"{deadline.title} 材料清单（截至{as_of.year}年{as_of.month}月{as_of.day}日）"])
    ws["A1"].font = Font(bold=True, size=13)
    header = ["单位", "材料", "已交份数", "应交份数", "状态", "文件", "报送人", "报送时间", "缺少"]
    ws.append(header)
    for cell in ws[2]:
        cell.font = Font(bold=True)
    for dep in campaign.departments:
        if not checklist.in_audience(deadline, dep):
            continue
        files = by_department.get(dep.key, [])
        lines = checklist.checklist(campaign, deadline, dep, [f.kind for f in files], registered=dep.key in booked)
        for line in lines:
            own = [f for f in files if f.kind == line.key]
            ws.append([
                dep.short, line.label, line.have, line.need, "已交" if line.done else "未交",
                "\n".join(f.stored_name for f in own), "、".join(sorted({f.sender for f in own})),
                "\n".join(f"{f.received_at.astimezone(campaign.tz):%Y-%m-%d %H:%M}" for f in own),
                line.missing,
            ])
        pending = [f for f in files if f.kind not in {line.key for line in lines}]
        if pending:
            ws.append([dep.short, "其他/待分类", len(pending), 0, "", "\n".join(f.stored_name for f in pending),
                       "、".join(sorted({f.sender for f in pending})), "", ""])
    for column, width in zip("ABCDEFGHI", (16, 14, 9, 9, 7, 44, 12, 18, 18), strict=True):
        ws.column_dimensions[column].width = width
    for row in ws.iter_rows(min_row=3):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
