"""The 附件1 contact list as xlsx: reading what departments send, writing it back, round trips."""

from __future__ import annotations

import io
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook

from store.contacts_xlsx import ContactRecord, RowProblem, read_contacts, write_contacts

TITLE = "三明市2023年网络市场监管促发展保安全专项行动联系人名单"
NOTICE_CONTACTS = [
    ContactRecord("三明市市场监督管理局", "王永辉", "网监科", "8289060", "8241325", "smscjgjwjk@163.com"),
    ContactRecord("三明市市场监督管理局", "张秀齐", "网监科", "8289060", "8241325", "smscjgjwjk@163.com"),
    ContactRecord("市委网信办", "李勤额", "网管科", "8220058", "8220393", ""),
    ContactRecord("市公安局", "方广成", "网安支队", "13666987053", "", ""),
    ContactRecord("市林业局", "陈彬", "野生动物植与湿地保护中心", "8863656", "", ""),
    ContactRecord("市通信管理办", "伊贤琦", "网安科", "13906983469 / 5106366", "5106388", ""),
    ContactRecord("三明海关", "王晓芳", "稽查科", "05988242538", "0598-8242538", ""),
]


def sheet(rows: list[list[Any]], merges: tuple[str, ...] = ()) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    for values in rows:
        ws.append(values)
    for ref in merges:
        ws.merge_cells(ref)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_round_trip() -> None:
    records, problems = read_contacts(write_contacts(NOTICE_CONTACTS, TITLE))
    assert problems == []
    assert records == [(n, r) for n, r in enumerate(NOTICE_CONTACTS, start=3)]


def test_written_layout_is_text() -> None:
    hostile = ContactRecord("=1+1", "+SUM(A1)", "-2+3", "0598123", "@cmd", '=HYPERLINK("http://x","y")')
    ws = load_workbook(io.BytesIO(write_contacts([hostile], TITLE))).active
    assert ws is not None
    assert ws["A1"].value == TITLE and "A1:G1" in {str(r) for r in ws.merged_cells.ranges}
    assert [c.value for c in ws[2]] == ["单位", "姓名", "部门", "联系方式", "传真", "电子邮箱", "县（市、区）"]
    values = [c.value for c in ws[3]][:6]
    assert values == ["=1+1", "+SUM(A1)", "-2+3", "0598123", "@cmd", '=HYPERLINK("http://x","y")']
    assert all(c.data_type == "s" and c.number_format == "@" for c in ws[3][:6])
    assert [c.quotePrefix for c in ws[3]][:6] == [True, True, True, False, True, True]
    assert ws.freeze_panes == "A3"
    assert read_contacts(write_contacts([hostile], TITLE)) == ([(3, hostile)], [])


def test_attachment_1_layout_with_merged_unit_and_blank_rows() -> None:
    data = sheet(
        [
            ["附件1"],
            ["三明市2023年网络市场监管促发展保安全专项行动联络员名单"],
            ["序号", "单  位", "姓名", "部门", "联系方式", "传真", "电子邮箱"],
            [1, " 三明市市场监督管理局 ", "王永辉", "网监科", 8289060, 8241325, "smscjgjwjk@163.com"],
            [2, None, "张秀齐", "网监科", 8289060, 8241325, "smscjgjwjk@163.com"],
            [None, None, None, None, None, None, None],
            [3, "市公安局", "方广成", "网安支队", 13666987053, None, None],
            [4, "市邮政管理局", "肖方侃", "市场监管科", 17671325280.0, None, None],
        ],
        merges=("B4:B5", "A1:G1", "A2:G2"),
    )
    records, problems = read_contacts(data)
    assert problems == []
    assert [n for n, _ in records] == [4, 5, 7, 8]
    assert records[0][1] == ContactRecord("三明市市场监督管理局", "王永辉", "网监科", "8289060", "8241325",
                                          "smscjgjwjk@163.com")
    assert records[1][1].department == "三明市市场监督管理局"  # the merged 单位 cell covers both contacts
    assert records[2][1] == ContactRecord("市公安局", "方广成", "网安支队", "13666987053", "", "")
    assert records[3][1].phone == "17671325280"  # a float cell is still the phone as typed


def test_numeric_phone_cells() -> None:
    data = sheet([["单位", "姓名", "电话"], ["市公安局", "方广成", 13666987053], ["市商务局", "戴超颖", 13860508184.0],
                  ["市文旅局", "蔡媛媛", 8225480.0]])
    records, _ = read_contacts(data)
    assert [r.phone for _, r in records] == ["13666987053", "13860508184", "8225480"]


def test_header_synonyms() -> None:
    data = sheet([["部门", "姓名", "科室", "手机", "办公电话", "传真号码", "邮箱"],
                  ["市通信管理办", "伊贤琦", "网安科", "13906983469", "5106366", "5106388", "a@b.cn"]])
    records, problems = read_contacts(data)
    assert problems == []
    assert records == [(2, ContactRecord("市通信管理办", "伊贤琦", "网安科", "13906983469 / 5106366", "5106388",
                                         "a@b.cn"))]


def test_bumen_is_the_section_when_danwei_exists() -> None:
    records, _ = read_contacts(sheet([["姓名", "部门", "单位/部门"], ["陈彬", "保护中心", "市林业局"]]))
    assert records[0][1].department == "市林业局" and records[0][1].section == "保护中心"
    records, _ = read_contacts(sheet([["部门", "姓名"], ["市林业局", "陈彬"]]))
    assert records[0][1].department == "市林业局" and records[0][1].section == ""


def test_rows_without_name_or_unit_are_reported() -> None:
    data = sheet([["单位", "姓名", "联系方式"], ["市公安局", None, "13666987053"], [None, "无名", "1"],
                  ["注：请于8月15日前报送", None, None], ["市公安局", "方广成", "13666987053"]])
    records, problems = read_contacts(data)
    assert [n for n, _ in records] == [5]
    assert problems == [RowProblem(2, "缺少姓名"), RowProblem(3, "缺少单位"), RowProblem(4, "缺少姓名")]


@pytest.mark.parametrize(
    ("header", "missing"),
    [(["单位", "联系方式", "传真"], "姓名"), (["姓名", "联系方式"], "单位"), (["序号", "备注"], "单位")],
)
def test_missing_header_is_one_problem(header: list[str], missing: str) -> None:
    records, problems = read_contacts(sheet([["联系人名单"], header, ["x", "y", "z"]]))
    assert records == []
    assert len(problems) == 1 and problems[0].row == 0 and missing in problems[0].reason


def test_header_must_be_in_the_first_ten_rows() -> None:
    rows: list[list[Any]] = [[f"说明{n}"] for n in range(10)] + [["单位", "姓名"], ["市公安局", "方广成"]]
    records, problems = read_contacts(sheet(rows))
    assert records == [] and problems[0].row == 0


def test_header_found_on_another_sheet() -> None:
    wb = Workbook()
    first = wb.active
    assert first is not None
    first.append(["通知正文"])
    other = wb.create_sheet("附件1")
    other.append(["单位", "姓名"])
    other.append(["市公安局", "方广成"])
    out = io.BytesIO()
    wb.save(out)
    assert read_contacts(out.getvalue()) == ([(2, ContactRecord("市公安局", "方广成", "", "", "", ""))], [])


@pytest.mark.parametrize("data", [b"", b"not an excel file", b"PK\x03\x04broken zip", b"\xd0\xcf\x11\xe0legacy xls"])
def test_bad_file_is_a_value_error(data: bytes) -> None:
    with pytest.raises(ValueError, match="^无法读取Excel文件："):
        read_contacts(data)


field = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\ufffe\uffff"),
                max_size=20).map(str.strip)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.builds(ContactRecord, field.filter(bool), field.filter(bool), field, field, field, field),
                max_size=5))
def test_any_records_round_trip(records: list[ContactRecord]) -> None:
    assert read_contacts(write_contacts(records, TITLE)) == ([(n, r) for n, r in enumerate(records, start=3)], [])
