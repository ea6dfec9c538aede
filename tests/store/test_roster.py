"""The contact list round-trips through Excel; a broken file changes nothing and says why."""

from __future__ import annotations

from io import BytesIO

from openpyxl import Workbook

from bot.app import App
from store import directory
from store.roster import export_contacts, import_contacts


def sheet(rows: list[list[object]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["单位", "姓名", "部门", "联系方式", "传真", "电子邮箱"])
    for row in rows:
        ws.append(row)
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


def names(app: App) -> dict[str, directory.Person]:
    with app.db.session() as s:
        return {p.name: p for p in directory.people(s)}


def test_round_trip_changes_nothing(app: App) -> None:
    data = export_contacts(app.db, app.campaign)
    report = import_contacts(app.db, app.campaign, data, app.now())
    assert report.imported and report.unchanged == 12 and not report.added and not report.changed
    assert names(app)["伊贤琦"].office == "0598-5106366"


def test_import_adds_and_changes(app: App) -> None:
    data = sheet([
        ["三明市公安局", "张三", "网安支队", 13800000001, "", "z@example.com"],
        ["市林业局", "陈彬", "野生动植物与湿地保护中心", "8863656 / 13900000002", "", ""],
    ])
    report = import_contacts(app.db, app.campaign, data, app.now())
    assert report.imported, report.text()
    assert report.added == ["市公安局 张三"] and report.changed == ["市林业局 陈彬"]
    people = names(app)
    assert people["张三"].mobile == "13800000001" and people["张三"].department == "gaj"
    assert people["陈彬"].mobile == "13900000002" and people["陈彬"].office == "0598-8863656"


def test_a_broken_file_changes_nothing_and_reports_each_row(app: App) -> None:
    data = sheet([
        ["三明市公安局", "张三", "网安支队", "13800000001", "", ""],
        ["火星局", "李四", "", "13800000002", "", ""],
        ["市公安局", "王五", "", "12345", "", ""],
        ["市公安局", "赵六", "", "13800000003", "", "not-an-email"],
    ])
    report = import_contacts(app.db, app.campaign, data, app.now())
    assert not report.imported
    text = report.text()
    assert "第3行：单位「火星局」不在成员单位名单中" in text
    assert "第4行：联系方式「12345」不是手机号或座机号" in text
    assert "第5行：邮箱「not-an-email」不对" in text
    assert "没有导入任何数据" in text
    assert "张三" not in names(app)


def test_not_an_excel_file(app: App) -> None:
    try:
        import_contacts(app.db, app.campaign, b"hello", app.now())
    except ValueError as exc:
        assert "无法读取Excel文件" in str(exc)
    else:
        raise AssertionError("a text file was read as Excel")
