"""导出 in chat: who gets which table, as of which day, as a file that opens."""

from __future__ import annotations

import datetime as dt
from io import BytesIO

from openpyxl import load_workbook

from bot.app import App
from handlers.messages import Reply
from tests.support import SHANGHAI, Chat, FakeClock


def table(reply: Reply) -> dict[str, object]:
    assert reply.file is not None
    sheet = load_workbook(BytesIO(reply.file.data))["统计表"]
    return {str(row[1]): row[2] for row in sheet.iter_rows(min_row=4, values_only=True) if row[1]}


def test_contact_gets_own_table_with_current_totals(app: App) -> None:
    police = Chat(app, "方广成")
    police.say("查处网络违法案件 3")
    (reply,) = police.send("导出")
    assert reply.file is not None
    assert reply.file.filename == "三明市2023年网络市场监管行动情况统计表-市公安局系统-20230815.xlsx"
    assert "市公安局" in reply.file.caption
    values = table(reply)
    assert values == {"查处网络违法案件（件）": 3, "督促互联网企业关停违法违规账号（个）": 0,
                      "查处不履行网络安全管理主体责任的网站和APP（个）": 0, "清理网上违法有害信息（条）": 0}


def test_contact_cannot_export_another_department(app: App) -> None:
    assert "只能导出市公安局系统" in Chat(app, "方广成").say("导出 海关")


def test_admin_gets_the_city_or_one_department(app: App) -> None:
    Chat(app, "方广成").say("1 3")
    Chat(app, "陈明栋").say("网售药品违法案件处罚金额 0.1万元，网售药品违法案件处罚金额 2000元")
    admin = Chat(app, "王永辉")
    (city,) = admin.send("/export")
    values = table(city)
    assert len(values) == 58
    assert values["查处网络违法案件（件）"] == 3 and values["网售药品违法案件处罚金额（万元）"] == 0.3
    (one,) = admin.send("导出 三明市公安局")
    assert one.file is not None and "-市公安局系统-" in one.file.filename and len(table(one)) == 4
    assert "没有找到单位" in admin.say("导出 火星局")
    assert "没有需要填报的项目" in admin.say("导出 商务局")


def test_as_of_a_day(app: App, clock: FakeClock) -> None:
    police = Chat(app, "方广成")
    clock.now = dt.datetime(2023, 8, 20, 23, 59, tzinfo=SHANGHAI)
    police.say("1 3")
    clock.now = dt.datetime(2023, 8, 21, 0, 0, 1, tzinfo=SHANGHAI)
    police.say("1 4")
    (reply,) = police.send("导出 8月20日")
    assert reply.file is not None and reply.file.filename.endswith("-20230820.xlsx")
    assert table(reply)["查处网络违法案件（件）"] == 3
    sheet = load_workbook(BytesIO(reply.file.data))["统计表"]
    assert any("2023年8月20日" in str(c) for row in sheet.iter_rows(max_row=3, values_only=True) for c in row if c)
    (now,) = police.send("导出")
    assert table(now)["查处网络违法案件（件）"] == 7
    assert "不存在" in police.say("导出 2月30日")
