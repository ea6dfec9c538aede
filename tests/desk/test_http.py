"""The desk over plain HTTP against the real bot process: no session no data, cookie flags, CSRF, no paths."""

from __future__ import annotations

import http.client
import re
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bot.test_telegram_e2e import TgUser
from tests.fakes.process import BotProcess, clean_env
from tests.fakes.telegram_api import FakeBotApi
from tests.materials_support import shifted_config
from tests.reliability.support import free_ports

TOKEN = "123456:TEST-token"


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
    workdir = tmp_path_factory.mktemp("desk-http")
    env = clean_env(TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_BASE_URL=api.url, BOT_CONFIG=str(shifted_config(workdir)),
                    BOT_DATABASE_URL=f"sqlite:///{workdir / 'bot.db'}", BOT_MATERIALS_DIR=str(workdir / "materials"),
                    BOT_WEB_LISTEN=f"127.0.0.1:{port}", BOT_WEB_PUBLIC_URL="https://desk.example.test")
    running = BotProcess("desk-http", env, workdir).start()
    yield running
    assert running.stop() == 0, running.log()[-3000:]


def request(port: int, method: str, path: str, body: bytes = b"",
            headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    response.read()
    return response


def member_session(api: FakeBotApi, port: int) -> tuple[str, str]:
    """(cookie header, csrf token) of 方广成's desk session, signed in with the link 上传 answered."""
    user = TgUser(api, 5001)
    user.wait("（市公安局），您好", user.share_contact("13666987053"))
    reply = user.wait("链接只能用一次", user.say("上传"))
    found = re.search(r"https://desk\.example\.test(/login/[A-Za-z0-9_-]+)", reply.text)
    assert found is not None, reply.text
    opened = request(port, "POST", found.group(1))
    assert opened.status == 303
    cookie = opened.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie  # public URL is https
    session = cookie.split(";", 1)[0]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    conn.request("GET", "/materials", headers={"Cookie": session})
    page = conn.getresponse().read().decode()
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf is not None and "材料：市公安局" in page
    return session, csrf.group(1)


def multipart(fields: dict[str, str], filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = "----desktest"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                 f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def test_no_session_no_data(bot: BotProcess, port: int) -> None:
    for path in ("/progress", "/table", "/materials", "/table.xlsx", "/file/1"):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
        conn.request("GET", path)
        response = conn.getresponse()
        page = response.read().decode()
        assert response.status == 200 and "请登录" in page and "市公安局" not in page, path
    assert request(port, "GET", "/materials.zip").status == 403
    assert request(port, "GET", "/chart.svg").status == 403
    assert request(port, "POST", "/login/not-a-token").status == 403


def test_uploads_need_the_csrf_token_and_never_use_the_name_as_a_path(bot: BotProcess, api: FakeBotApi,
                                                                     port: int) -> None:
    session, csrf = member_session(api, port)
    body, kind = multipart({"kind": "summary"}, "a.pdf", b"%PDF no token")
    assert request(port, "POST", "/upload", body, {"Cookie": session, "Content-Type": kind}).status == 403
    body, kind = multipart({"kind": "summary", "csrf": csrf}, "../../../etc/总结.pdf", b"%PDF with token")
    answer = request(port, "POST", "/upload", body, {"Cookie": session, "Content-Type": kind})
    assert answer.status == 303
    note = urllib.parse.unquote(answer.headers["Location"])
    assert "已上传：市公安局-总结报告-" in note and ".." not in note
    materials = Path(bot.env["BOT_MATERIALS_DIR"])
    kept = [p for p in materials.rglob("*") if p.is_file()]
    assert len(kept) == 1 and kept[0].parent.parent.parent == materials and kept[0].name.startswith("市公安局-")
    body, kind = multipart({"kind": "summary", "csrf": csrf}, "run.sh", b"#!/bin/sh")
    refused = request(port, "POST", "/upload", body, {"Cookie": session, "Content-Type": kind})
    assert "不能接收" in urllib.parse.unquote(refused.headers["Location"])
    assert len([p for p in materials.rglob("*") if p.is_file()]) == 1
    # A member does not see another department's files.
    assert request(port, "GET", "/file/999", headers={"Cookie": session}).status == 404
