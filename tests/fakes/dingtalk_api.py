"""A fake DingTalk on 127.0.0.1: the open API, the stream gateway with a real websocket, and oapi.

One aiohttp server in a thread answers what the bot calls:
  POST /v1.0/oauth2/accessToken              the access token
  POST /v1.0/gateway/connections/open        {endpoint, ticket}; the endpoint is this server's /connect
  GET  /connect?ticket=…                     the stream websocket (a ticket works once)
  POST /v1.0/robot/oToMessages/batchSend     robot messages (recorded)
  POST /media/upload                          oapi file upload (recorded, answers a media_id)
  POST /topapi/v2/user/getbymobile           oapi user lookup by mobile
  POST /v1.0/oauth2/userAccessToken          OAuth sign-in: an authCode for a user's token (a code works once)
  GET  /v1.0/contact/users/me                that user's unionId, mobile and nick
  POST /topapi/user/getbyunionid             oapi: a unionId's directory userid
Tests push robot messages down the websocket as CALLBACK frames (deliver) and wait for the bot's ACKs and
messages on a condition variable: no sleeps.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import WSMsgType, web

T = TypeVar("T")
CLIENT_ID = "dingfakeclientid0001"
CLIENT_SECRET = "fake-dingtalk-secret"
ROBOT_CODE = "dingfakerobot"
TOPIC = "/v1.0/im/bot/messages/get"


@dataclass
class Sent:
    """One robot message the bot sent (batchSend)."""

    userid: str
    key: str  # msgKey: sampleText, sampleActionCard2, sampleFile, …
    param: dict[str, Any]
    token: str

    @property
    def text(self) -> str:
        return str(self.param.get("content") or self.param.get("text") or "")


@dataclass
class Upload:
    filename: str
    data: bytes = field(repr=False)
    media_id: str = ""


@dataclass
class FakeState:
    sent: list[Sent] = field(default_factory=list)
    uploads: list[Upload] = field(default_factory=list)
    acks: dict[str, dict[str, Any]] = field(default_factory=dict)  # frame messageId -> the bot's ACK
    opened: list[dict[str, Any]] = field(default_factory=list)  # bodies of connections/open
    lookups: list[str] = field(default_factory=list)  # mobiles asked for
    connections: int = 0


class FakeDingTalk:
    """DingTalk's servers in a thread. Use as a context manager; base_url serves both API and oapi."""

    def __init__(self, mobiles: dict[str, str] | None = None) -> None:
        self.mobiles = dict(mobiles or {})  # mobile -> userid, for getbymobile
        self.state = FakeState()
        self.changed = threading.Condition()
        self._tickets: set[str] = set()
        self._token = "dt-token-1"
        self._media = itertools.count(1)
        self._frames = itertools.count(1)
        self._ws: web.WebSocketResponse | None = None
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self.base_url = ""
        self.oauth_codes: dict[str, tuple[str, str]] = {}  # authCode -> (unionId, mobile); each answered once
        self.unionids: dict[str, str] = {}  # unionId -> directory userid, for getbyunionid
        self._user_tokens: dict[str, tuple[str, str]] = {}  # user access token -> (unionId, mobile)
        self.failures: list[int] = []  # HTTP statuses the next batchSend calls answer (500: DingTalk is down)
        self.refused: set[str] = set()  # userids batchSend reports in invalidStaffIdList (outside the range)

    def __enter__(self) -> FakeDingTalk:
        self._thread.start()
        if not self._ready.wait(10):
            raise AssertionError("fake DingTalk did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    # -- what tests use -------------------------------------------------------------------------------

    def wait_for(self, found: Callable[[FakeState], T | None], timeout: float = 15.0) -> T:
        with self.changed:
            result = self.changed.wait_for(lambda: found(self.state), timeout)
            if not result:
                raise AssertionError(f"fake DingTalk: not seen within {timeout} s; state: {self.state}")
            return result

    def sent_to(self, userid: str) -> list[Sent]:
        with self.changed:
            return [s for s in self.state.sent if s.userid.lower() == userid.lower()]  # as DingTalk compares

    def wait_sent(self, userid: str, contains: str, after: int = 0, key: str | None = None) -> Sent:
        def found(state: FakeState) -> Sent | None:
            mine = [s for s in state.sent if s.userid.lower() == userid.lower()][after:]
            return next((s for s in mine if contains in s.text and (key is None or s.key == key)), None)

        return self.wait_for(found)

    def deliver(self, sender: str, text: str, *, msg_id: str | None = None, frame_id: str | None = None,
                conversation_type: str = "1", nick: str = "") -> str:
        """Push one robot message down the stream; return the frame's messageId (what the ACK names)."""
        frame_id = frame_id or f"frame-{next(self._frames)}"
        data = {
            "conversationId": f"cid-{sender}", "chatbotCorpId": "dingcorp", "chatbotUserId": "$:bot",
            "msgId": msg_id or f"msg{secrets.token_hex(8)}", "senderNick": nick or sender, "isAdmin": False,
            "senderStaffId": sender, "sessionWebhookExpiredTime": 1_900_000_000_000, "createAt": 1_692_064_800_000,
            "senderCorpId": "dingcorp", "conversationType": conversation_type, "senderId": f"$:LWCP:{sender}",
            "sessionWebhook": f"{self.base_url}/robot/sendBySession?session=x", "robotCode": ROBOT_CODE,
            "msgtype": "text", "text": {"content": text},
        }
        frame = {"specVersion": "1.0", "type": "CALLBACK", "headers": {
            "appId": "app", "connectionId": "conn", "contentType": "application/json", "messageId": frame_id,
            "time": "1692064800000", "topic": TOPIC}, "data": json.dumps(data, ensure_ascii=False)}
        self._send_frame(frame)
        return frame_id

    def ping(self) -> str:
        frame_id = f"ping-{next(self._frames)}"
        self._send_frame({"specVersion": "1.0", "type": "SYSTEM", "headers": {
            "contentType": "application/json", "messageId": frame_id, "topic": "ping", "time": "1"},
            "data": json.dumps({"opaque": "x"})})
        return frame_id

    def wait_ack(self, frame_id: str) -> dict[str, Any]:
        return self.wait_for(lambda state: state.acks.get(frame_id))

    def _send_frame(self, frame: dict[str, Any]) -> None:
        ws = self.wait_for(lambda _: self._ws)
        asyncio.run_coroutine_threadsafe(ws.send_str(json.dumps(frame, ensure_ascii=False)), self._loop).result(10)

    # -- the fake server ------------------------------------------------------------------------------

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post("/v1.0/oauth2/accessToken", self._access_token)
        app.router.add_post("/v1.0/gateway/connections/open", self._open)
        app.router.add_get("/connect", self._connect)
        app.router.add_post("/v1.0/robot/oToMessages/batchSend", self._batch_send)
        app.router.add_post("/media/upload", self._upload)
        app.router.add_post("/topapi/v2/user/getbymobile", self._getbymobile)
        app.router.add_post("/v1.0/oauth2/userAccessToken", self._user_access_token)
        app.router.add_get("/v1.0/contact/users/me", self._users_me)
        app.router.add_post("/topapi/user/getbyunionid", self._getbyunionid)
        runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        port = runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())

    def _note(self, change: Callable[[FakeState], None]) -> None:
        with self.changed:
            change(self.state)
            self.changed.notify_all()

    async def _access_token(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("appKey") != CLIENT_ID or body.get("appSecret") != CLIENT_SECRET:
            return web.json_response({"code": "invalidClientIdOrSecret", "message": "bad"}, status=400)
        return web.json_response({"accessToken": self._token, "expireIn": 7200})

    async def _open(self, request: web.Request) -> web.Response:
        body = await request.json()
        self._note(lambda s: s.opened.append(body))
        if body.get("clientId") != CLIENT_ID or body.get("clientSecret") != CLIENT_SECRET:
            return web.json_response({"code": "invalidClientId", "message": "bad"}, status=401)
        ticket = secrets.token_urlsafe(12)
        self._tickets.add(ticket)
        host = request.host
        return web.json_response({"endpoint": f"ws://{host}/connect", "ticket": ticket})

    async def _connect(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            return web.Response(status=403, text="bad ticket")
        self._tickets.discard(ticket)  # a ticket opens one connection
        ws = web.WebSocketResponse()
        await ws.prepare(request)

        def connected(state: FakeState) -> None:
            state.connections += 1
            self._ws = ws

        self._note(connected)
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                ack: dict[str, Any] = json.loads(msg.data)
                self._note(functools.partial(_record_ack, ack))
        if self._ws is ws:
            self._ws = None
        return ws

    def _authorised(self, token: str) -> bool:
        return token == self._token

    async def _batch_send(self, request: web.Request) -> web.Response:
        token = request.headers.get("x-acs-dingtalk-access-token", "")
        if not self._authorised(token):
            return web.json_response({"code": "InvalidAuthentication", "message": "token"}, status=401)
        body = await request.json()
        if body.get("robotCode") != ROBOT_CODE:
            return web.json_response({"code": "invalidRobotCode", "message": "robot"}, status=400)
        if self.failures:
            return web.json_response({"code": "ServiceUnavailable", "message": "busy"}, status=self.failures.pop(0))
        param = json.loads(body["msgParam"])
        refused = [str(u) for u in body["userIds"] if str(u) in self.refused]
        sent = [Sent(str(userid), body["msgKey"], param, token) for userid in body["userIds"]
                if str(userid) not in self.refused]
        self._note(lambda s: s.sent.extend(sent))
        return web.json_response({"processQueryKey": secrets.token_hex(8), "invalidStaffIdList": refused,
                                  "flowControlledStaffIdList": []})

    async def _upload(self, request: web.Request) -> web.Response:
        if not self._authorised(request.query.get("access_token", "")):
            return web.json_response({"errcode": 40014, "errmsg": "invalid token"})
        form = await request.post()
        media = form.get("media")
        if not isinstance(media, web.FileField) or form.get("type") != "file":
            return web.json_response({"errcode": 40004, "errmsg": "invalid media"})
        upload = Upload(media.filename, media.file.read(), f"@media{next(self._media)}")
        self._note(lambda s: s.uploads.append(upload))
        return web.json_response({"errcode": 0, "errmsg": "ok", "type": "file", "media_id": upload.media_id,
                                  "created_at": 1})

    async def _getbymobile(self, request: web.Request) -> web.Response:
        if not self._authorised(request.query.get("access_token", "")):
            return web.json_response({"errcode": 40014, "errmsg": "invalid token"})
        mobile = str((await request.json()).get("mobile", ""))
        self._note(lambda s: s.lookups.append(mobile))
        if mobile in self.mobiles:
            return web.json_response({"errcode": 0, "errmsg": "ok", "result": {"userid": self.mobiles[mobile]}})
        return web.json_response({"errcode": 60121, "errmsg": "找不到该用户"})

    async def _user_access_token(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("clientId") != CLIENT_ID or body.get("clientSecret") != CLIENT_SECRET:
            return web.json_response({"code": "invalidClientIdOrSecret", "message": "bad"}, status=400)
        user = self.oauth_codes.pop(str(body.get("code", "")), None)  # a code is answered once
        if body.get("grantType") != "authorization_code" or user is None:
            return web.json_response({"code": "invalidAuthCode", "message": "code"}, status=400)
        token = f"dt-user-{secrets.token_hex(8)}"
        self._user_tokens[token] = user
        return web.json_response({"accessToken": token, "refreshToken": secrets.token_hex(8), "expireIn": 7200,
                                  "corpId": "dingcorp"})

    async def _users_me(self, request: web.Request) -> web.Response:
        user = self._user_tokens.get(request.headers.get("x-acs-dingtalk-access-token", ""))
        if user is None:
            return web.json_response({"code": "InvalidAuthentication", "message": "token"}, status=401)
        union_id, mobile = user
        return web.json_response({"nick": union_id, "unionId": union_id, "openId": f"open-{union_id}",
                                  "mobile": mobile, "stateCode": "86"})

    async def _getbyunionid(self, request: web.Request) -> web.Response:
        if not self._authorised(request.query.get("access_token", "")):
            return web.json_response({"errcode": 40014, "errmsg": "invalid token"})
        union_id = str((await request.json()).get("unionid", ""))
        if union_id in self.unionids:
            return web.json_response({"errcode": 0, "errmsg": "ok",
                                      "result": {"contact_type": 0, "userid": self.unionids[union_id]}})
        return web.json_response({"errcode": 60121, "errmsg": "找不到该用户"})


def _record_ack(ack: dict[str, Any], state: FakeState) -> None:
    state.acks[str(ack.get("headers", {}).get("messageId", ""))] = ack
