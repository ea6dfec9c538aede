"""The contact list (附件1 layout) as xlsx: read what departments send in, write it back out.

Pure code: bytes in, records and problems out (and the reverse). Nothing here decides who a contact is;
matching a sheet's 单位 to a configured department is the caller's job (Campaign.find_department).
"""

from __future__ import annotations

import io
import re
import warnings
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from xml.etree.ElementTree import iterparse

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter, range_boundaries
from openpyxl.worksheet._read_only import ReadOnlyWorksheet
from openpyxl.worksheet.worksheet import Worksheet

from store.export import set_text, unescape_excel_text

HEADER = ("单位", "姓名", "部门", "联系方式", "传真", "电子邮箱", "县（市、区）")
WIDTHS = (30.0, 10.0, 26.0, 26.0, 12.0, 24.0, 12.0)
HEADER_SEARCH_ROWS = 10
MAX_FILE_BYTES = 10 * 1024 * 1024  # a contact list is a few KB; refuse anything that could be a zip bomb
# Caps on what the file holds, checked before and while parsing: a 4.7 KB sheet claiming cell XFD1048576, one
# highly compressed huge cell, or a million identical rows once cost minutes and gigabytes. A contact list of
# every county department is a few hundred rows of six short columns.
MAX_UNCOMPRESSED = 20 * 1024 * 1024  # all parts of the zip together, from its directory
MAX_PARTS = 500  # parts of the zip
MAX_ROWS = 5000  # sheet rows read
MAX_COLUMNS = 30  # columns read; anything further right is ignored
MAX_CELL = 500  # characters in one cell
MAX_MERGED = 10_000  # merged ranges in one sheet
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # the old binary .xls/.doc container
_SPACES = re.compile(r"[\s\u3000*＊:：]+")


@dataclass(frozen=True)
class ContactRecord:
    department: str  # as written in the sheet (unit name, e.g. 市公安局 or 三明市公安局)
    name: str
    section: str
    phone: str  # 联系方式 as written (mobile or landline)
    fax: str
    email: str
    county: str = ""  # 县（市、区） as written; empty for the city's own departments


@dataclass(frozen=True)
class RowProblem:
    row: int  # 1-based sheet row number; 0 for a problem with the sheet as a whole
    reason: str  # short Chinese reason, e.g. "缺少姓名"


@dataclass(frozen=True)
class _Columns:
    """0-based column indexes of one header row."""

    department: int | None
    name: int | None
    section: int | None
    phones: tuple[int, ...]  # 手机 and 办公电话 may be separate columns: both are kept
    fax: int | None
    email: int | None
    county: int | None = None

    @property
    def missing(self) -> list[str]:
        return [label for label, index in (("单位", self.department), ("姓名", self.name)) if index is None]

    @property
    def found(self) -> int:
        plain = (self.department, self.name, self.section, self.fax, self.email, self.county)
        return sum(index is not None for index in plain) + len(self.phones)


def _kind(header: str) -> str | None:
    """What a header cell names. Order matters: 联系电话 is a phone, 传真电话 a fax, 单位/部门 the unit."""
    text = _SPACES.sub("", header).lower()
    if not text:
        return None
    if "姓名" in text or text == "联系人":
        return "name"
    if text.startswith("县") or text in ("区县", "县区", "县市区", "所属县区", "所属县（市、区）"):
        return "county"  # 县（市、区）: the county of a county department's contact
    if "传真" in text:
        return "fax"
    if "邮箱" in text or "邮件" in text or "email" in text or "e-mail" in text:
        return "email"
    if "联系方式" in text or "电话" in text or "手机" in text:
        return "phone"
    if "科室" in text or "处室" in text:
        return "section"
    if "单位" in text:
        return "unit"
    if "部门" in text:
        return "部门"  # the unit, unless a 单位 column exists: then it is the section (附件1 uses it so)
    return None


def _header_columns(cells: Sequence[str]) -> _Columns:
    first: dict[str, int] = {}
    phones: list[int] = []
    for index, cell in enumerate(cells):
        kind = _kind(cell)
        if kind == "phone":
            phones.append(index)
        elif kind is not None:
            first.setdefault(kind, index)
    department, section = first.get("unit"), first.get("section")
    if department is None:
        department = first.get("部门")
    elif section is None:
        section = first.get("部门")
    return _Columns(department, first.get("name"), section, tuple(phones), first.get("fax"), first.get("email"),
                    first.get("county"))


def _text(value: Any) -> str:
    """A cell value as the text a person typed: 13666987053.0 is the phone 13666987053, not a float."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return format(Decimal(repr(value)).normalize(), "f")
    if isinstance(value, (int, Decimal)):
        return format(value, "f") if isinstance(value, Decimal) else str(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M") if value.time() != time(0) else value.strftime("%Y-%m-%d")
    if isinstance(value, date):
        return value.isoformat()
    return unescape_excel_text(str(value)).strip()


def _load(data: bytes) -> Any:
    if data[:4] == _OLE_MAGIC:
        raise ValueError("无法读取Excel文件：这是旧版 .xls 格式，请另存为 .xlsx 后重新发送")
    if len(data) > MAX_FILE_BYTES:
        raise ValueError("无法读取Excel文件：文件超过10MB")
    _check_zip(data)
    try:
        with warnings.catch_warnings():  # openpyxl warns about unknown extensions and data validation
            warnings.simplefilter("ignore")
            # Read-only: rows are streamed from the XML, nothing is built for cells that are not there.
            return load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types on damaged files; all mean the same to the user
        raise ValueError(f"无法读取Excel文件：不是有效的 .xlsx 文件（{type(exc).__name__}）") from exc


def _check_zip(data: bytes) -> None:
    """Refuse a zip bomb from its directory, before anything is decompressed. The sizes there cannot lie to us:
    zipfile stops reading a part at its declared size (and then fails its CRC check)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise ValueError(f"无法读取Excel文件：不是有效的 .xlsx 文件（{type(exc).__name__}）") from exc
    if len(parts) > MAX_PARTS:
        raise ValueError(f"无法读取Excel文件：文件内部有{len(parts)}个部分，不像联系人名单")
    if sum(p.file_size for p in parts) > MAX_UNCOMPRESSED:
        raise ValueError(f"无法读取Excel文件：解压后超过{MAX_UNCOMPRESSED // 2**20}MB，联系人名单不会这么大。"
                         "请只保留联系人表格后重新发送")


def _merged_ranges(ws: ReadOnlyWorksheet) -> list[tuple[int, int, int, int]]:
    """(min_col, min_row, max_col, max_row) of the sheet's merged cells, read from its XML as a stream
    (read-only worksheets do not offer them)."""
    ranges: list[tuple[int, int, int, int]] = []
    with ws._get_source() as source:
        for _, element in iterparse(source):
            if element.tag.endswith("}mergeCell"):
                bounds = range_boundaries(element.get("ref", ""))
                if None not in bounds:
                    ranges.append(bounds)
                if len(ranges) > MAX_MERGED:
                    raise ValueError("无法读取Excel文件：合并单元格太多，不像联系人名单")
            if element.tag.endswith("}row") or element.tag.endswith("}c"):
                element.clear()  # keep nothing of the cells: the stream stays small
    return ranges


def _grid(ws: ReadOnlyWorksheet) -> list[list[Any]]:
    """The first MAX_ROWS rows (MAX_COLUMNS wide), with vertically merged cells filled down (附件1 merges 单位
    over its contacts). Raises ValueError when more rows hold something, or a cell is too long."""
    ws.reset_dimensions()  # the <dimension> the file claims (A1:XFD1048576) is not trusted: rows as they come
    rows: list[list[Any]] = []
    for number, row in enumerate(ws.iter_rows(max_col=MAX_COLUMNS, values_only=True), start=1):
        if number > MAX_ROWS:
            if any(v is not None for v in row):
                raise ValueError(f"无法读取Excel文件：表格超过{MAX_ROWS}行。请只保留联系人后重新发送")
            continue  # empty rows past the cap cost nothing
        values = list(row)
        for column, value in enumerate(values, start=1):
            if isinstance(value, str) and len(value) > MAX_CELL:
                raise ValueError(f"无法读取Excel文件：第{number}行第{column}列的内容超过{MAX_CELL}个字，"
                                 "不像联系人信息")
        rows.append(values)
    for min_col, min_row, max_col, max_row in _merged_ranges(ws):
        if min_col != max_col or min_col > MAX_COLUMNS:
            continue  # a value spread across columns (a title, a wide phone cell) belongs to one column only
        column = min_col - 1
        if min_row > len(rows):
            continue
        top = rows[min_row - 1][column] if column < len(rows[min_row - 1]) else None
        for row_index in range(min_row, min(max_row, len(rows))):
            if column < len(rows[row_index]):
                rows[row_index][column] = top
    return rows


def _find_header(rows: list[list[Any]]) -> tuple[int, _Columns] | None:
    """The first row naming both 单位 and 姓名, else the row naming the most columns (for the report)."""
    best: tuple[int, _Columns] | None = None
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        columns = _header_columns([_text(v) for v in row])
        if not columns.missing:
            return index, columns
        if columns.found and (best is None or columns.found > best[1].found):
            best = index, columns
    return best


def read_contacts(data: bytes) -> tuple[list[tuple[int, ContactRecord]], list[RowProblem]]:
    """Contacts with their sheet row numbers, and the rows (or the header) that could not be read."""
    wb = _load(data)
    try:
        return _read_book(wb)
    finally:
        wb.close()  # a read-only workbook keeps its archive open until closed


def _read_book(wb: Any) -> tuple[list[tuple[int, ContactRecord]], list[RowProblem]]:
    found: tuple[ReadOnlyWorksheet, list[list[Any]], int, _Columns] | None = None
    fallback: _Columns | None = None
    # The active sheet first: a workbook may hold the notice text or other tables on other sheets.
    sheets = [wb.active, *(ws for ws in wb.worksheets if ws is not wb.active)]
    for ws in sheets:
        if not isinstance(ws, ReadOnlyWorksheet):
            continue
        rows = _grid(ws)
        header = _find_header(rows)
        if header is not None and not header[1].missing:
            found = ws, rows, *header
            break
        if header is not None and fallback is None:
            fallback = header[1]
    if found is None:
        missing = fallback.missing if fallback is not None else ["单位", "姓名"]
        return [], [RowProblem(0, f"找不到表头：缺少“{'”“'.join(missing)}”列")]

    _, rows, header_index, columns = found
    records: list[tuple[int, ContactRecord]] = []
    problems: list[RowProblem] = []
    for index in range(header_index + 1, len(rows)):
        values = [_text(v) for v in rows[index]]
        if not any(values):
            continue

        def get(column: int | None, values: list[str] = values) -> str:
            return values[column] if column is not None and column < len(values) else ""

        number = index + 1
        record = ContactRecord(
            department=get(columns.department),
            name=get(columns.name),
            section=get(columns.section),
            phone=" / ".join(p for p in dict.fromkeys(get(c) for c in columns.phones) if p),
            fax=get(columns.fax),
            email=get(columns.email),
            county=get(columns.county),
        )
        if not record.name:
            problems.append(RowProblem(number, "缺少姓名"))
        elif not record.department:
            problems.append(RowProblem(number, "缺少单位"))
        else:
            records.append((number, record))
    return records, problems


def write_contacts(records: Sequence[ContactRecord], title: str) -> bytes:
    """The list in the 附件1 layout: title row, header row, one row per contact, everything as text."""
    wb = Workbook()
    ws = wb.active
    assert isinstance(ws, Worksheet)
    ws.title = "联系人"
    thin = Side(style="thin")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    wrap = Alignment(vertical="center", wrap_text=True)
    for column, width in enumerate(WIDTHS, start=1):
        ws.column_dimensions[get_column_letter(column)].width = width

    cell = ws.cell(row=1, column=1)
    set_text(cell, title)
    cell.font = Font(bold=True, size=14)
    cell.alignment = Alignment(horizontal="center", vertical="center")
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADER))
    ws.row_dimensions[1].height = 30
    for column, text in enumerate(HEADER, start=1):
        cell = ws.cell(row=2, column=column)
        set_text(cell, text)
        cell.font, cell.border = Font(bold=True), border
        cell.alignment = Alignment(horizontal="center", vertical="center")

    order = [f.name for f in fields(ContactRecord)]  # department, name, section, phone, fax, email
    for row, record in enumerate(records, start=3):
        for column, attribute in enumerate(order, start=1):
            cell = ws.cell(row=row, column=column)
            value = getattr(record, attribute)
            if value:
                set_text(cell, value)  # text, so 0598… and long mobiles keep every digit
            cell.number_format = "@"  # and stay text when someone edits them in Excel
            cell.border, cell.alignment = border, wrap
    ws.freeze_panes = "A3"
    ws.print_title_rows = "2:2"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = ws.ORIENTATION_LANDSCAPE
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0

    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
