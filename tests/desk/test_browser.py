"""The desk in a real browser: headless Chromium (Debian's chromium + chromium-driver) driven by Selenium.

A sign-in link comes from the chat (看板 / 上传 to the real bot process over the fake Bot API); the browser
opens it, sees the progress page, downloads the xlsx and the zip, uploads a file as a member, and is refused
with a reused or an expired link. Each page is photographed at phone width into tmp/artifacts/.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.expected_conditions import staleness_of
from selenium.webdriver.support.ui import Select
from selenium.webdriver.support.wait import WebDriverWait

from store import desk_auth, directory
from store.database import Database
from tests.bot.test_telegram_e2e import TgUser
from tests.fakes.process import PROJECT, BotProcess, clean_env
from tests.fakes.telegram_api import FakeBotApi
from tests.materials_support import shifted_config
from tests.reliability.support import free_ports

TOKEN = "123456:TEST-token"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
ARTIFACTS = PROJECT / "tmp" / "artifacts"
PHONE = (390, 844)
LINK = re.compile(r"http://127\.0\.0\.1:\d+/login/[A-Za-z0-9_-]+")

pytestmark = [
    pytest.mark.skipif(
        CHROMIUM is None or DRIVER is None,
        reason="headless Chromium is not installed: apt-get update && apt-get install -y chromium chromium-driver "
               "fonts-noto-cjk (.ci/run does this)",
    ),
    # A real browser on a loaded two-core machine now and then misses a page load (about 1 run in 10 seen here,
    # cause not captured): tried again up to twice, so a browser hiccup does not read as a broken desk. A real
    # fault fails all three tries.
    pytest.mark.flaky(reruns=2),
]


@pytest.fixture(scope="module")
def api() -> Iterator[FakeBotApi]:
    fake = FakeBotApi(TOKEN)
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("desk")


@pytest.fixture(scope="module")
def port() -> int:
    return free_ports(1)[0]


@pytest.fixture(scope="module")
def bot(api: FakeBotApi, workdir: Path, port: int) -> Iterator[BotProcess]:
    env = clean_env(TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_BASE_URL=api.url, BOT_CONFIG=str(shifted_config(workdir)),
                    BOT_DATABASE_URL=f"sqlite:///{workdir / 'bot.db'}", BOT_MATERIALS_DIR=str(workdir / "materials"),
                    BOT_WEB_LISTEN=f"127.0.0.1:{port}")
    running = BotProcess("desk", env, workdir).start()
    yield running
    assert running.stop() == 0, running.log()[-3000:]


@pytest.fixture(scope="module")
def downloads(workdir: Path) -> Path:
    folder = workdir / "downloads"
    folder.mkdir()
    return folder


@pytest.fixture
def browser(downloads: Path) -> Iterator[WebDriver]:

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}", f"--window-size={PHONE[0]},{PHONE[1]}"):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(executable_path=str(DRIVER)), options=options)
    driver.implicitly_wait(10)  # find_element waits for an element that is still coming
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def link_from_chat(user: TgUser, word: str) -> str:
    reply = user.wait("链接只能用一次", user.say(word))
    found = LINK.search(reply.text)
    assert found is not None, reply.text
    return found.group(0)


def registered(api: FakeBotApi, user_id: int, phone: str, department: str) -> TgUser:
    user = TgUser(api, user_id)
    user.wait(f"（{department}），您好", user.share_contact(phone))
    return user


def admin_user(api: FakeBotApi, bot: BotProcess, workdir: Path) -> TgUser:
    """王永辉 (admin): bound through a code, as an admin without a listed mobile is."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "bot", "invite", "王永辉"], cwd=PROJECT, env=bot.env, text=True,
                         capture_output=True, check=True).stdout
    code = re.search(r"[A-Z2-9]{4}-[A-Z2-9]{4}", out)
    assert code is not None
    user = TgUser(api, 4100)
    user.wait("王永辉（市市场监管局），您好", user.say(code.group(0)))
    return user


def click(driver: WebDriver, element: WebElement) -> None:
    """Click a button that loads a page, and wait until the old page is gone (a busy machine is slow)."""
    element.click()
    WebDriverWait(driver, 30).until(staleness_of(element))


def sign_in(driver: WebDriver, link: str) -> None:
    driver.get(link)
    click(driver, driver.find_element(By.ID, "enter"))


def shoot(driver: WebDriver, name: str) -> Path:
    """A screenshot of the whole page at phone width."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(PHONE[0], max(PHONE[1], int(height) + 120))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"desk-{name}.png"
    driver.save_screenshot(str(path))
    driver.set_window_size(*PHONE)
    assert path.stat().st_size > 1000
    return path


def downloaded(driver: WebDriver, folder: Path, suffix: str) -> Path:

    def done(_: WebDriver) -> Path | bool:
        # Chromium puts an empty file of the final name beside its .crdownload: wait until the download ends.
        names = list(folder.iterdir())
        if any(p.name.endswith(".crdownload") for p in names):
            return False
        found = [p for p in names if p.name.endswith(suffix) and p.stat().st_size > 0]
        return found[0] if found else False

    result = WebDriverWait(driver, 30).until(done)
    assert isinstance(result, Path)
    return result


def test_admin_signs_in_sees_progress_and_downloads(bot: BotProcess, api: FakeBotApi, workdir: Path,
                                                    browser: WebDriver, downloads: Path, port: int) -> None:

    police = registered(api, 4001, "13666987053", "市公安局")
    police.wait("累计", police.say("1 3"))
    admin = admin_user(api, bot, workdir)
    driver = browser
    driver.get(f"http://127.0.0.1:{port}/progress")
    assert "请登录" in driver.find_element(By.ID, "signin").text
    assert "市公安局" not in driver.page_source
    link = link_from_chat(admin, "看板")
    sign_in(driver, link)
    assert driver.current_url.endswith("/progress")
    rows = driver.find_elements(By.CLASS_NAME, "progress-row")
    assert len(rows) == 11  # the city's departments, one row each
    police_row = next(r for r in rows if "市公安局" in r.text)
    assert "填报 1/4 项" in police_row.text and "总结报告 0/1 未交" in police_row.text
    counties = driver.find_elements(By.CLASS_NAME, "county-row")
    assert len(counties) == 11  # then one line per county, its units folded inside
    assert counties[0].text.startswith("三元区：0/") and "个部门已报数" in counties[0].text
    assert "三元区公安局" not in counties[0].text  # folded until opened
    shoot(driver, "progress")
    counties[0].find_element(By.TAG_NAME, "summary").click()
    assert "三元区公安局" in counties[0].text
    driver.get(f"http://127.0.0.1:{port}/chart.svg")
    shoot(driver, "chart")
    driver.get(f"http://127.0.0.1:{port}/table?dep=gaj")
    assert "查处网络违法案件（件）" in driver.page_source
    shoot(driver, "table")
    driver.find_element(By.ID, "xlsx").click()
    xlsx = downloaded(driver, downloads, ".xlsx")
    assert "统计表" in openpyxl.load_workbook(xlsx).sheetnames
    driver.get(f"http://127.0.0.1:{port}/materials?dep=gaj")
    shoot(driver, "materials-admin")
    driver.get(f"http://127.0.0.1:{port}/progress")
    mark = api.mark()
    click(driver, driver.find_element(By.ID, "remind"))
    assert "已催报" in driver.find_element(By.ID, "note").text
    nudge = police.wait("【催报】", mark)  # the same 催报 as in chat, through the outbox
    assert "贵单位还缺：总结报告、图片视频资料、先进经验做法" in nudge.text
    driver.find_element(By.ID, "zip").click()
    with zipfile.ZipFile(downloaded(driver, downloads, ".zip")) as zf:
        assert "清单.xlsx" in zf.namelist()
    # The link was spent: a second use is refused.
    sign_in(driver, link)
    assert "链接已失效" in driver.page_source
    shoot(driver, "reused-link")


def test_member_uploads_only_to_own_department(bot: BotProcess, api: FakeBotApi, workdir: Path,
                                              browser: WebDriver, port: int) -> None:

    member = registered(api, 4002, "13616941366", "市文旅局")  # 蔡媛媛
    sign_in(browser, link_from_chat(member, "上传"))
    driver = browser
    assert driver.current_url.endswith("/materials")
    assert "材料：市文旅局" in driver.page_source
    driver.get(f"http://127.0.0.1:{port}/materials?dep=gaj")
    assert "材料：市文旅局" in driver.page_source
    report = workdir / "文旅局总结.pdf"
    report.write_bytes(b"%PDF-1.4 summary of the culture bureau")
    Select(driver.find_element(By.ID, "kind")).select_by_visible_text("总结报告")
    driver.find_element(By.ID, "file").send_keys(str(report))
    click(driver, driver.find_element(By.ID, "send"))
    assert "已上传：市文旅局-总结报告-" in driver.find_element(By.ID, "note").text
    assert "总结报告 1/1 已交" in driver.find_element(By.ID, "checklist").text
    shoot(driver, "materials-member")
    member.wait("✓ 总结报告 1/1 已交", member.say("材料"))  # the chat sees the same checklist
    driver.get(f"http://127.0.0.1:{port}/progress")  # a city department's progress: its system, no 催报
    assert "进度：市文旅局系统" in driver.page_source and not driver.find_elements(By.ID, "remind")
    rows = driver.find_elements(By.CLASS_NAME, "progress-row")
    assert [r.text.split()[0] for r in rows][:2] == ["市文旅局", "三元区文旅局"]
    assert not driver.find_elements(By.CLASS_NAME, "county-row") and "市公安局" not in driver.page_source
    shoot(driver, "progress-member")


def test_an_expired_link_is_refused(bot: BotProcess, workdir: Path, browser: WebDriver, port: int) -> None:
    db = Database(f"sqlite:///{workdir / 'bot.db'}")
    try:
        with db.session() as s:
            person = directory.find_people(s, "王永辉")[0]
            token = desk_auth.issue_link(s, person.id, dt.datetime.now(dt.UTC) - dt.timedelta(minutes=16))
    finally:
        db.dispose()
    sign_in(browser, f"http://127.0.0.1:{port}/login/{token}")
    assert "链接已失效" in browser.page_source
    browser.get(f"http://127.0.0.1:{port}/table")
    assert "请登录" in browser.page_source
    shoot(browser, "signin")
