"""One rule for what a unit's totals include: 汇总, 导出 and 进度 agree for every kind of scope."""

from __future__ import annotations

import io
import random
from decimal import Decimal

from openpyxl import load_workbook

from bot.app import App
from campaign.scopes import city_scope, county_scope, scope_totals, system_scope, unit_scope, viewer_scope
from handlers.messages import Reply
from reminders.dispatch import missing_departments
from store import directory
from store.statistics import build_export, scope_sums
from tests.support import Chat


def _sheet_values(data: bytes, sheet: str = "统计表") -> dict[str, Decimal]:
    ws = load_workbook(io.BytesIO(data))[sheet]
    return {str(row[1]): Decimal(str(row[2])) for row in ws.iter_rows(min_row=4, values_only=True) if row[1]}


def _add_county_contacts(app: App) -> None:
    with app.db.session() as s:
        ids = directory.department_ids(s)
        for key, name, role in (("sanyuan-gaj", "张三元", "member"), ("shaxian-gaj", "王沙县", "member"),
                                ("sanyuan-scjgj", "李网监", "county_admin"), ("yongan-scjgj", "周永安", "member")):
            directory.save_contact(s, department_id=ids[key], name=name, now=app.now(), role=role)


def test_totals_export_and_progress_agree_for_every_scope(app: App) -> None:
    _add_county_contacts(app)
    rng = random.Random(14)
    bookers = {"方广成": "1", "张三元": "1", "王沙县": "1", "李网监": "2", "周永安": "网售药品违法案件 "}
    for _ in range(20):
        name, item = rng.choice(sorted(bookers.items()))
        Chat(app, name).say(f"{item.strip()} {rng.randint(1, 9)}")
    campaign = app.campaign
    scopes = [city_scope(campaign), system_scope(campaign, "gaj"), system_scope(campaign, "yjj"),
              system_scope(campaign, "scjgj"), county_scope(campaign, "sanyuan"), county_scope(campaign, "yongan"),
              unit_scope(campaign, "sanyuan-gaj")]
    with app.db.read() as s:
        everything = scope_sums(s, campaign, city_scope(campaign))
    for scope in scopes:
        with app.db.read() as s:
            mine = scope_sums(s, campaign, scope)
        expected = scope_totals(campaign, scope, mine)
        assert expected == scope_totals(campaign, scope, everything)  # the scope reads only its members
        built = build_export(app.db, campaign, scope, app.now().date())
        sheet = _sheet_values(built.data)
        for indicator in scope.group_objects(campaign):
            for i in indicator.indicators:
                assert sheet[i.label] == expected.get(i.key, Decimal(0)), (scope.label, i.label)
        # Each part's sheet, and the parts together, make the whole: every unit counted once.
        names = load_workbook(io.BytesIO(built.data)).sheetnames
        parts = [scope_totals(campaign, scope, mine, p.members) for p in scope.parts]
        if scope.kind != "city":
            for part in scope.parts:
                assert part.label[:28] in names
            summed: dict[str, Decimal] = {}
            for totals in parts:
                for k, v in totals.items():
                    summed[k] = summed.get(k, Decimal(0)) + v
            assert not scope.parts or summed == expected
        # 进度 counts the same members as reporting.
        with app.db.read() as s:
            missing = missing_departments(s, campaign, campaign.start, among=[d.key for d in scope.reporting(campaign)])
        booked = {k for (k, _), v in mine.items() if v != 0}
        assert {d.key for d in missing} == {d.key for d in scope.reporting(campaign)} - booked
    # The city table: every unit's entries once, whatever system or county it belongs to.
    city = scope_totals(campaign, city_scope(campaign), everything)
    total: dict[str, Decimal] = {}
    for (_, ind), v in everything.items():
        total[ind] = total.get(ind, Decimal(0)) + v
    assert city == total


def test_chat_totals_match_the_exported_table(app: App) -> None:
    _add_county_contacts(app)
    Chat(app, "方广成").say("1 1")
    Chat(app, "张三元").say("1 3")
    Chat(app, "王沙县").say("1 2")
    police = Chat(app, "方广成")
    text = police.say("汇总")
    (reply,) = police.send("导出")
    assert isinstance(reply, Reply) and reply.file is not None
    assert _sheet_values(reply.file.data)["查处网络违法案件（件）"] == 6
    assert "【本系统合计】\n  1. 查处网络违法案件：6 件" in text
    # 汇总 公安局 and 导出 公安局 of an admin: both the whole system.
    admin = Chat(app, "王永辉")
    assert "【本系统合计】\n  1. 查处网络违法案件：6 件" in admin.say("汇总 公安局")
    (one,) = admin.send("导出 公安局")
    assert one.file is not None and _sheet_values(one.file.data)["查处网络违法案件（件）"] == 6
    (unit,) = admin.send("导出 三元区公安局")
    assert unit.file is not None and _sheet_values(unit.file.data)["查处网络违法案件（件）"] == 3
    assert "三元区公安局累计" in admin.say("汇总 三元公安")


def test_who_sees_what(app: App) -> None:
    _add_county_contacts(app)
    campaign = app.campaign
    assert viewer_scope(campaign, "scjgj", "admin").kind == "city"
    assert viewer_scope(campaign, "sanyuan-scjgj", "county_admin").members == tuple(
        d.key for d in campaign.county_departments("sanyuan"))
    assert viewer_scope(campaign, "sanyuan-scjgj", "member").members == ("sanyuan-scjgj",)
    assert viewer_scope(campaign, "gaj", "member").members[0] == "gaj"
    assert len(viewer_scope(campaign, "gaj", "member").members) == 12
    # The 药监 system takes the 药品监管 rows of the county 市场监管局 that do that work.
    assert "sanyuan-scjgj" in system_scope(campaign, "yjj").members
    county = Chat(app, "张三元", transport="telegram")
    assert "您只能查看三元区公安局的数据" in county.say("汇总 市公安局")
    assert "三元区公安局累计" in county.say("汇总 公安局")  # 公安局 from a 三元区 contact: their own
    assert "只有管理员" in county.say("进度")
    assert "您只能导出三元区公安局的数据" in county.say("导出 市公安局")
    bureau = Chat(app, "李网监")
    assert "三元区报数进度" in bureau.say("进度")
    assert "您只能查看三元区的数据" in bureau.say("汇总 全市")
    app.core.transports = frozenset({"telegram"})  # as the runner sets it: a broadcast needs a running transport
    assert "已通知三元区公安局：1人" in bureau.say("通知 公安局 请登记")
    assert "已通知三元区所有联系人：1人" in bureau.say("通知 请大家登记")  # 张三元; 沙县区 hears nothing
