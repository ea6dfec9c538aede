"""Contact files built to eat memory are refused quickly, within 1 GiB, with a reason a person can act on.

Before the caps, a 4.7 KB xlsx whose sheet claimed cell XFD1048576 took 104 s and 5.3 GB; a 1 MB file with one
huge cell 5 GB; a million identical rows 2.7 GB and a rejection report of 1,000,002 lines. Each file here is read
by store/contacts_xlsx.py in a child process whose address space is capped at 1 GiB (resource.setrlimit), so a
regression shows as a MemoryError (or a time-out), not as a slow machine.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from store.contacts_xlsx import MAX_CELL, MAX_ROWS, ContactRecord, write_contacts
from tests.fakes.process import PROJECT

GIB = 2**30
CHILD = f"""
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({GIB}, {GIB}))
sys.path.insert(0, {str(PROJECT)!r})
from store.contacts_xlsx import read_contacts
try:
    rows, problems = read_contacts(open(sys.argv[1], "rb").read())
    print(json.dumps({{"rows": len(rows), "problems": [p.reason for p in problems[:3]], "count": len(problems)}}))
except ValueError as exc:
    print(json.dumps({{"refused": str(exc)}}))
"""


def _read_capped(path: Path) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, object] = json.loads(done.stdout)
    return result


def _base() -> bytes:
    records = [ContactRecord("市公安局", "方广成", "网安支队", "13666987053", "", ""),
               ContactRecord("三明海关", "王晓芳", "稽查科", "13507563828", "8242538", "")]
    return write_contacts(records, "联系人名单")


def _rewrite(data: bytes, change: dict[str, bytes | None], add: dict[str, bytes] | None = None) -> bytes:
    """A copy of the xlsx with some parts replaced (the function gets the old bytes) or added."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            new = change.get(info.filename)
            dst.writestr(info.filename, new if new is not None else body)
        for name, body in (add or {}).items():
            dst.writestr(name, body)
    return out.getvalue()


def _sheet(data: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return z.read("xl/worksheets/sheet1.xml").decode()


def test_a_sheet_claiming_cell_xfd1048576_is_read_as_the_rows_it_has(tmp_path: Path) -> None:
    data = _base()
    sheet = _sheet(data)
    start = sheet.index("<dimension ref=\"")
    end = sheet.index("/>", start)
    sheet = sheet[:start] + '<dimension ref="A1:XFD1048576"' + sheet[end:]
    sheet = sheet.replace("</sheetData>", '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData>')
    hostile = _rewrite(data, {"xl/worksheets/sheet1.xml": sheet.encode()})
    assert len(hostile) < 10_000
    path = tmp_path / "dimension.xlsx"
    path.write_bytes(hostile)
    assert _read_capped(path) == {"rows": 2, "problems": [], "count": 0}


def test_one_huge_cell_is_refused_from_the_zip_directory(tmp_path: Path) -> None:
    data = _base()
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = z.namelist()
    huge = b"<sst xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><si><t>" + b"A" * 300_000_000
    huge += b"</t></si></sst>"
    part = "xl/sharedStrings.xml"
    hostile = _rewrite(data, {part: huge}) if part in names else _rewrite(data, {}, {part: huge})
    assert len(hostile) < 2_000_000
    path = tmp_path / "cell.xlsx"
    path.write_bytes(hostile)
    result = _read_capped(path)
    assert "解压后超过20MB" in str(result.get("refused")), result


def test_a_long_cell_under_the_size_cap_is_refused_naming_its_place(tmp_path: Path) -> None:
    records = [ContactRecord("市公安局", "方广成", "网" * (MAX_CELL + 1), "13666987053", "", "")]
    path = tmp_path / "long.xlsx"
    path.write_bytes(write_contacts(records, "联系人名单"))
    result = _read_capped(path)
    assert f"第3行第3列的内容超过{MAX_CELL}个字" in str(result.get("refused")), result


def test_a_million_identical_rows_are_refused_before_parsing(tmp_path: Path) -> None:
    data = _base()
    sheet = _sheet(data)
    row = ('<row r="{n}"><c r="A{n}" t="inlineStr"><is><t>市公安局</t></is></c>'
           '<c r="B{n}" t="inlineStr"><is><t>方广成</t></is></c></row>')
    rows = "".join(row.format(n=n) for n in range(3, 1_000_003))
    sheet = sheet[:sheet.index("<sheetData>") + len("<sheetData>")] + rows + "</sheetData>" + sheet.split(
        "</sheetData>", 1)[1]
    path = tmp_path / "million.xlsx"
    path.write_bytes(_rewrite(data, {"xl/worksheets/sheet1.xml": sheet.encode()}))
    result = _read_capped(path)
    assert "解压后超过20MB" in str(result.get("refused")), result


def test_more_rows_than_the_cap_are_refused(tmp_path: Path) -> None:
    records = [ContactRecord("市公安局", f"联络员{n}", "", "", "", "") for n in range(MAX_ROWS)]
    path = tmp_path / "rows.xlsx"
    path.write_bytes(write_contacts(records, "联系人名单"))
    result = _read_capped(path)
    assert f"表格超过{MAX_ROWS}行" in str(result.get("refused")), result


@pytest.mark.parametrize("bad", [3000])
def test_the_rejection_report_names_the_first_20_rows_and_counts_the_rest(bad: int) -> None:
    from store.contacts_xlsx import RowProblem
    from store.roster import ImportReport

    report = ImportReport(rejected=[RowProblem(n + 3, "缺少姓名") for n in range(bad)])
    text = report.text()
    assert text.count("缺少姓名") == 20
    assert f"另有{bad - 20}行有问题" in text
    assert len(text.splitlines()) < 30
