"""Sign-in from the WeCom (政务微信) app menu: WeCom's OAuth 网页授权, so no link is needed there.

The menu opens /oauth/wecom; it redirects to WeCom's authorize page (scope snsapi_base: only the user id, no
consent screen), which comes back to /oauth/wecom/callback with a code. The code is exchanged for the member's
userid with cgi-bin/auth/getuserinfo, and a userid the contact list knows opens a session. The state value is
bound to the browser by a short-lived cookie, so a callback started elsewhere opens nothing.

  WECOM_OAUTH_AUTHORIZE_URL   the authorize page (default open.weixin.qq.com's; 政务微信 deployments have their own)
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from bot.app import App
from campaign.materials import base_url, web_settings
from store import desk_auth, directory

log = logging.getLogger(__name__)
AUTHORIZE = "https://open.weixin.qq.com/connect/oauth2/authorize"
STATE_COOKIE = "desk_oauth_state"


class WeComOAuth:
    def __init__(self, app: App) -> None:
        from bot.wecom_settings import load_settings

        self.app = app
        self.settings = load_settings(app.campaign)  # None: WeCom is not configured, the routes say so

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/oauth/wecom", self.begin), web.get("/oauth/wecom/callback", self.callback)]

    async def begin(self, request: web.Request) -> web.StreamResponse:
        if self.settings is None:
            raise web.HTTPNotFound(text="没有配置企业微信。")
        state = secrets.token_urlsafe(16)
        query = urlencode({"appid": self.settings.corp_id,
                           "redirect_uri": f"{base_url(web_settings(self.app.campaign.web))}/oauth/wecom/callback",
                           "response_type": "code", "scope": "snsapi_base", "state": state,
                           "agentid": str(self.settings.agent_id)})
        authorize = os.environ.get("WECOM_OAUTH_AUTHORIZE_URL", "").strip() or AUTHORIZE
        response = web.HTTPFound(f"{authorize}?{query}#wechat_redirect")
        response.set_cookie(STATE_COOKIE, state, httponly=True, samesite="Lax", max_age=600, path="/oauth")
        raise response

    async def callback(self, request: web.Request) -> web.StreamResponse:
        from desk.server import COOKIE, render

        state, code = request.query.get("state", ""), request.query.get("code", "")
        expected = request.cookies.get(STATE_COOKIE, "")
        if self.settings is None or not code or not expected or not secrets.compare_digest(state, expected):
            return render("signin.html", 403, note="企业微信登录没有完成，请从应用菜单重新打开。",
                          title=self.app.campaign.title)
        userid = await self._userid(code)
        opened = await asyncio.to_thread(self._open, userid) if userid else None
        if opened is None:
            return render("signin.html", 403, note="您不在专项行动联系人名单里，不能查看。",
                          title=self.app.campaign.title)
        response = web.HTTPSeeOther("/")
        secure = request.secure or request.headers.get("X-Forwarded-Proto", "") == "https"
        response.set_cookie(COOKIE, opened[0], httponly=True, samesite="Lax", secure=secure, path="/",
                            max_age=int(desk_auth.SESSION_TTL.total_seconds()))
        response.del_cookie(STATE_COOKIE, path="/oauth")
        raise response

    async def _userid(self, code: str) -> str:
        assert self.settings is not None
        api = self.settings.api_base_url
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
                token = await _json(http, f"{api}/cgi-bin/gettoken",
                                    {"corpid": self.settings.corp_id, "corpsecret": self.settings.secret})
                info = await _json(http, f"{api}/cgi-bin/auth/getuserinfo",
                                   {"access_token": str(token.get("access_token", "")), "code": code})
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.warning("wecom oauth failed: %s", exc)
            return ""
        if info.get("errcode", 0) != 0:
            log.warning("wecom oauth: getuserinfo answered %s %s", info.get("errcode"), info.get("errmsg"))
            return ""
        return str(info.get("userid") or info.get("UserId") or "")  # a non-member has only an openid

    def _open(self, userid: str) -> tuple[str, str] | None:
        with self.app.db.session() as s:
            person = directory.bound_person(s, "wecom", userid)  # directory ids included (identities)
            if person is None or not person.active:
                return None
            return desk_auth.open_session(s, person.id, self.app.now())


async def _json(http: aiohttp.ClientSession, url: str, params: dict[str, str]) -> dict[str, Any]:
    async with http.get(url, params=params) as answer:
        data = await answer.json(content_type=None)
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return data
