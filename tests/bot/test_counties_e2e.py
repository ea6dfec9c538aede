"""End to end, the counties: contacts imported from xlsx (县（市、区） column), then the real bot over the fake
Telegram API: a county contact binds and reports; each unit sees what its scope allows; the city table sums
every unit once; reminders reach county contacts for 08-20 but not for 08-25."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest

from tests.bot.test_telegram_e2e import CODE, TOKEN, TgUser, start_bot
from tests.fakes.process import BotProcess, clean_env
from tests.fakes.telegram_api import FakeBotApi

# 县（市、区）, 单位, 姓名, 部门, 联系方式: the 附件1 layout with the county column.
COUNTY_CONTACTS = [
    ("三元区", "公安局", "张三元", "网安大队", "13900000001"),
    ("三元区", "市场监督管理局", "李网监", "网监股", "13900000002"),
    ("沙县区", "沙县区公安局", "王沙县", "网安大队", "13900000003"),
    ("三元区", "党委宣传部（网信办）", "赵网信", "网管股", "13900000004"),
]


def contacts_xlsx(rows: list[tuple[str, str, str, str, str]]) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["各县（市、区）成员单位联系人名单"])
    ws.append(["县（市、区）", "单位", "姓名", "部门", "联系方式"])
    for row in rows:
        ws.append(list(row))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def cli(env: dict[str, str], workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=workdir, env=env, capture_output=True,
                          text=True, timeout=60)


@pytest.fixture(scope="module")
def api() -> Iterator[FakeBotApi]:
    fake = FakeBotApi(TOKEN)
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("counties")


@pytest.fixture(scope="module")
def env(workdir: Path) -> dict[str, str]:
    env = clean_env(BOT_DATABASE_URL=f"sqlite:///{workdir / 'bot.db'}")
    bad = workdir / "bad.xlsx"
    bad.write_bytes(contacts_xlsx([*COUNTY_CONTACTS, ("火星县", "公安局", "错县名", "", "13900000009"),
                                   ("三元区", "海关", "错单位", "", "13900000008")]))
    refused = cli(env, workdir, "contacts", "import", str(bad))
    assert refused.returncode == 1
    assert "第7行：县（市、区）「火星县」不在名单中" in refused.stderr and "第8行" in refused.stderr
    assert "没有导入任何数据" in refused.stderr
    good = workdir / "counties.xlsx"
    good.write_bytes(contacts_xlsx(COUNTY_CONTACTS))
    imported = cli(env, workdir, "contacts", "import", str(good))
    assert imported.returncode == 0, imported.stderr
    assert "新增4人" in imported.stdout and "三元区公安局 张三元" in imported.stdout
    return env


@pytest.fixture(scope="module")
def bot(api: FakeBotApi, workdir: Path, env: dict[str, str]) -> Iterator[BotProcess]:
    running = start_bot(api.url, workdir)
    yield running
    assert running.stop() == 0, running.log()[-3000:]


def bound(api: FakeBotApi, user_id: int, phone: str, unit: str) -> TgUser:
    user = TgUser(api, user_id)
    user.wait(f"{unit}的填报项目", user.share_contact(phone))
    return user


def test_contacts_export_writes_the_county_column_back(env: dict[str, str], workdir: Path) -> None:
    out = workdir / "back.xlsx"
    assert cli(env, workdir, "contacts", "export", str(out)).returncode == 0
    ws = openpyxl.load_workbook(out).active
    assert ws is not None
    rows = [[c for c in row] for row in ws.iter_rows(min_row=2, values_only=True)]
    assert rows[0][-1] == "县（市、区）"
    assert ["三元区公安局", "张三元", "网安大队", "13900000001", None, None, "三元区"] in [list(r) for r in rows]
    again = cli(env, workdir, "contacts", "import", str(out))
    assert again.returncode == 0 and "未变16人" in again.stdout


def test_reminders_reach_county_contacts_for_08_20_but_not_08_25(env: dict[str, str], workdir: Path) -> None:
    out = cli(env, workdir, "schedule", "--from", "2023-08-09", "--to", "2023-08-25")
    assert out.returncode == 0, out.stderr
    mine = [line for line in out.stdout.splitlines() if "  张三元  " in line]
    assert any("【报送提醒】中期行动总结报告和统计表" in line for line in mine)
    assert not any("中期材料抄送市市场监管局网监科" in line for line in mine)
    city = [line for line in out.stdout.splitlines() if "  方广成  " in line]
    assert any("中期材料抄送市市场监管局网监科" in line for line in city)
    # The county's market regulation bureau hears who of its county has not reported.
    assert any("李网监  三元区市场监管局  报送进度" in line for line in out.stdout.splitlines())


def test_a_county_contact_binds_reports_and_sees_only_its_rows(bot: BotProcess, api: FakeBotApi) -> None:
    county = bound(api, 2001, "13900000001", "三元区公安局")
    county.wait("累计 3 件", county.say("查处网络违法案件 3"))
    # The 药品监管 rows belong to another system: a county 公安局 cannot book them.
    refusal = county.wait("网售药品", county.say("网售药品违法案件 1"))
    assert "累计" not in refusal.text
    total = county.wait("三元区公安局累计", county.say("汇总"))
    assert "1. 查处网络违法案件：3 件" in total.text
    county.wait("您只能查看三元区公安局的数据", county.say("汇总 市公安局"))
    shaxian = bound(api, 2002, "13900000003", "沙县区公安局")
    shaxian.wait("累计 2 件", shaxian.say("1 2"))


def test_city_police_sees_each_county_and_the_system_total(bot: BotProcess, api: FakeBotApi) -> None:
    city = bound(api, 2003, "13666987053", "市公安局")  # 方广成
    city.wait("累计 1 件", city.say("1 1"))
    total = city.wait("本系统合计", city.say("汇总")).text
    assert "【本系统合计】\n  1. 查处网络违法案件：6 件" in total
    # Its own figures first: the counties' 5 were booked to the counties, not here.
    assert total.startswith("市公安局累计") and "1. 查处网络违法案件：1 件" in total.split("【本系统合计】")[0]
    assert "【三元区】\n  1. 查处网络违法案件：3 件" in total and "【沙县区】\n  1. 查处网络违法案件：2 件" in total
    mark = city.say("导出")
    sent = api.wait_for(lambda c: c.method == "sendDocument" and c.chat_id == 2003, mark)
    wb = openpyxl.load_workbook(io.BytesIO(next(iter(sent.files.values()))[1]))
    assert wb.sheetnames[:4] == ["统计表", "市公安局（本级）", "三元区", "沙县区"]
    assert wb["统计表"]["C4"].value == 6 and wb["三元区"]["C4"].value == 3 and wb["沙县区"]["C4"].value == 2


def test_county_market_regulation_sees_its_county_and_nothing_else(bot: BotProcess, api: FakeBotApi) -> None:
    bureau = bound(api, 2004, "13900000002", "三元区市场监管局")  # 网监股: county_admin by the import
    overview = bureau.wait("三元区各单位报数情况", bureau.say("汇总")).text
    assert "三元区公安局：已填1/4项" in overview and "沙县" not in overview
    totals = bureau.wait("三元区合计", bureau.say("汇总 三元区")).text
    assert "查处网络违法案件：3 件" in totals and "沙县" not in totals
    bureau.wait("您只能查看三元区的数据", bureau.say("汇总 沙县区"))
    bureau.wait("您只能导出三元区的数据", bureau.say("导出 沙县区"))
    mark = bureau.say("导出 三元区")
    sent = api.wait_for(lambda c: c.method == "sendDocument" and c.chat_id == 2004, mark)
    wb = openpyxl.load_workbook(io.BytesIO(next(iter(sent.files.values()))[1]))
    assert "三元区公安局" in wb.sheetnames and not any("沙县" in name for name in wb.sheetnames)
    progress = bureau.wait("三元区报数进度", bureau.say("进度")).text
    listed = next(line for line in progress.splitlines() if line.startswith("· 三元区："))
    assert "网信办" in listed and "公安局" not in listed and "沙县" not in progress.split("发“催报”")[0]
    bureau.wait("已催报", bureau.say("催报"))
    bureau.wait("您只能通知三元区的单位", bureau.say("通知 沙县区 请登记"))


def test_the_city_table_sums_every_unit_once(bot: BotProcess, api: FakeBotApi, env: dict[str, str],
                                            workdir: Path) -> None:
    code = CODE.search(cli(env, workdir, "invite", "王永辉").stdout)
    assert code
    admin = TgUser(api, 2005)
    admin.wait("王永辉（市市场监管局），您好", admin.say(code.group()))
    mark = admin.say("导出")
    sent = api.wait_for(lambda c: c.method == "sendDocument" and c.chat_id == 2005, mark)
    wb = openpyxl.load_workbook(io.BytesIO(next(iter(sent.files.values()))[1]))
    rows = {row[1]: row[2] for row in wb["统计表"].iter_rows(min_row=4, values_only=True) if row[1]}
    assert rows["查处网络违法案件（件）"] == 6  # 1 city + 3 三元区 + 2 沙县区, each once
    overview = admin.wait("全市各单位报数情况", admin.say("汇总")).text
    assert "三元区：1/5个部门已报数" in overview
