"""The WeCom (企业微信 / 政务微信) transport: a callback server in, the application message API out.

WeCom posts each member message, encrypted, to /wecom/callback and waits 5 seconds for the answer before
retrying (up to 3 times). So the server checks and decrypts, answers at once with an empty 200, and only
then asks the core, in a background task; replies go out through message/send. This is the only module
that imports wechatpy, and only for its crypto and XML parsing (see bot/wecom_api.py for why not its client).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import OrderedDict
from dataclasses import dataclass

from aiohttp import web
from wechatpy.enterprise import parse_message
from wechatpy.enterprise.crypto import WeChatCrypto
from wechatpy.enterprise.exceptions import InvalidCorpIdException
from wechatpy.exceptions import InvalidSignatureException

from bot.app import App
from bot.delivery import Courier
from bot.wecom_api import WeComApi, split_text, verdict
from bot.wecom_limit import KeyedLocks, MemberLimiter
from bot.wecom_settings import CALLBACK_PATH, WeComSettings, load_settings
from handlers.messages import Incoming, Reply
from store import inbox
from store.errors import StoreError

log = logging.getLogger(__name__)

TRANSPORT = "wecom"
_MAX_BODY = 256 * 1024  # a callback is a few KB of XML; refuse anything far bigger before parsing it
_REMEMBERED = 4096  # callbacks remembered to drop WeCom's retries
_DRAIN_SECONDS = 10.0  # at stop, how long messages already accepted may still take


class Refused(Exception):
    """A callback that is not from WeCom, or not readable: answered 403, never processed."""


@dataclass(frozen=True)
class Callback:
    """One decrypted callback, reduced to what the bot uses (wechatpy's objects stay in this module)."""

    userid: str
    kind: str  # "text", "image", …, "event", "unknown"
    msg_id: str  # "" for events: they have no MsgId
    text: str = ""
    event: str = ""
    agent_id: int = 0
    created: int = 0

    @property
    def key(self) -> str:
        """Same for a callback and its retries."""
        return f"{self.userid}:{self.msg_id}" if self.msg_id else f"{self.userid}:{self.event}:{self.created}"


class CallbackCrypto:
    """Signature check, decryption and parsing of WeCom callbacks, with wechatpy's crypto."""

    def __init__(self, settings: WeComSettings) -> None:
        self._crypto = WeChatCrypto(settings.token, settings.encoding_aes_key, settings.corp_id)

    def verify_url(self, signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        """The decrypted echostr WeCom expects back when the callback URL is saved."""
        try:
            return str(self._crypto.check_signature(signature, timestamp, nonce, echostr))
        except Exception as exc:  # wechatpy raises many types on bad input (signature, base64, padding, corp id)
            raise Refused(_reason(exc)) from None

    def open(self, body: bytes, signature: str, timestamp: str, nonce: str) -> Callback:
        try:
            msg = parse_message(self._crypto.decrypt_message(body, signature, timestamp, nonce))
            if msg is None or not getattr(msg, "source", None):
                raise Refused("no sender in the message")
            kind = str(msg.type)
            return Callback(  # wechatpy converts fields lazily: a malformed number raises here
                userid=str(msg.source), kind=kind, msg_id=str(msg.id) if msg.id else "",
                text=str(getattr(msg, "content", "") or "") if kind == "text" else "",
                event=str(getattr(msg, "event", "") or ""), agent_id=int(getattr(msg, "agent", 0) or 0),
                created=int(getattr(msg, "time", 0) or 0),
            )
        except Refused:
            raise
        except Exception as exc:  # as above, plus XML errors, a missing <Encrypt> and malformed fields
            raise Refused(_reason(exc)) from None


def _reason(exc: Exception) -> str:
    if isinstance(exc, InvalidSignatureException):
        return "bad signature"
    if isinstance(exc, InvalidCorpIdException):
        return "encrypted for another corp id"
    return f"cannot decrypt or parse ({type(exc).__name__})"


def render(reply: Reply) -> list[str]:
    """The text messages one reply becomes: WeCom text has no buttons, so choices become lines to copy."""
    lines = [reply.text] if reply.text.strip() else []
    if reply.choices:
        lines.append("请直接回复下面“回复：”后面的文字：")
        lines += [f"{choice.label}　回复：{choice.text}" for choice in reply.choices]
    if reply.file is not None and reply.file.caption:
        lines.append(reply.file.caption)
    text = "\n".join(lines)
    return [piece.strip("\n") for piece in split_text(text) if piece.strip()]


def incoming(cb: Callback) -> Incoming | None:
    """The message the core sees, or None for callbacks the bot ignores."""
    if cb.kind == "event" or (cb.kind == "unknown" and not cb.msg_id):
        if cb.event == "subscribe":
            # Newly given access to the app: greet (or politely refuse) as for 开始. enter_agent, sent each
            # time a member opens the app, is ignored: help on every visit would bury the conversation.
            return Incoming(TRANSPORT, cb.userid, cb.userid, f"event-subscribe-{cb.created}", "/start")
        return None
    # Images, voice, files…: no text, and the core answers that only text messages are understood.
    return Incoming(TRANSPORT, cb.userid, cb.userid, cb.msg_id, cb.text if cb.kind == "text" else "")


class WeComTransport:
    """Serves one WeCom self-built application."""

    name = TRANSPORT

    def __init__(self, app: App, settings: WeComSettings, limiter: MemberLimiter | None = None) -> None:
        self.app = app
        self.settings = settings
        self.api = WeComApi(settings)
        self.crypto = CallbackCrypto(settings)
        self.limiter = limiter or MemberLimiter(limit=settings.member_per_minute)
        self.port = settings.port  # the bound port once started (differs when settings.port is 0)
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._working = KeyedLocks()  # one message at a time per member, in arrival order
        self._started = app.now()  # inbox rows accepted before this moment and unhandled are replayed
        self._sending = KeyedLocks()  # one reply at a time per member, its pieces together
        self.courier = Courier(app)

    async def start(self) -> None:
        web_app = web.Application(client_max_size=_MAX_BODY)
        web_app.router.add_get(CALLBACK_PATH, self._verify_url)
        web_app.router.add_post(CALLBACK_PATH, self._callback)
        self._runner = web.AppRunner(web_app, access_log=None, shutdown_timeout=5.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.host, self.settings.port)
        await site.start()
        for address in self._runner.addresses:
            self.port = int(address[1])
        log.info("WeCom callback listening on http://%s:%d%s (API %s)", self.settings.host, self.port,
                    CALLBACK_PATH, self.settings.api_base_url)
        await self._replay()

    async def _replay(self) -> None:
        """Handle what an earlier run accepted (answered 200) but did not finish: WeCom will not resend it."""
        try:
            with self.app.db.session() as s:
                left = inbox.unhandled(s, TRANSPORT, self._started)
        except StoreError:
            log.exception("WeCom: could not read the inbox; unfinished messages wait for the next start")
            return
        for item in left:
            log.warning("WeCom: handling message %s accepted before a restart", item.message_id)
            msg = Incoming(TRANSPORT, item.chat_id, item.sender_id, item.message_id, item.text)
            self._spawn(msg, item.id)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._tasks:  # messages already answered 200 deserve their reply
            _, pending = await asyncio.wait(self._tasks, timeout=_DRAIN_SECONDS)
            for task in pending:
                task.cancel()
        await self.api.close()

    async def send(self, chat_id: str, reply: Reply) -> None:
        """Deliver one reply to a member (chat_id is the userid). Raises on failure."""
        media_id = None
        if reply.file is not None:  # upload first: a failed upload should not leave a caption without a file
            media_id = await self.api.upload_file(reply.file.filename, reply.file.data)
        async with self._sending.hold(chat_id):
            for text in render(reply):
                await self._paced(chat_id)
                await self.api.send_text(chat_id, text)
            if media_id is not None:
                await self._paced(chat_id)
                await self.api.send_file(chat_id, media_id)

    async def _paced(self, userid: str) -> None:
        delay = self.limiter.reserve(userid)
        if delay > 0:
            log.info("WeCom: %s reached %d messages a minute; next one in %.0f s", userid, self.limiter.limit, delay)
            await asyncio.sleep(delay)

    async def _verify_url(self, request: web.Request) -> web.Response:
        q = request.query
        try:
            echo = self.crypto.verify_url(q.get("msg_signature", ""), q.get("timestamp", ""), q.get("nonce", ""),
                                          q.get("echostr", ""))
        except Refused as exc:
            return _forbidden(request, "URL verification", str(exc))
        log.info("WeCom callback URL verified")
        return web.Response(text=echo)

    async def _callback(self, request: web.Request) -> web.Response:
        q = request.query
        try:
            cb = self.crypto.open(await request.read(), q.get("msg_signature", ""), q.get("timestamp", ""),
                                  q.get("nonce", ""))
        except Refused as exc:
            return _forbidden(request, "message", str(exc))
        except web.HTTPRequestEntityTooLarge:
            return _forbidden(request, "message", "body too large")
        await self._accept(cb)
        return web.Response(text="")  # at once: the work happens after WeCom has its answer

    async def _accept(self, cb: Callback) -> None:
        if cb.key in self._seen:
            # A retry (WeCom did not get our answer in time). The ledger would book it once anyway, but the
            # member would get a second confirmation; the first callback is being or was answered.
            log.info("WeCom retry of %s ignored", cb.key)
            return
        self._seen[cb.key] = None
        if len(self._seen) > _REMEMBERED:
            self._seen.popitem(last=False)
        if cb.agent_id and cb.agent_id != self.settings.agent_id:
            log.warning("WeCom callback for agent %d ignored (this bot is agent %d)", cb.agent_id,
                        self.settings.agent_id)
            return
        msg = incoming(cb)
        if msg is None:
            log.info("WeCom %s %s from %s ignored", cb.kind, cb.event, cb.userid)
            return
        try:
            # Kept before the 200 goes out: WeCom never resends an answered message, so a crash after the
            # answer must not lose it. A few milliseconds of the 5 seconds WeCom waits.
            row_id = await asyncio.to_thread(self._keep, msg)
        except StoreError as exc:  # the core will tell the member to try again; nothing can be booked now
            log.warning("WeCom: inbox unavailable for %s: %s", msg.message_id, exc)
            row_id = None
        else:
            if row_id is None:
                log.info("WeCom retry of %s ignored (accepted before)", cb.key)
                return
        self._spawn(msg, row_id)

    def _keep(self, msg: Incoming) -> int | None:
        with self.app.db.session() as s:
            return inbox.accept(s, transport=TRANSPORT, chat_id=msg.chat_id, sender_id=msg.sender_id,
                                message_id=msg.message_id, text=msg.text, now=self.app.now())

    def _spawn(self, msg: Incoming, row_id: int | None) -> None:
        task = asyncio.create_task(self._process(msg, row_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _process(self, msg: Incoming, row_id: int | None) -> None:
        async with self._working.hold(msg.sender_id):
            received = self.app.now()
            replies = await asyncio.to_thread(self.app.core.handle, msg)
            safe = True
            for n, reply in enumerate(replies):
                target = reply.chat_id or msg.chat_id
                # Sent (with retries), or kept in the outbox and sent late with a note: never silence after a
                # booking, which would make the member report again.
                try:
                    safe &= await self.courier.reply(
                        TRANSPORT, target, reply, functools.partial(self.send, target, reply),
                        key=f"{TRANSPORT}:{msg.chat_id}:{msg.message_id}:{n}", received=received, classify=verdict)
                except Exception:  # refused as malformed: sending it again would fail again
                    log.exception("WeCom reply to %s for message %s failed", target, msg.message_id)
            if row_id is not None and safe:
                # Only now: a reply neither sent nor kept leaves the row unhandled, answered at the next start
                # (the booking is not repeated: its unique key).
                try:
                    await asyncio.to_thread(self._done, row_id)
                except StoreError as exc:  # handled again at the next start: booked once, answered twice
                    log.warning("WeCom: could not mark message %s handled: %s", msg.message_id, exc)

    def _done(self, row_id: int) -> None:
        with self.app.db.session() as s:
            inbox.mark_handled(s, row_id, self.app.now())


def _forbidden(request: web.Request, what: str, reason: str) -> web.Response:
    log.warning("WeCom callback refused (%s from %s): %s", what, request.remote, reason)
    return web.Response(status=403, text="forbidden")


def wecom_transport(app: App) -> WeComTransport | None:
    """The WeCom transport when corp id, agent id, secret, token and AES key are all set, else None."""
    settings = load_settings(app.campaign)
    return WeComTransport(app, settings) if settings is not None else None
