"""Sign-in from DingTalk / 政务钉钉: DingTalk's OAuth 2.0 (登录第三方网站), so no link is needed there.

/oauth/dingtalk redirects to DingTalk's authorize page (scope openid, prompt consent), which comes back to
/oauth/dingtalk/callback with an authCode. The code is exchanged for the user's access token
(v1.0/oauth2/userAccessToken), which reads the user's unionId and mobile (v1.0/contact/users/me). The unionId
gives the directory userid (oapi topapi/user/getbyunionid, with the app's own token); a userid the contact list
knows opens a session. Failing that, a mobile that exactly one active contact has opens theirs. The state value is
bound to the browser by a short-lived cookie, so a callback started elsewhere opens nothing.

  DINGTALK_OAUTH_AUTHORIZE_URL   the authorize page (default login.dingtalk.com's; 政务钉钉 has its own)
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
AUTHORIZE = "https://login.dingtalk.com/oauth2/auth"
STATE_COOKIE = "desk_oauth_dingtalk_state"
NOT_CONFIGURED = "没有配置钉钉。"
_TIMEOUT = aiohttp.ClientTimeout(total=10)


class DingTalkOAuth:
    def __init__(self, app: App) -> None:
        from bot.dingtalk_settings import load_settings

        self.app = app
        self.settings = load_settings(app.campaign)  # None: DingTalk is not configured, the routes say so

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/oauth/dingtalk", self.begin), web.get("/oauth/dingtalk/callback", self.callback)]

    async def begin(self, request: web.Request) -> web.StreamResponse:
        if self.settings is None:
            raise web.HTTPNotFound(text=NOT_CONFIGURED)
        state = secrets.token_urlsafe(16)
        query = urlencode({"redirect_uri": f"{base_url(web_settings(self.app.campaign.web))}/oauth/dingtalk/callback",
                           "response_type": "code", "client_id": self.settings.client_id, "scope": "openid",
                           "state": state, "prompt": "consent"})
        authorize = os.environ.get("DINGTALK_OAUTH_AUTHORIZE_URL", "").strip() or AUTHORIZE
        response = web.HTTPFound(f"{authorize}?{query}")
        response.set_cookie(STATE_COOKIE, state, httponly=True, samesite="Lax", max_age=600, path="/oauth")
        raise response

    async def callback(self, request: web.Request) -> web.StreamResponse:
        from desk.server import COOKIE, render

        if self.settings is None:
            raise web.HTTPNotFound(text=NOT_CONFIGURED)
        # DingTalk names the code authCode; older pages and 政务钉钉 deployments may say code.
        state = request.query.get("state", "")
        code = request.query.get("authCode", "") or request.query.get("code", "")
        expected = request.cookies.get(STATE_COOKIE, "")
        if not code or not expected or not secrets.compare_digest(state, expected):
            return render("signin.html", 403, note="钉钉登录没有完成，请重新从钉钉打开。",
                          title=self.app.campaign.title)
        userid, mobile = await self._identity(code)
        opened = await asyncio.to_thread(self._open, userid, mobile) if userid or mobile else None
        if opened is None:
            return render("signin.html", 403, note="您不在专项行动联系人名单里，不能查看。",
                          title=self.app.campaign.title)
        response = web.HTTPSeeOther("/")
        secure = request.secure or request.headers.get("X-Forwarded-Proto", "") == "https"
        response.set_cookie(COOKIE, opened[0], httponly=True, samesite="Lax", secure=secure, path="/",
                            max_age=int(desk_auth.SESSION_TTL.total_seconds()))
        response.del_cookie(STATE_COOKIE, path="/oauth")
        raise response

    async def _identity(self, code: str) -> tuple[str, str]:
        """(directory userid or "", mobile or "") of the user who was given this code."""
        assert self.settings is not None
        api = self.settings.api_base_url
        try:  # trust_env: HTTPS_PROXY / NO_PROXY of a government network
            async with aiohttp.ClientSession(timeout=_TIMEOUT, trust_env=True) as http:
                user_token = await _json(http, "POST", f"{api}/v1.0/oauth2/userAccessToken", json={
                    "clientId": self.settings.client_id, "clientSecret": self.settings.client_secret,
                    "code": code, "grantType": "authorization_code"})
                access = str(user_token.get("accessToken") or "")
                if not access:
                    raise ValueError("userAccessToken: no accessToken in the answer")
                me = await _json(http, "GET", f"{api}/v1.0/contact/users/me",
                                 headers={"x-acs-dingtalk-access-token": access})
                union_id, mobile = str(me.get("unionId") or ""), str(me.get("mobile") or "")
                userid = await self._userid(http, union_id) if union_id else ""
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.warning("dingtalk oauth failed: %s", exc)
            return "", ""
        return userid, mobile

    async def _userid(self, http: aiohttp.ClientSession, union_id: str) -> str:
        """The directory userid of a unionId; "" for someone outside the organisation."""
        assert self.settings is not None
        corp = await _json(http, "POST", f"{self.settings.api_base_url}/v1.0/oauth2/accessToken",
                           json={"appKey": self.settings.client_id, "appSecret": self.settings.client_secret})
        token = str(corp.get("accessToken") or "")
        if not token:
            raise ValueError("oauth2/accessToken: no accessToken in the answer")
        found = await _json(http, "POST", f"{self.settings.oapi_base_url}/topapi/user/getbyunionid",
                            params={"access_token": token}, json={"unionid": union_id})
        if found.get("errcode", 0) != 0:  # 60121: not a member of this organisation
            log.info("dingtalk oauth: getbyunionid answered %s %s", found.get("errcode"), found.get("errmsg"))
            return ""
        result = found.get("result")
        return str(result.get("userid") or "") if isinstance(result, dict) else ""

    def _open(self, userid: str, mobile: str) -> tuple[str, str] | None:
        with self.app.db.session() as s:
            person = directory.bound_person(s, "dingtalk", userid) if userid else None  # config ids included
            if person is None and mobile:
                same = [p for p in directory.people_by_mobile(s, mobile) if p.active]
                person = same[0] if len(same) == 1 else None  # two contacts share it: nobody's, to be safe
            if person is None or not person.active:
                return None
            return desk_auth.open_session(s, person.id, self.app.now())


async def _json(http: aiohttp.ClientSession, method: str, url: str, **kw: Any) -> dict[str, Any]:
    async with http.request(method, url, **kw) as answer:
        data = await answer.json(content_type=None)
        status = answer.status
    if not isinstance(data, dict):
        raise ValueError(f"{url}: not a JSON object")
    if status >= 400:  # the v1.0 API answers errors as {code, message} with an HTTP error status
        raise ValueError(f"{url}: HTTP {status} {data.get('code')} {data.get('message')}")
    return data
