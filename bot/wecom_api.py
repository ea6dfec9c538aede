"""The WeCom server API the bot calls: gettoken, message/send and media/upload. One narrow boundary.

Own aiohttp client rather than wechatpy's: wechatpy hard-codes qyapi.weixin.qq.com for some calls
(the access token among them), and a 政务微信 private deployment lives at its own address. Every URL
here is built from api_base_url.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from bot.delivery import Verdict, with_retries
from bot.wecom_settings import WeComSettings

log = logging.getLogger(__name__)

# 40001 invalid secret or token, 40014 invalid access_token, 42001 access_token expired:
# the cached token is no good, so fetch a new one and try once more.
TOKEN_ERRORS = frozenset({40001, 40014, 42001})
TOKEN_MARGIN = 300.0  # seconds: renew a little before WeCom's expiry, not on the first failure
TEXT_LIMIT = 2048  # bytes of UTF-8 WeCom accepts in one text message
# -1 system busy, 45009 rate limited (PLATFORMS.md): worth another try. 81013: every recipient is invalid,
# e.g. outside the app's visible range; 60111: no such userid. Trying again would fail again.
BUSY_ERRORS = frozenset({-1, 45009})
REFUSED_ERRORS = frozenset({81013, 60111})


class WeComApiError(Exception):
    """WeCom answered a call with an error code (or not with JSON at all)."""

    def __init__(self, call: str, errcode: int, errmsg: str, http_status: int = 200) -> None:
        self.call = call
        self.errcode = errcode
        self.errmsg = errmsg
        self.http_status = http_status
        super().__init__(f"WeCom {call}: errcode {errcode}: {errmsg}")


def verdict(exc: BaseException) -> Verdict:
    """How the one retry policy (bot/delivery.py) treats a failed WeCom call."""
    if isinstance(exc, WeComApiError):
        if exc.errcode in REFUSED_ERRORS:
            return "permanent"
        if exc.http_status >= 500 or (exc.http_status == 200 and exc.errcode in BUSY_ERRORS):
            return "transient"
        return "other"
    if isinstance(exc, aiohttp.ClientError | TimeoutError):  # connection refused or reset, a hang past the timeout
        return "transient"
    return "other"


class MediaTooLarge(Exception):
    """A picture or video larger than the configured cap: not downloaded."""

    def __init__(self, size: int) -> None:
        self.size = size
        super().__init__(f"media of {size} bytes is over the cap")


class WeComApi:
    """Calls WeCom with a cached access token; a token WeCom refuses is renewed once per call."""

    def __init__(self, settings: WeComSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None
        self._token: str | None = None
        self._token_until = 0.0
        self._token_lock = asyncio.Lock()

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            # trust_env: a government network reaches WeCom through HTTPS_PROXY / HTTP_PROXY; NO_PROXY keeps
            # intranet hosts (a 政务微信 private deployment) direct.
            timeout = aiohttp.ClientTimeout(total=self.settings.timeout_seconds, connect=10)
            self._session = aiohttp.ClientSession(timeout=timeout, raise_for_status=False, trust_env=True)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send_text(self, userid: str, content: str) -> None:
        """One text message (at most TEXT_LIMIT bytes) to one member."""
        await self._call("message/send", json={
            "touser": userid, "msgtype": "text", "agentid": self.settings.agent_id,
            "text": {"content": content}, "safe": 0,
        })

    async def send_file(self, userid: str, media_id: str) -> None:
        await self._call("message/send", json={
            "touser": userid, "msgtype": "file", "agentid": self.settings.agent_id,
            "file": {"media_id": media_id}, "safe": 0,
        })

    async def upload_file(self, filename: str, data: bytes) -> str:
        """Upload a temporary file (kept 3 days by WeCom) and return its media_id."""

        def form() -> aiohttp.FormData:
            # A fresh form per attempt: aiohttp consumes it. quote_fields=False sends the Chinese filename as
            # UTF-8, as WeCom shows it; quoted, the member would see %E4%B8%89….
            body = aiohttp.FormData(quote_fields=False)
            body.add_field("media", data, filename=_safe_filename(filename), content_type="application/octet-stream")
            return body

        answer = await self._call("media/upload", params={"type": "file"}, form=form)
        media_id = answer.get("media_id")
        if not isinstance(media_id, str) or not media_id:
            raise WeComApiError("media/upload", -1, "no media_id in the answer")
        return media_id

    async def send_card(self, userid: str, card: dict[str, Any]) -> None:
        """A template card (button_interaction): choices the member presses instead of typing."""
        await self._call("message/send", json={
            "touser": userid, "msgtype": "template_card", "agentid": self.settings.agent_id, "template_card": card,
        })

    async def update_card_button(self, userid: str, response_code: str, replace_name: str) -> None:
        """Turn a pressed card's buttons into one grey label (WeCom allows one update per ResponseCode)."""
        await self._call("message/update_template_card", json={
            "userids": [userid], "agentid": self.settings.agent_id, "response_code": response_code,
            "button": {"replace_name": replace_name},
        })

    async def create_menu(self, buttons: list[dict[str, Any]]) -> None:
        await self._call("menu/create", params={"agentid": str(self.settings.agent_id)}, json={"button": buttons})

    async def agent(self) -> dict[str, Any]:
        """agent/get: one read that needs a valid token and, for newer apps, the server's IP in 企业可信IP."""
        return await self._call("agent/get", params={"agentid": str(self.settings.agent_id)}, method="GET")

    async def userid_by_mobile(self, mobile: str) -> str | None:
        """user/getuserid: the member with this mobile, None when the app may not see one (46004, 60111)."""
        try:
            answer = await self._call("user/getuserid", json={"mobile": mobile})
        except WeComApiError as exc:
            if exc.errcode in (46004, 60111):
                return None
            raise
        userid = answer.get("userid")
        return str(userid) if userid else None

    async def download(self, media_id: str, limit: int) -> bytes:
        """media/get: a picture or video the member sent, refused when larger than `limit` bytes."""
        for attempt in (1, 2):
            token = await self.access_token()
            url = f"{self.settings.api_base_url}/cgi-bin/media/get"
            async with self.session.get(url, params={"access_token": token, "media_id": media_id}) as resp:
                if resp.status != 200:
                    raise WeComApiError("media/get", -1, f"HTTP {resp.status}")
                if resp.content_type in ("application/json", "text/plain"):  # an error, not the file
                    answer = await resp.json(content_type=None)
                    code = int(answer.get("errcode", -1)) if isinstance(answer, dict) else -1
                    if code in TOKEN_ERRORS and attempt == 1:
                        self._drop_token(token)
                        continue
                    raise WeComApiError("media/get", code, str(answer))
                if (resp.content_length or 0) > limit:
                    raise MediaTooLarge(resp.content_length or 0)
                data = bytearray()
                async for chunk in resp.content.iter_chunked(64 * 1024):
                    data += chunk
                    if len(data) > limit:
                        raise MediaTooLarge(len(data))
                return bytes(data)
        raise AssertionError("unreachable")

    async def access_token(self) -> str:
        """The cached token, fetched again when it is (nearly) expired or was refused."""
        async with self._token_lock:  # concurrent sends share one fetch
            if self._token is None or self._clock() >= self._token_until:
                answer = await self._request("GET", "gettoken", {
                    "corpid": self.settings.corp_id, "corpsecret": self.settings.secret,
                })
                token, expires = answer.get("access_token"), answer.get("expires_in", 7200)
                if not isinstance(token, str) or not token or not isinstance(expires, int):
                    raise WeComApiError("gettoken", -1, "no access_token in the answer")
                self._token = token
                self._token_until = self._clock() + max(expires - TOKEN_MARGIN, expires / 2)
                log.info("WeCom access token fetched, valid for %d s", expires)
            return self._token

    def _drop_token(self, token: str) -> None:
        # Only the token that failed: another call may already have fetched its successor.
        if self._token == token:
            self._token = None

    async def _call(self, call: str, *, json: dict[str, Any] | None = None, params: dict[str, str] | None = None,
                    form: Callable[[], aiohttp.FormData] | None = None, method: str = "POST") -> dict[str, Any]:
        """One API call under the retry policy: busy answers, 5xx, time-outs and connection errors are tried
        again with backoff; a refused recipient raises delivery.Undeliverable."""
        return await with_retries(
            lambda: self._call_once(call, json=json, params=params, form=form, method=method), verdict,
            what=f"WeCom {call}")

    async def _call_once(self, call: str, *, json: dict[str, Any] | None = None,
                         params: dict[str, str] | None = None,
                         form: Callable[[], aiohttp.FormData] | None = None, method: str = "POST") -> dict[str, Any]:
        for attempt in (1, 2):
            token = await self.access_token()
            try:
                return await self._request(method, call, {**(params or {}), "access_token": token},
                                           json=json, data=form() if form else None)
            except WeComApiError as exc:
                if exc.errcode not in TOKEN_ERRORS or attempt == 2:
                    raise
                log.info("WeCom refused the access token (errcode %d); fetching a new one", exc.errcode)
                self._drop_token(token)
        raise AssertionError("unreachable")

    async def _request(self, method: str, call: str, params: dict[str, str], *, json: dict[str, Any] | None = None,
                       data: aiohttp.FormData | None = None) -> dict[str, Any]:
        url = f"{self.settings.api_base_url}/cgi-bin/{call}"
        # Errors name the call, never the URL: its query holds the secret or the token.
        async with self.session.request(method, url, params=params, json=json, data=data) as resp:
            if resp.status != 200:
                raise WeComApiError(call, -1, f"HTTP {resp.status}", http_status=resp.status)
            try:
                answer = await resp.json(content_type=None)
            except ValueError:
                raise WeComApiError(call, -1, "the answer is not JSON") from None
        if not isinstance(answer, dict):
            raise WeComApiError(call, -1, "the answer is not a JSON object")
        errcode = answer.get("errcode", 0)
        if errcode != 0:
            raise WeComApiError(call, errcode if isinstance(errcode, int) else -1, str(answer.get("errmsg", "")))
        if answer.get("invaliduser"):
            # One recipient per call: a partial failure is a refusal of that one member.
            log.warning("WeCom %s: not delivered to %s (outside the app's visible range?)", call, answer["invaliduser"])
            raise WeComApiError(call, 81013, f"invaliduser {answer['invaliduser']}")
        return answer


def _safe_filename(name: str) -> str:
    # The name goes raw into a quoted header: quotes, backslashes and line breaks would break out of it.
    cleaned = "".join("_" if ch in '"\\\r\n' or ord(ch) < 32 else ch for ch in name).strip()
    return cleaned or "file"


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Cut text into pieces of at most `limit` UTF-8 bytes, after a line break where possible.

    Joined together the pieces give the text back exactly.
    """
    pieces: list[str] = []
    while _size(text) > limit:
        # The longest prefix that fits, found by bytes (a Chinese character is 3 of them).
        size, cut = 0, 0
        for n, ch in enumerate(text):
            size += _size(ch)
            if size > limit:
                break
            cut = n + 1
        cut = max(cut, 1)  # a limit below one character still makes progress
        newline = text.rfind("\n", 0, cut)
        if newline >= cut // 2:  # a line break in the second half: cut after it
            cut = newline + 1
        pieces.append(text[:cut])
        text = text[cut:]
    if text:
        pieces.append(text)
    return pieces


def _size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))
