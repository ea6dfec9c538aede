"""Sign-in from DingTalk: OAuth 2.0 against the fake DingTalk API on 127.0.0.1, no link needed.

The desk runs in-process (bot.app.build_app + desk.server.serve_in_thread) and is spoken to over plain HTTP.
Until desk/server.py registers DingTalkOAuth's routes, the fixture adds them; once it does, it adds nothing.
"""

from __future__ import annotations

import asyncio
import http.client
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from bot.app import App, build_app
from desk.oauth_dingtalk import DingTalkOAuth
from desk.server import Desk, serve_in_thread
from tests.fakes.dingtalk_api import CLIENT_ID, CLIENT_SECRET, FakeDingTalk
from tests.materials_support import shifted_config
from tests.reliability.support import free_ports

ADMIN_USERID = "WangYH"  # 王永辉, 网监科 (admin): known to the contact list by this DingTalk id
FANG_MOBILE = "13666987053"  # 方广成's mobile in config.toml; no DingTalk id


@dataclass
class Running:
    api: FakeDingTalk
    port: int
    app: App


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    tmp = tmp_path_factory.mktemp("oauth-dingtalk")
    (port,) = free_ports(1)
    config = shifted_config(tmp, edits={'name = "王永辉"\n': f'name = "王永辉"\ndingtalk_userid = "{ADMIN_USERID}"\n'})
    original = Desk.web_app

    def web_app(self: Desk) -> web.Application:
        application = original(self)
        known = {getattr(r, "canonical", "") for r in application.router.resources()}
        if "/oauth/dingtalk" not in known:  # desk/server.py does not register the routes yet
            application.add_routes(DingTalkOAuth(self.app).routes())
        return application

    with FakeDingTalk() as api, pytest.MonkeyPatch.context() as mp:
        for key, value in {"BOT_WEB_LISTEN": f"127.0.0.1:{port}", "BOT_MATERIALS_DIR": str(tmp / "materials"),
                           "DINGTALK_CLIENT_ID": CLIENT_ID, "DINGTALK_CLIENT_SECRET": CLIENT_SECRET,
                           "DINGTALK_API_BASE_URL": api.base_url, "DINGTALK_OAPI_BASE_URL": api.base_url}.items():
            mp.setenv(key, value)
        for key in ("BOT_WEB_PUBLIC_URL", "DINGTALK_OAUTH_AUTHORIZE_URL", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy",
                    "https_proxy"):  # trust_env: a proxy of the machine running the tests must not step in
            mp.delenv(key, raising=False)
        mp.setattr(Desk, "web_app", web_app)
        app = build_app(config, f"sqlite:///{tmp / 'bot.db'}")
        stop = serve_in_thread(app)
        try:
            yield Running(api, port, app)
        finally:
            stop()
            app.close()


def get(port: int, path: str, cookie: str = "") -> tuple[http.client.HTTPResponse, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
    response = conn.getresponse()
    return response, response.read().decode()


def begin(port: int) -> tuple[str, str]:
    """(state, state cookie) from /oauth/dingtalk's redirect to DingTalk's authorize page."""
    started, _ = get(port, "/oauth/dingtalk")
    assert started.status == 302
    target = urllib.parse.urlsplit(started.headers["Location"])
    assert (target.scheme, target.netloc, target.path) == ("https", "login.dingtalk.com", "/oauth2/auth")
    query = dict(urllib.parse.parse_qsl(target.query))
    assert query["client_id"] == CLIENT_ID and query["scope"] == "openid" and query["prompt"] == "consent"
    assert query["response_type"] == "code"
    assert query["redirect_uri"] == f"http://127.0.0.1:{port}/oauth/dingtalk/callback"
    cookie = started.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "Path=/oauth" in cookie
    return query["state"], cookie.split(";", 1)[0]


def signed_in(desk: Running, code: str, union_id: str, mobile: str) -> str:
    """The session cookie a DingTalk user with this code gets."""
    state, cookie = begin(desk.port)
    desk.api.oauth_codes[code] = (union_id, mobile)
    back, _ = get(desk.port, f"/oauth/dingtalk/callback?authCode={code}&state={state}", cookie)
    assert back.status == 303 and back.headers["Location"] == "/"
    session = back.headers["Set-Cookie"]
    assert session.startswith("desk_session=") and "HttpOnly" in session and "SameSite=Lax" in session
    return session.split(";", 1)[0]


def test_a_contact_with_a_known_dingtalk_id_is_signed_in(desk: Running) -> None:
    desk.api.unionids["union-wyh"] = ADMIN_USERID.lower()  # DingTalk userids compare case-insensitively
    session = signed_in(desk, "code-1", "union-wyh", "13900000001")
    home, _ = get(desk.port, "/", session)
    assert home.status == 303 and home.headers["Location"] == "/progress"  # an admin oversees
    progress, page = get(desk.port, "/progress", session)
    assert progress.status == 200 and "<h2>进度" in page and "已报数" in page
    assert "code-1" not in desk.api.oauth_codes  # spent


def test_a_contact_is_found_by_a_mobile_only_they_have(desk: Running) -> None:
    session = signed_in(desk, "code-2", "union-outside", FANG_MOBILE)  # getbyunionid: not in the organisation
    _, page = get(desk.port, "/materials", session)
    assert "材料：市公安局" in page


def test_a_stranger_gets_the_sign_in_page(desk: Running) -> None:
    state, cookie = begin(desk.port)
    desk.api.oauth_codes["code-3"] = ("union-stranger", "13900000009")
    refused, page = get(desk.port, f"/oauth/dingtalk/callback?authCode=code-3&state={state}", cookie)
    assert refused.status == 403 and "不在专项行动联系人名单" in page and "Set-Cookie" not in refused.headers
    again, _ = get(desk.port, f"/oauth/dingtalk/callback?authCode=code-3&state={state}", cookie)
    assert again.status == 403  # the code is spent; nothing opens


def test_a_wrong_state_opens_nothing(desk: Running) -> None:
    desk.api.unionids["union-wyh"] = ADMIN_USERID
    _, cookie = begin(desk.port)
    desk.api.oauth_codes["code-4"] = ("union-wyh", "")
    forged, page = get(desk.port, "/oauth/dingtalk/callback?authCode=code-4&state=guessed", cookie)
    assert forged.status == 403 and "Set-Cookie" not in forged.headers and "钉钉登录没有完成" in page
    no_cookie, _ = get(desk.port, "/oauth/dingtalk/callback?authCode=code-4&state=guessed")
    assert no_cookie.status == 403 and "Set-Cookie" not in no_cookie.headers
    assert "code-4" in desk.api.oauth_codes  # DingTalk was never asked


def test_without_dingtalk_the_routes_say_so(desk: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DINGTALK_CLIENT_SECRET")
    oauth = DingTalkOAuth(desk.app)
    for handler, path in ((oauth.begin, "/oauth/dingtalk"), (oauth.callback, "/oauth/dingtalk/callback")):
        with pytest.raises(web.HTTPNotFound) as answer:
            asyncio.run(handler(make_mocked_request("GET", path)))
        assert answer.value.text == "没有配置钉钉。"
