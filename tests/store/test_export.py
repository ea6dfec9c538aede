"""The 附件2 workbook: the printable 统计表 and the streamed 明细 ledger, reopened with openpyxl."""

from __future__ import annotations

import io
import re
import time
import tracemalloc
import zipfile
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from openpyxl.workbook.workbook import Workbook

from campaign import Campaign, load_campaign
from store.export import (
    AuditRow,
    excel_text,
    export_filename,
    looks_like_formula,
    statistics_workbook,
    unescape_excel_text,
)

AS_OF = date(2023, 11, 20)
BOOKED = datetime(2023, 8, 20, 6, 5, 30, tzinfo=UTC)  # 14:05:30 in Sanming
HOSTILE = ["=1+1", "+SUM(A1)", "-2+3", "@cmd", '=HYPERLINK("http://evil.example","点我")', " =1+1", "\t=1+1",
           "\r=1+1", "＝1+1", "#N/A", "=cmd|' /C calc'!A0"]


@pytest.fixture(scope="module")
def campaign() -> Campaign:
    return load_campaign()


def build(campaign: Campaign, *, who: str | None = None, totals: dict[str, Decimal] | None = None,
          audit: list[AuditRow] | None = None, filled_by: str = "市公安局") -> bytes:
    groups = campaign.groups if who is None else tuple(g for g in campaign.groups if g.name == who)
    return statistics_workbook(campaign, filled_by=filled_by, as_of=AS_OF, groups=groups, totals=totals or {},
                               audit=audit or [])


def reopen(data: bytes) -> Workbook:
    return load_workbook(io.BytesIO(data))


def row(text: str = "公安局 查处网络违法案件 3 件", contact: str = "方广成", amount: str = "3") -> AuditRow:
    return AuditRow(BOOKED, "市公安局", contact, "查处网络违法案件（件）", Decimal(amount), "件", text)


def sheet_xml(data: bytes, name: str) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return z.read(name).decode("utf-8")


# --- 统计表 ------------------------------------------------------------------------------------------------


def test_title_unit_date_and_header(campaign: Campaign) -> None:
    ws = reopen(build(campaign, who="公安局"))["统计表"]
    assert ws["A1"].value == "三明市2023年网络市场监管行动情况统计表" == campaign.table_title
    assert ws["A1"].font.b and ws["A1"].font.sz >= 14 and ws["A1"].alignment.horizontal == "center"
    assert ws["A2"].value == "填报单位：市公安局"
    assert ws["C2"].value == "填报日期：2023年11月20日"
    assert [ws.cell(3, c).value for c in range(1, 5)] == ["项目", None, "数量", "备注"]
    merged = {str(r) for r in ws.merged_cells.ranges}
    assert {"A1:D1", "A2:B2", "C2:D2", "A3:B3"} <= merged
    assert all(ws.cell(3, c).font.b for c in (1, 3, 4))


def test_date_has_no_zero_padding(campaign: Campaign) -> None:
    data = statistics_workbook(campaign, filled_by="全市", as_of=date(2023, 8, 5), groups=(), totals={}, audit=())
    assert reopen(data)["统计表"]["C2"].value == "填报日期：2023年8月5日"


def test_one_department(campaign: Campaign) -> None:
    ws = reopen(build(campaign, who="公安局", totals={"ga1": Decimal("5.0000"), "ga4": Decimal(120)}))["统计表"]
    group = campaign.group("公安局")
    assert group is not None
    labels = [ws.cell(r, 2).value for r in range(4, ws.max_row + 1)]
    assert labels == [i.label for i in group.indicators] == [
        "查处网络违法案件（件）", "督促互联网企业关停违法违规账号（个）",
        "查处不履行网络安全管理主体责任的网站和APP（个）", "清理网上违法有害信息（条）"]
    assert [ws.cell(r, 3).value for r in range(4, 8)] == [5, 0, 0, 120]
    assert all(isinstance(ws.cell(r, 3).value, int) for r in range(4, 8))
    assert all(ws.cell(r, 3).number_format == "0" for r in range(4, 8))
    assert ws["A4"].value == "公安局"
    assert "A4:A7" in {str(r) for r in ws.merged_cells.ranges}
    assert ws["A4"].alignment.horizontal == "center" and ws["A4"].alignment.vertical == "center"


def test_whole_city_has_58_rows_in_table_order(campaign: Campaign) -> None:
    ws = reopen(build(campaign, filled_by="全市"))["统计表"]
    indicators = campaign.indicators
    assert len(indicators) == 58
    assert ws.max_row == 3 + 58
    assert [ws.cell(r, 2).value for r in range(4, 62)] == [i.label for i in indicators]
    assert all(ws.cell(r, 3).value == 0 for r in range(4, 62))  # nothing booked: 0, never blank
    merged = {str(r) for r in ws.merged_cells.ranges}
    first = 4
    for group in campaign.groups:
        assert ws.cell(first, 1).value == group.name
        last = first + len(group.indicators) - 1
        if last > first:
            assert f"A{first}:A{last}" in merged
        else:
            assert not any(r.startswith(f"A{first}:") for r in merged)  # 电信主管部门 and 邮政 have one row
        first = last + 1


def test_fractional_values_are_exact_with_two_decimals(campaign: Campaign) -> None:
    totals = {"wx1": Decimal("0.1") + Decimal("0.2"), "hg3": Decimal("1.2345"), "yp5": Decimal("0.0050"),
              "sc14": Decimal("12"), "wx2": Decimal("7")}
    data = build(campaign, totals=totals)
    ws = reopen(data)["统计表"]
    by_label = {ws.cell(r, 2).value: ws.cell(r, 3) for r in range(4, ws.max_row + 1)}
    wx1 = by_label["清理网上违法违规信息（万条）"]
    assert wx1.value == 0.3 and wx1.number_format == "0.00"
    assert by_label["进口环节查获含金银箔粉食品（吨）"].value == 1.23
    assert by_label["网售药品违法案件处罚金额（万元）"].value == 0.01  # half up, like on paper
    assert by_label["网络餐饮服务案件罚没款（万元）"].value == 12
    assert by_label["网络餐饮服务案件罚没款（万元）"].number_format == "0.00"
    assert by_label["处置网站平台违法违规账号（个）"].number_format == "0"
    # The stored number is the rounded decimal, not 0.30000000000000004.
    assert re.search(r'<c r="C4"[^>]*><v>0\.3</v>', sheet_xml(data, "xl/worksheets/sheet1.xml"))


def test_totals_of_other_groups_are_ignored(campaign: Campaign) -> None:
    ws = reopen(build(campaign, who="海关", totals={"ga1": Decimal(9), "hg1": Decimal(2)}))["统计表"]
    assert [ws.cell(r, 3).value for r in range(4, ws.max_row + 1)] == [2, 0, 0]


def test_borders_wrap_and_widths(campaign: Campaign) -> None:
    ws = reopen(build(campaign))["统计表"]

    def sides(ref: str) -> tuple[str | None, ...]:
        b = ws[ref].border
        return b.left.style, b.right.style, b.top.style, b.bottom.style

    for r in range(4, 62):
        for c in "BCD":
            assert sides(f"{c}{r}") == ("thin",) * 4
    assert sides("A3") == sides("C3") == sides("D3") == sides("A4") == ("thin",) * 4
    # Cells covered by a merge keep only the merge's outer edges: 市场监管部门 spans A27:A61.
    assert sides("A40") == ("thin", "thin", None, None) and sides("A61") == ("thin", "thin", None, "thin")
    assert ws["B4"].alignment.wrap_text
    assert ws.column_dimensions["B"].width >= 40
    assert all(ws.column_dimensions[c].width >= 10 for c in "ACD")
    long_row = next(r for r in range(4, 62) if len(ws.cell(r, 2).value) > 30)
    assert ws.row_dimensions[long_row].height > ws.row_dimensions[4].height  # two lines for long labels


def test_print_setup_and_frozen_panes(campaign: Campaign) -> None:
    wb = reopen(build(campaign))
    ws = wb["统计表"]
    assert wb.sheetnames == ["统计表", "明细"] and wb.active is ws
    assert ws.freeze_panes == "A4"
    assert ws.page_setup.paperSize in (9, "9")  # A4
    assert ws.page_setup.orientation == "portrait"
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert int(ws.page_setup.fitToWidth) == 1 and int(ws.page_setup.fitToHeight) == 0
    assert ws.print_title_rows == "$3:$3"
    assert ws.print_options.horizontalCentered
    assert 0.2 <= ws.page_margins.left <= 1 and 0.2 <= ws.page_margins.top <= 1.2
    ledger = wb["明细"]
    assert ledger.freeze_panes == "A2" and ledger.print_title_rows == "$1:$1"
    assert ledger.page_setup.orientation == "landscape"


def test_department_without_rows(campaign: Campaign) -> None:
    ws = reopen(build(campaign, who="no such group", filled_by="市商务局"))["统计表"]
    assert ws.max_row == 3 and ws["A2"].value == "填报单位：市商务局"


# --- 明细 ----------------------------------------------------------------------------------------------------


def test_audit_rows(campaign: Campaign) -> None:
    audit = [row(), row("清理 0.35万条", "李勤额", "0.3500"),
             AuditRow(BOOKED + timedelta(hours=12), "市委网信办", "李勤额", "清理网上违法违规信息（万条）",
                      Decimal("0.0001"), "万条", "多行\n消息")]
    ws = reopen(build(campaign, audit=audit))["明细"]
    assert [c.value for c in ws[1]] == ["时间", "单位", "填报人", "项目", "数量", "计量单位", "原始消息"]
    assert all(c.font.b for c in ws[1])
    assert ws.max_row == 4
    first = [c.value for c in ws[2]]
    assert first[0] == datetime(2023, 8, 20, 14, 5, 30)  # Asia/Shanghai wall time
    assert ws["A2"].number_format == "yyyy-mm-dd hh:mm"
    assert first[1:] == ["市公安局", "方广成", "查处网络违法案件（件）", 3, "件", "公安局 查处网络违法案件 3 件"]
    assert ws["E3"].value == 0.35 and ws["E4"].value == 0.0001
    assert ws["A4"].value == datetime(2023, 8, 21, 2, 5, 30)
    assert ws["G4"].value == "多行\n消息"


def test_audit_accepts_a_generator_and_empty(campaign: Campaign) -> None:
    data = statistics_workbook(campaign, filled_by="全市", as_of=AS_OF, groups=campaign.groups, totals={},
                               audit=(row(str(n)) for n in range(3)))
    assert [c.value for c in reopen(data)["明细"]["G"]][1:] == ["0", "1", "2"]
    assert reopen(build(campaign))["明细"].max_row == 1


def test_naive_time_is_refused(campaign: Campaign) -> None:
    naive = AuditRow(datetime(2023, 8, 20, 14, 5), "市公安局", "方广成", "查处网络违法案件（件）", Decimal(1), "件",
                     "x")
    with pytest.raises(ValueError, match="时区"):
        build(campaign, audit=[naive])


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_text_stays_text(campaign: Campaign, hostile: str) -> None:
    audit = [AuditRow(BOOKED, hostile, hostile, hostile, Decimal(1), hostile, hostile)]
    data = build(campaign, audit=audit, filled_by=hostile)
    wb = reopen(data)
    ledger = wb["明细"]
    expected = unescape_excel_text(excel_text(hostile))
    for ref in ("B2", "C2", "D2", "F2", "G2"):
        cell = ledger[ref]
        assert cell.data_type == "s"
        assert unescape_excel_text(cell.value) == hostile == expected
        assert cell.quotePrefix == looks_like_formula(hostile)
    unit = wb["统计表"]["A2"]
    assert unit.data_type == "s" and unescape_excel_text(unit.value) == f"填报单位：{hostile}"
    for name in ("xl/worksheets/sheet1.xml", "xl/worksheets/sheet2.xml"):
        assert "<f>" not in sheet_xml(data, name) and "<f " not in sheet_xml(data, name)


def test_formula_detection() -> None:
    assert all(looks_like_formula(t) for t in HOSTILE if t != "#N/A")
    assert not any(looks_like_formula(t) for t in ("公安局 3件", "", "  ", "a=1", "13666987053"))


def test_control_characters_and_escape_lookalikes(campaign: Campaign) -> None:
    nasty = "a\x00b\x01c\x1f_x0041_ _x0041\x02 \r\n\ufffe end"
    ws = reopen(build(campaign, audit=[row(nasty)]))["明细"]  # load_workbook would fail on broken XML
    assert ws["G2"].data_type == "s"
    assert unescape_excel_text(ws["G2"].value) == nasty.replace("\ufffe", "\ufffd")


def test_overlong_message_is_clipped_to_the_cell_limit(campaign: Campaign) -> None:
    ws = reopen(build(campaign, audit=[row("长" * 40000)]))["明细"]
    assert len(ws["G2"].value) == 32767 and ws["G2"].value.endswith("…")


@settings(max_examples=40, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\ufffe\uffff"), max_size=60))
def test_any_message_reads_back(text: str) -> None:
    data = statistics_workbook(load_campaign(), filled_by="全市", as_of=AS_OF, groups=(), totals={},
                               audit=[row(text)])
    cell = reopen(data)["明细"]["G2"]
    if text:
        assert cell.data_type == "s" and unescape_excel_text(cell.value) == text
    else:
        assert cell.value is None


def _many(n: int) -> Iterator[AuditRow]:
    for i in range(n):
        text = f"市场监管 查处网络餐饮服务案件 {i % 7} 件，第{i}条" + ("=1" if i % 5 == 0 else "")
        yield AuditRow(BOOKED + timedelta(minutes=i), "市市场监管局", "王永辉", "查处网络餐饮服务案件（件）",
                       Decimal(i % 7), "件", text)


def test_100000_rows_fast_and_memory_bounded(campaign: Campaign) -> None:
    started = time.perf_counter()
    data = statistics_workbook(campaign, filled_by="全市", as_of=AS_OF, groups=campaign.groups, totals={},
                               audit=_many(100_000))
    elapsed = time.perf_counter() - started
    assert elapsed < 20, f"100,000 rows took {elapsed:.1f} s"
    xml = sheet_xml(data, "xl/worksheets/sheet2.xml")
    assert xml.count("<row ") == 100_001
    assert '<row r="100001">' in xml and xml.rstrip().endswith("</worksheet>")

    # Cells held in memory would cost hundreds of MB; the stream holds the output and one chunk.
    tracemalloc.start()
    try:
        statistics_workbook(campaign, filled_by="全市", as_of=AS_OF, groups=campaign.groups, totals={},
                            audit=_many(100_000))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 60_000_000, f"peak {peak / 1e6:.0f} MB"


def test_read_back_sample_of_large_export(campaign: Campaign) -> None:
    data = statistics_workbook(campaign, filled_by="全市", as_of=AS_OF, groups=(), totals={}, audit=_many(2000))
    ws = load_workbook(io.BytesIO(data), read_only=True)["明细"]
    values: list[tuple[Any, ...]] = list(ws.iter_rows(min_row=2, values_only=True))
    assert len(values) == 2000
    assert values[0][0] == datetime(2023, 8, 20, 14, 5, 30) and values[0][6].endswith("=1")
    assert values[1999][4] == 1999 % 7


# --- file name ---------------------------------------------------------------------------------------------


def test_export_filename(campaign: Campaign) -> None:
    expected = "三明市2023年网络市场监管行动情况统计表-市公安局-20231120.xlsx"
    assert export_filename(campaign, "市公安局", AS_OF) == expected
    assert export_filename(campaign, "全市", date(2023, 8, 5)).endswith("-全市-20230805.xlsx")
    name = export_filename(campaign, '../市公:安*局?<>|"\\\n', AS_OF)
    assert name == expected
    assert "/" not in export_filename(campaign, "/", AS_OF)
    assert "\u202e" not in export_filename(campaign, "市公安局\u202excod.", AS_OF)  # no "…-市公安局.docx"-lookalike
    assert export_filename(campaign, "", AS_OF).endswith("-未知单位-20231120.xlsx")
