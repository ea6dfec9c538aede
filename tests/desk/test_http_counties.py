"""The desk over plain HTTP with counties: each viewer sees the scope the chat gives them (campaign.scopes).

County contacts are imported from xlsx before the real bot starts; 李网监 (三元区市场监管局, 网监股) is a
county_admin by the import. A county admin sees 三元区's units and nothing of 沙县区; 市公安局's contact sees
its system (三元区公安局 and 沙县区公安局); the desk's xlsx is the chat's 导出 of the same scope.
"""

from __future__ import annotations

import http.client
import io
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import openpyxl
import pytest

from tests.bot.test_counties_e2e import COUNTY_CONTACTS, contacts_xlsx
from tests.bot.test_telegram_e2e import TgUser
from tests.fakes.process import PROJECT, BotProcess, clean_env
from tests.fakes.telegram_api import FakeBotApi
from tests.materials_support import shifted_config
from tests.reliability.support import free_ports

TOKEN = "123456:TEST-token"
LINK = re.compile(r"http://127\.0\.0\.1:\d+(/login/[A-Za-z0-9_-]+)")


@pytest.fixture(scope="module")
def api() -> Iterator[FakeBotApi]:
    fake = FakeBotApi(TOKEN)
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def port() -> int:
    return free_ports(1)[0]


@pytest.fixture(scope="module")
def bot(api: FakeBotApi, tmp_path_factory: pytest.TempPathFactory, port: int) -> Iterator[BotProcess]:
    workdir = tmp_path_factory.mktemp("desk-counties")
    env = clean_env(TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_BASE_URL=api.url, BOT_CONFIG=str(shifted_config(workdir)),
                    BOT_DATABASE_URL=f"sqlite:///{workdir / 'bot.db'}", BOT_MATERIALS_DIR=str(workdir / "materials"),
                    BOT_WEB_LISTEN=f"127.0.0.1:{port}")
    contacts = workdir / "counties.xlsx"
    contacts.write_bytes(contacts_xlsx(COUNTY_CONTACTS))
    imported = subprocess.run([sys.executable, "-m", "bot", "contacts", "import", str(contacts)], cwd=PROJECT,
                              env=env, capture_output=True, text=True, timeout=60)
    assert imported.returncode == 0, imported.stderr
    running = BotProcess("desk-counties", env, workdir).start()
    yield running
    assert running.stop() == 0, running.log()[-3000:]


def get(port: int, path: str, session: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    conn.request("GET", path, headers={"Cookie": session})
    response = conn.getresponse()
    return response.status, response.read()


def page(port: int, path: str, session: str) -> str:
    status, body = get(port, path, session)
    assert status == 200, (path, status, body[:300])
    return body.decode()


def signed_in(api: FakeBotApi, port: int, user_id: int, phone: str, unit: str) -> tuple[TgUser, str]:
    """A contact bound by sharing their number, and the cookie of the desk session their 看板 link opens."""
    user = TgUser(api, user_id)
    user.wait(f"{unit}的填报项目", user.share_contact(phone))
    reply = user.wait("链接只能用一次", user.say("看板"))
    found = LINK.search(reply.text)
    assert found is not None, reply.text
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    conn.request("POST", found.group(1))
    opened = conn.getresponse()
    opened.read()
    assert opened.status == 303
    return user, opened.headers["Set-Cookie"].split(";", 1)[0]


def cells(data: bytes) -> dict[str, list[tuple[Any, ...]]]:
    wb = openpyxl.load_workbook(io.BytesIO(data))
    return {name: [tuple(row) for row in wb[name].iter_rows(values_only=True)] for name in wb.sheetnames}


def chat_export(api: FakeBotApi, user: TgUser, text: str) -> bytes:
    mark = user.say(text)
    sent = api.wait_for(lambda c: c.method == "sendDocument" and c.chat_id == user.id, mark)
    return next(iter(sent.files.values()))[1]


def test_a_county_admin_sees_its_county_and_nothing_of_another(bot: BotProcess, api: FakeBotApi,
                                                               port: int) -> None:
    police = TgUser(api, 3101)
    police.wait("三元区公安局的填报项目", police.share_contact("13900000001"))  # 张三元
    police.wait("累计 3 件", police.say("查处网络违法案件 3"))
    shaxian = TgUser(api, 3102)
    shaxian.wait("沙县区公安局的填报项目", shaxian.share_contact("13900000003"))  # 王沙县
    shaxian.wait("累计 2 件", shaxian.say("1 2"))
    bureau, session = signed_in(api, port, 3103, "13900000002", "三元区市场监管局")  # 李网监, county_admin

    progress = page(port, "/progress", session)
    assert "进度：三元区" in progress and "沙县" not in progress
    assert progress.count('class="card progress-row"') == 8  # 三元区's 8 departments
    for unit in ("三元区公安局", "三元区市场监管局", "三元区税务局"):
        assert unit in progress
    assert 'id="remind"' in progress and 'id="zip"' not in progress  # the county's 催报; the zip is the city's
    chart = page(port, "/chart.svg", session)
    assert "三元区公安局" in chart and "沙县" not in chart

    table = page(port, "/table", session)
    assert "三元区（8个部门汇总）" in table and "沙县" not in table
    assert get(port, "/table?dep=county:shaxian", session)[0] == 404
    assert get(port, "/table?dep=shaxian-gaj", session)[0] == 404
    assert get(port, "/table.xlsx?dep=" + quote("沙县区"), session)[0] == 404
    one = page(port, "/table?dep=sanyuan-gaj", session)
    assert "三元区公安局，截至" in one
    status, xlsx = get(port, "/table.xlsx", session)
    assert status == 200
    assert cells(xlsx) == cells(chat_export(api, bureau, "导出 三元区"))
    assert not any("沙县" in name for name in cells(xlsx))

    materials = page(port, "/materials?dep=sanyuan-gaj", session)
    assert "材料：三元区公安局" in materials and "沙县" not in materials
    assert 'id="upload"' not in materials  # one uploads only to one's own unit
    assert "材料：三元区市场监管局" in page(port, "/materials?dep=shaxian-gaj", session)  # not of the county


def test_a_city_department_member_sees_its_system(bot: BotProcess, api: FakeBotApi, port: int) -> None:
    city, session = signed_in(api, port, 3104, "13666987053", "市公安局")  # 方广成
    city.wait("累计 1 件", city.say("1 1"))
    progress = page(port, "/progress", session)
    assert "进度：市公安局系统" in progress
    for unit in ("市公安局", "三元区公安局", "沙县区公安局"):
        assert unit in progress
    assert "三元区市场监管局" not in progress and 'id="remind"' not in progress
    assert progress.count('class="card progress-row"') == 12  # itself and the 11 counties' 公安局

    table = page(port, "/table", session)
    assert "本系统12个单位汇总" in table
    assert "三元区公安局" in page(port, "/table?dep=unit:sanyuan-gaj", session)
    assert get(port, "/table?dep=city", session)[0] == 404
    assert get(port, "/table?dep=county:sanyuan", session)[0] == 404
    status, xlsx = get(port, "/table.xlsx", session)
    assert status == 200
    desk, chat = cells(xlsx), cells(chat_export(api, city, "导出"))
    assert desk == chat and list(desk)[:4] == ["统计表", "市公安局（本级）", "三元区", "沙县区"]
    assert desk["统计表"][3][2] == 6  # 1 own + 3 三元区 + 2 沙县区

    assert "材料：市公安局" in page(port, "/materials?dep=sanyuan-gaj", session)  # members: their own unit only
