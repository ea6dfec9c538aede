"""Sign-in from the WeCom app menu: OAuth 网页授权 against the fake WeCom API on 127.0.0.1, no link needed."""

from __future__ import annotations

import http.client
import urllib.parse
from collections.abc import Iterator

import pytest

from tests.fakes.process import BotProcess, clean_env
from tests.fakes.wecom_api import AES_KEY, AGENT_ID, CORP_ID, SECRET, TOKEN, FakeWeComApi
from tests.materials_support import shifted_config
from tests.reliability.support import free_ports


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FakeWeComApi, int]]:
    tmp = tmp_path_factory.mktemp("oauth")
    port, callback = free_ports(2)
    config = shifted_config(tmp, edits={'name = "方广成"\n': 'name = "方广成"\nwecom_userid = "fanggc"\n'})
    with FakeWeComApi() as api:
        env = clean_env(
            BOT_CONFIG=str(config), BOT_DATABASE_URL=f"sqlite:///{tmp / 'bot.db'}",
            BOT_MATERIALS_DIR=str(tmp / "materials"), BOT_WEB_LISTEN=f"127.0.0.1:{port}",
            WECOM_CORP_ID=CORP_ID, WECOM_AGENT_ID=str(AGENT_ID), WECOM_SECRET=SECRET, WECOM_TOKEN=TOKEN,
            WECOM_ENCODING_AES_KEY=AES_KEY, WECOM_API_BASE_URL=api.base_url, WECOM_LISTEN=f"127.0.0.1:{callback}",
        )
        process = BotProcess("oauth", env, tmp).start()
        try:
            yield api, port
        finally:
            assert process.stop() == 0, process.log()[-3000:]


def get(port: int, path: str, cookie: str = "") -> tuple[http.client.HTTPResponse, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
    response = conn.getresponse()
    return response, response.read().decode()


def begin(port: int) -> tuple[str, str]:
    """(state, state cookie) from the menu entry's redirect to WeCom's authorize page."""
    started, _ = get(port, "/oauth/wecom")
    assert started.status == 302
    target = urllib.parse.urlsplit(started.headers["Location"])
    assert target.netloc == "open.weixin.qq.com" and target.fragment == "wechat_redirect"
    query = dict(urllib.parse.parse_qsl(target.query))
    assert query["appid"] == CORP_ID and query["scope"] == "snsapi_base" and query["agentid"] == str(AGENT_ID)
    assert query["redirect_uri"] == f"http://127.0.0.1:{port}/oauth/wecom/callback"
    return query["state"], started.headers["Set-Cookie"].split(";", 1)[0]


def test_a_listed_member_is_signed_in_by_wecom(desk: tuple[FakeWeComApi, int]) -> None:
    api, port = desk
    state, cookie = begin(port)
    api.oauth_codes["code-1"] = "fanggc"
    back, _ = get(port, f"/oauth/wecom/callback?code=code-1&state={state}", cookie)
    assert back.status == 303 and "HttpOnly" in back.headers["Set-Cookie"]
    session = back.headers["Set-Cookie"].split(";", 1)[0]
    _, page = get(port, "/materials", session)
    assert "材料：市公安局" in page


def test_a_stranger_or_a_forged_state_gets_nothing(desk: tuple[FakeWeComApi, int]) -> None:
    api, port = desk
    state, cookie = begin(port)
    api.oauth_codes["code-2"] = "someone-else"
    refused, page = get(port, f"/oauth/wecom/callback?code=code-2&state={state}", cookie)
    assert refused.status == 403 and "不在专项行动联系人名单" in page
    api.oauth_codes["code-3"] = "fanggc"
    forged, _ = get(port, "/oauth/wecom/callback?code=code-3&state=guessed", cookie)
    assert forged.status == 403 and "Set-Cookie" not in forged.headers
