"""The DingTalk (钉钉 / 政务钉钉) transport, in Stream mode: the bot connects out, nothing connects in.

So a server inside a government intranet needs no public callback URL and no inbound firewall rule. The
bot POSTs its credentials to /v1.0/gateway/connections/open, gets an endpoint and a ticket, and opens a
websocket to it (dingtalk-stream's frames, handlers and ACKs; the connection loop is ours, so it stops
cleanly and never looks up an outside address). Robot messages arrive as CALLBACK frames; each is ACKed
only after the core has handled it and the reply is sent, and a frame DingTalk delivers again books
nothing twice (the ledger's unique key is the message id). Replies go out with the robot's batchSend;
files are uploaded to oapi /media/upload first. The sender is the directory's userid (senderStaffId),
mapped to a contact like WeCom's, case-insensitively.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import time
import urllib.parse
from typing import Any

import aiohttp
import dingtalk_stream  # type: ignore[import-untyped]
import websockets
from dingtalk_stream import AckMessage, CallbackMessage, ChatbotMessage
from dingtalk_stream.version import VERSION_STRING  # type: ignore[import-untyped]

from bot.app import App
from bot.delivery import Courier, Verdict, with_retries
from bot.dingtalk_settings import DingTalkSettings, load_settings
from bot.directory_sync import DirectorySync
from bot.wecom_limit import KeyedLocks, MemberLimiter
from handlers.messages import Capabilities, Incoming, Reply

log = logging.getLogger(__name__)

TRANSPORT = "dingtalk"
CAPS = Capabilities(directory_identity=True, buttons=True, send_files=True)
_TIMEOUT = aiohttp.ClientTimeout(total=30, connect=10)
_RECONNECT = (1.0, 2.0, 5.0, 10.0, 30.0)  # seconds before the next connection attempt, growing
_MAX_BUTTONS = 5  # sampleActionCard2 … sampleActionCard5
NOT_FOUND = 60121  # getbymobile: no member with this mobile


class DingTalkError(Exception):
    """DingTalk answered a call with an error (or not with JSON)."""

    def __init__(self, message: str, *, status: int = 200, refused: bool = False) -> None:
        super().__init__(message)
        self.status = status  # the HTTP status of the answer
        self.refused = refused  # the member is outside the robot's range: sending again would fail again


def verdict(exc: BaseException) -> Verdict:
    """How the one retry policy (bot/delivery.py) treats a failed DingTalk call."""
    if isinstance(exc, DingTalkError):
        if exc.refused:
            return "permanent"
        return "transient" if exc.status >= 500 or exc.status == 429 else "other"
    if isinstance(exc, aiohttp.ClientError | TimeoutError):  # connection refused or reset, a hang past the timeout
        return "transient"
    return "other"


class DingTalkApi:
    """The HTTP calls the bot makes: access token, stream connection, robot send, media upload, user lookup."""

    def __init__(self, settings: DingTalkSettings) -> None:
        self.settings = settings
        self._session: aiohttp.ClientSession | None = None
        self._token = ""
        self._until = 0.0
        self._lock = asyncio.Lock()

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:  # trust_env: HTTPS_PROXY / NO_PROXY of a government network
            self._session = aiohttp.ClientSession(timeout=_TIMEOUT, trust_env=True)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _json(self, method: str, url: str, call: str, **kw: Any) -> dict[str, Any]:
        async with self.session.request(method, url, **kw) as resp:
            try:
                answer = await resp.json(content_type=None)
            except ValueError:
                raise DingTalkError(f"{call}: HTTP {resp.status}, not JSON", status=resp.status) from None
            if resp.status != 200 or not isinstance(answer, dict):
                raise DingTalkError(f"{call}: HTTP {resp.status} {str(answer)[:200]}", status=resp.status)
        if answer.get("errcode", 0) not in (0, NOT_FOUND):
            raise DingTalkError(f"{call}: errcode {answer.get('errcode')} {answer.get('errmsg', '')}")
        return answer

    async def access_token(self) -> str:
        async with self._lock:
            if not self._token or time.monotonic() >= self._until:
                answer = await self._json("POST", f"{self.settings.api_base_url}/v1.0/oauth2/accessToken",
                                          "oauth2/accessToken", json={"appKey": self.settings.client_id,
                                                                      "appSecret": self.settings.client_secret})
                token, expires = answer.get("accessToken"), answer.get("expireIn", 7200)
                if not isinstance(token, str) or not token or not isinstance(expires, int):
                    raise DingTalkError("oauth2/accessToken: no accessToken in the answer")
                self._token, self._until = token, time.monotonic() + max(expires - 300, expires / 2)
            return self._token

    async def open_connection(self, topics: list[dict[str, str]]) -> tuple[str, str]:
        """The stream gateway's endpoint and ticket for one websocket connection."""
        answer = await self._json("POST", f"{self.settings.api_base_url}/v1.0/gateway/connections/open",
                                  "gateway/connections/open", json={
                                      "clientId": self.settings.client_id,
                                      "clientSecret": self.settings.client_secret,
                                      "subscriptions": topics,
                                      "ua": f"sanming-bot dingtalk-stream/{VERSION_STRING}",
                                      "localIp": "",
                                  })
        endpoint, ticket = answer.get("endpoint"), answer.get("ticket")
        if not isinstance(endpoint, str) or not isinstance(ticket, str):
            raise DingTalkError("gateway/connections/open: no endpoint or ticket")
        return endpoint, ticket

    async def send(self, userid: str, key: str, param: dict[str, Any]) -> None:
        """One robot message to one member (oToMessages/batchSend), under the one retry policy."""
        await with_retries(lambda: self._send_once(userid, key, param), verdict, what="DingTalk batchSend")

    async def _send_once(self, userid: str, key: str, param: dict[str, Any]) -> None:
        headers = {"x-acs-dingtalk-access-token": await self.access_token()}
        answer = await self._json("POST", f"{self.settings.api_base_url}/v1.0/robot/oToMessages/batchSend",
                                  "robot/oToMessages/batchSend", headers=headers, json={
                                      "robotCode": self.settings.robot_code, "userIds": [userid],
                                      "msgKey": key, "msgParam": json.dumps(param, ensure_ascii=False),
                                  })
        if answer.get("invalidStaffIdList"):
            raise DingTalkError(f"robot/oToMessages/batchSend: not delivered to {userid} (outside the robot's range?)",
                                refused=True)

    async def upload(self, filename: str, data: bytes) -> str:
        return await with_retries(lambda: self._upload_once(filename, data), verdict, what="DingTalk media/upload")

    async def _upload_once(self, filename: str, data: bytes) -> str:
        # quote_fields=False: the Chinese filename goes as raw UTF-8, not percent-encoded (as for WeCom).
        form = aiohttp.FormData(quote_fields=False)
        form.add_field("type", "file")
        safe = "".join("_" if ch in '"\\\r\n' or ord(ch) < 32 else ch for ch in filename).strip() or "file"
        form.add_field("media", data, filename=safe, content_type="application/octet-stream")
        token = await self.access_token()
        answer = await self._json("POST", f"{self.settings.oapi_base_url}/media/upload", "media/upload",
                                  params={"access_token": token, "type": "file"}, data=form)
        media_id = answer.get("media_id")
        if not isinstance(media_id, str) or not media_id:
            raise DingTalkError("media/upload: no media_id in the answer")
        return media_id

    async def userid_by_mobile(self, mobile: str) -> str | None:
        token = await self.access_token()
        answer = await self._json("POST", f"{self.settings.oapi_base_url}/topapi/v2/user/getbymobile",
                                  "user/getbymobile", params={"access_token": token}, json={"mobile": mobile})
        userid = (answer.get("result") or {}).get("userid") if answer.get("errcode", 0) == 0 else None
        return str(userid) if userid else None


def messages(reply: Reply) -> list[tuple[str, dict[str, Any]]]:
    """The robot messages (msgKey, msgParam) one reply becomes; a file is added by the sender after upload."""
    text = reply.text.strip()
    if reply.file is not None and reply.file.caption:
        text = f"{text}\n{reply.file.caption}".strip()
    if not reply.choices:
        return [("sampleText", {"content": text})] if text else []
    shown, rest = reply.choices[:_MAX_BUTTONS], reply.choices[_MAX_BUTTONS:]
    body = text + "".join(f"\n\n{c.label}：发送 {c.text}" for c in rest)
    if len(shown) == 1:
        return [("sampleActionCard", {"title": "请选择", "text": body, "singleTitle": shown[0].label,
                                      "singleURL": _press(shown[0].text)})]
    param: dict[str, Any] = {"title": "请选择", "text": body}
    for n, choice in enumerate(shown, 1):
        # Pressing makes the member's own client send this text to the robot: it arrives as their message.
        param[f"actionTitle{n}"], param[f"actionURL{n}"] = choice.label, _press(choice.text)
    return [(f"sampleActionCard{len(shown)}", param)]


def _press(text: str) -> str:
    return "dtmd://dingtalkclient/sendMessage?content=" + urllib.parse.quote(text, safe="")


def incoming(data: dict[str, Any]) -> Incoming | None:
    """The core's message for one robot callback, or None when it has no sender or no id."""
    msg = ChatbotMessage.from_dict(data)
    sender = msg.sender_staff_id or ""
    if not sender or not msg.message_id:
        return None
    text = msg.text.content.strip() if msg.message_type == "text" and msg.text else ""
    return Incoming(TRANSPORT, sender, sender, str(msg.message_id), text, private=msg.conversation_type == "1",
                    sender_name=msg.sender_nick or "", caps=CAPS)


class _RobotHandler(dingtalk_stream.CallbackHandler):  # type: ignore[misc]
    def __init__(self, transport: DingTalkTransport) -> None:
        super().__init__()
        self.transport = transport

    async def process(self, callback: CallbackMessage) -> tuple[int, str]:
        await self.transport.handle(callback.data)
        return AckMessage.STATUS_OK, "OK"


class DingTalkTransport:
    """Serves one DingTalk application robot over one stream connection."""

    name = TRANSPORT
    caps = CAPS

    def __init__(self, app: App, settings: DingTalkSettings) -> None:
        self.app, self.settings = app, settings
        self.api = DingTalkApi(settings)
        self.client = dingtalk_stream.DingTalkStreamClient(
            dingtalk_stream.Credential(settings.client_id, settings.client_secret), logger=log)
        self.client.register_callback_handler(ChatbotMessage.TOPIC, _RobotHandler(self))
        self.client.pre_start()
        self.limiter = MemberLimiter(limit=settings.member_per_minute)
        self.courier = Courier(app)
        self._working = KeyedLocks()
        self._task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self.directory = DirectorySync(app, TRANSPORT, "钉钉", self.api.userid_by_mobile,
                                       "请在钉钉通讯录中核对手机号，或发 修改联系人 姓名 钉钉 用户ID。")

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())
        try:  # READY only once connected, or after a while with the reason logged
            await asyncio.wait_for(self._connected.wait(), 20)
        except TimeoutError:
            log.error("DingTalk: not connected yet; still trying (钉钉：尚未连接，正在重试)")
        self.directory.start()

    async def stop(self) -> None:
        await self.directory.stop()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.api.close()

    async def _run(self) -> None:
        topics = [{"type": "CALLBACK", "topic": ChatbotMessage.TOPIC}]
        failures = 0
        while True:
            try:
                endpoint, ticket = await self.api.open_connection(topics)
                uri = f"{endpoint}?ticket={urllib.parse.quote_plus(ticket)}"
                async with websockets.connect(uri) as ws:
                    self.client.websocket = ws
                    self._connected.set()
                    failures = 0
                    log.info("DingTalk stream connected")
                    async for raw in ws:
                        frame = json.loads(raw)
                        task = asyncio.create_task(self.client.route_message(frame))
                        task.add_done_callback(functools.partial(self._routed, ws=ws))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error("DingTalk stream: %s (钉钉连接失败，稍后重试)", exc)
            delay = _RECONNECT[min(failures, len(_RECONNECT) - 1)]
            failures += 1
            await asyncio.sleep(delay)

    def _routed(self, task: asyncio.Task[str], *, ws: Any) -> None:
        if task.cancelled():
            return
        if task.exception() is not None:
            log.error("DingTalk frame failed: %s", task.exception())
        elif task.result() == dingtalk_stream.DingTalkStreamClient.TAG_DISCONNECT:
            asyncio.create_task(ws.close())  # the gateway asks us to reconnect elsewhere

    async def handle(self, data: dict[str, Any]) -> None:
        msg = incoming(data)
        if msg is None:
            log.info("DingTalk message without a sender id or message id ignored")
            return
        async with self._working.hold(msg.sender_id):  # one message at a time per member, in order
            received = self.app.now()
            replies = await self.app.dispatcher.answer(msg)
            for n, reply in enumerate(replies):
                target = reply.chat_id or msg.chat_id
                # Sent (with retries), or kept in the outbox and sent late with a note: never silence after a
                # booking, which would make the member report again.
                try:
                    await self.courier.reply(
                        TRANSPORT, target, reply, functools.partial(self.send, target, reply),
                        key=f"{TRANSPORT}:{msg.chat_id}:{msg.message_id}:{n}", received=received, classify=verdict)
                except Exception:  # refused as malformed: sending it again would fail again
                    log.exception("DingTalk reply to %s for message %s failed", target, msg.message_id)

    async def send(self, chat_id: str, reply: Reply) -> None:
        """Deliver one reply to a member (chat_id is their userid). Raises on failure."""
        media_id = await self.api.upload(reply.file.filename, reply.file.data) if reply.file else None
        for key, param in messages(reply):
            await self._paced(chat_id)
            await self.api.send(chat_id, key, param)
        if reply.file is not None and media_id is not None:
            kind = reply.file.filename.rsplit(".", 1)[-1].lower() if "." in reply.file.filename else "file"
            await self._paced(chat_id)
            await self.api.send(chat_id, "sampleFile", {"mediaId": media_id, "fileName": reply.file.filename,
                                                        "fileType": kind})

    async def _paced(self, userid: str) -> None:
        delay = self.limiter.reserve(userid)
        if delay > 0:
            await asyncio.sleep(delay)


def dingtalk_transport(app: App) -> DingTalkTransport | None:
    """The DingTalk transport when DINGTALK_CLIENT_ID and DINGTALK_CLIENT_SECRET are set, else None."""
    settings = load_settings(app.campaign)
    return DingTalkTransport(app, settings) if settings is not None else None
