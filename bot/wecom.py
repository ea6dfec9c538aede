"""The WeCom (企业微信 / 政务微信) transport: a callback server in, the application message API out.

WeCom posts each member message, encrypted, to /wecom/callback and waits 5 seconds for the answer before
retrying (up to 3 times). So the server checks and decrypts, answers at once with an empty 200, and only
then asks the core, in a background task; replies go out through message/send. This is the only module
that imports wechatpy, and only for its crypto and XML parsing (see bot/wecom_api.py for why not its client).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import functools
import itertools
import logging
import xml.etree.ElementTree as ET
from collections import OrderedDict
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from wechatpy.enterprise.crypto import WeChatCrypto
from wechatpy.enterprise.exceptions import InvalidCorpIdException
from wechatpy.exceptions import InvalidSignatureException

from bot.app import App
from bot.delivery import Courier, RetryPolicy
from bot.directory_sync import DirectorySync
from bot.wecom_api import MediaTooLarge, WeComApi, split_text, verdict
from bot.wecom_cards import button_text, card_of, fits_card, label_of, menu_buttons
from bot.wecom_check import check
from bot.wecom_limit import KeyedLocks, MemberLimiter
from bot.wecom_settings import CALLBACK_PATH, WeComSettings, load_settings
from handlers.messages import Attachment, Capabilities, Incoming, Reply
from store import directory, inbox
from store.errors import StoreError

log = logging.getLogger(__name__)

TRANSPORT = "wecom"
# The enterprise directory vouches for userids; template cards are buttons; pictures and videos arrive
# (media/get), documents cannot (a self-built app receives no files); files go out (media/upload).
CAPS = Capabilities(directory_identity=True, buttons=True, receive_media=True, send_files=True)
ACCEPTS = "本应用能接收文字、图片和视频。报数请直接发文字，例如：查处网络违法案件 3；发“帮助”查看用法。"
FIX_DIRECTORY = "请在企业微信通讯录中核对手机号和应用的可见范围，或发 修改联系人 姓名 企业微信 账号。"
PRESSED_AGAIN = "这个选择已经处理过了，没有重复记录。"
MEDIA_KINDS = {"image": ".jpg", "video": ".mp4"}
_MAX_BODY = 256 * 1024  # a callback is a few KB of XML; refuse anything far bigger before parsing it
_REMEMBERED = 4096  # callbacks remembered to drop WeCom's retries
_DRAIN_SECONDS = 10.0  # at stop, how long messages already accepted may still take
RECHECK = RetryPolicy(base=60.0, cap=1800.0)  # after a failed start-up check: about 1, 2, 4 … 30 minutes


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
    event_key: str = ""  # menu click: the button's key; template card: the pressed button's key
    task_id: str = ""  # template card
    response_code: str = ""  # template card: lets update_template_card change the card once
    media_id: str = ""  # image, video

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
            return parse_callback(self._crypto.decrypt_message(body, signature, timestamp, nonce))
        except Refused:
            raise
        except Exception as exc:  # as above, plus XML errors, a missing <Encrypt> and malformed fields
            raise Refused(_reason(exc)) from None


def parse_callback(xml: str) -> Callback:
    """The decrypted callback XML, read by hand: wechatpy 1.8.18 does not know template_card_event."""
    root = ET.fromstring(xml)  # authenticated by the signature and the AES key before it gets here

    def field(tag: str) -> str:
        return (root.findtext(tag) or "").strip()

    userid, kind = field("FromUserName"), field("MsgType") or "unknown"
    if not userid:
        raise Refused("no sender in the message")
    return Callback(
        userid=userid, kind=kind, msg_id=field("MsgId"),
        text=field("Content") if kind == "text" else "",
        event=field("Event") if kind == "event" else "",
        agent_id=int(field("AgentID") or 0), created=int(field("CreateTime") or 0),
        event_key=field("EventKey"), task_id=field("TaskId"), response_code=field("ResponseCode"),
        media_id=field("MediaId") if kind in MEDIA_KINDS else "",
    )


def _reason(exc: Exception) -> str:
    if isinstance(exc, InvalidSignatureException):
        return "bad signature"
    if isinstance(exc, InvalidCorpIdException):
        return "encrypted for another corp id"
    return f"cannot decrypt or parse ({type(exc).__name__})"


def render(reply: Reply, carded: bool = False) -> list[str]:
    """The text messages one reply becomes. Choices shown on a template card (carded) are not repeated;
    choices that do not fit a card become lines to copy."""
    lines = [reply.text] if reply.text.strip() else []
    if carded:  # the card's buttons are short: the full labels stay readable in the message above it
        lines += [f"第{n}项：{c.label}" for n, c in enumerate(reply.choices, 1) if button_text(n, c.label) != c.label]
    elif reply.choices:
        lines.append("请直接回复下面“回复：”后面的文字：")
        lines += [f"{choice.label}　回复：{choice.text}" for choice in reply.choices]
    if reply.file is not None and reply.file.caption:
        lines.append(reply.file.caption)
    text = "\n".join(lines)
    return [piece.strip("\n") for piece in split_text(text) if piece.strip()]


def incoming(cb: Callback) -> Incoming | None:
    """The message the core sees, or None for callbacks the bot ignores or answers itself."""
    if cb.kind == "event":
        if cb.event == "subscribe":
            # Newly given access to the app: greet (or politely refuse) as for 开始.
            return Incoming(TRANSPORT, cb.userid, cb.userid, f"event-subscribe-{cb.created}", "/start", caps=CAPS)
        if cb.event == "click" and cb.event_key:
            # An application-menu button: its key is a command word, run as if typed.
            return Incoming(TRANSPORT, cb.userid, cb.userid, f"event-click-{cb.created}", cb.event_key, caps=CAPS)
        if cb.event == "template_card_event" and cb.task_id:
            # A card's button: its key is the choice's text. The message id is the card's, so a second press
            # on the same card is the same message: the ledger books it once.
            return Incoming(TRANSPORT, cb.userid, cb.userid, f"card-{cb.task_id}", cb.event_key, caps=CAPS)
        return None  # enter_agent is answered by the transport itself; other events need no answer
    if cb.kind == "text" or cb.kind in MEDIA_KINDS:
        return Incoming(TRANSPORT, cb.userid, cb.userid, cb.msg_id, cb.text, caps=CAPS)
    return None


class WeComTransport:
    """Serves one WeCom self-built application."""

    name = TRANSPORT
    caps = CAPS

    def __init__(self, app: App, settings: WeComSettings, limiter: MemberLimiter | None = None) -> None:
        self.app = app
        self.settings = settings
        self.api = WeComApi(settings)
        self.crypto = CallbackCrypto(settings)
        self.limiter = limiter or MemberLimiter(limit=settings.member_per_minute, hourly=settings.member_per_hour)
        self.port = settings.port  # the bound port once started (differs when settings.port is 0)
        # WeCom asks that scheduled pushes avoid :00 and :30: the reminder service spreads ours over this.
        self.push_spread = dt.timedelta(minutes=settings.reminder_spread_minutes)
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._working = KeyedLocks()  # one message at a time per member, in arrival order
        self._started = app.now()  # inbox rows accepted before this moment and unhandled are replayed
        self._sending = KeyedLocks()  # one reply at a time per member, its pieces together
        self.courier = Courier(app)
        self._cards: OrderedDict[str, Reply] = OrderedDict()  # task id -> the reply whose choices it shows
        self.directory = DirectorySync(app, TRANSPORT, "企业微信", self.api.userid_by_mobile, FIX_DIRECTORY)
        self._recheck_task: asyncio.Task[None] | None = None

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
        if await check(self.api):  # one line naming the cause when the credentials or the network are wrong
            await self._ready()
        else:  # messages are still answered (a reply that fails is kept); the menu and lookups wait for the API
            self._recheck_task = asyncio.create_task(self._recheck_until_ready())
        await self._replay()

    async def _ready(self) -> None:
        await self.create_menu()
        self.directory.start()

    async def recheck(self) -> bool:
        """Try the start-up check again; when it passes, set the menu and start the directory lookups."""
        if not await check(self.api, again=True):
            return False
        log.info("WeCom start-up check passed now: menu set and directory lookups started")
        await self._ready()
        return True

    async def _recheck_until_ready(self) -> None:
        """A failed check at start (a network blip, a fixed 企业可信IP) must not leave the whole run without them."""
        for attempt in itertools.count(1):
            await asyncio.sleep(RECHECK.delay(attempt))
            try:
                if await self.recheck():
                    return
            except Exception:
                log.exception("WeCom: re-checking the API failed")

    async def create_menu(self) -> bool:
        """Send [wecom] menu with menu/create; a failure is logged, the bot works without a menu."""
        try:
            await self.api.create_menu(menu_buttons(self.settings.menu))
        except Exception as exc:
            log.warning("WeCom menu/create failed: %s", exc)
            return False
        log.info("WeCom menu set: %s", "、".join(self.settings.menu))
        return True

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
            msg = Incoming(TRANSPORT, item.chat_id, item.sender_id, item.message_id, item.text, caps=CAPS)
            self._spawn(msg, item.id, received=item.received_at)  # a late reply names when it was sent

    async def stop(self) -> None:
        if self._recheck_task is not None:
            self._recheck_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._recheck_task
        await self.directory.stop()
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
        carded = fits_card(reply)
        async with self._sending.hold(chat_id):
            for text in render(reply, carded):
                await self._paced(chat_id)
                await self.api.send_text(chat_id, text)
            if carded:
                task, card = card_of(reply)
                self._cards[task] = reply
                if len(self._cards) > _REMEMBERED:
                    self._cards.popitem(last=False)
                await self._paced(chat_id)
                await self.api.send_card(chat_id, card)
            if media_id is not None:
                await self._paced(chat_id)
                await self.api.send_file(chat_id, media_id)

    async def _paced(self, userid: str) -> None:
        delay = self.limiter.reserve(userid)
        if delay > 0:
            log.info("WeCom: %s reached WeCom's per-member cap (%d a minute, %d an hour); next one in %.0f s",
                     userid, self.limiter.limit, self.limiter.hourly, delay)
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
        if cb.kind == "event" and cb.event == "enter_agent":
            await self._entered(cb)
            return
        msg = incoming(cb)
        if msg is None:
            if cb.kind != "event":  # voice, location, link…: say what the app can take
                self._later(self._say(cb.userid, ACCEPTS))
            else:
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
                if cb.event == "template_card_event":  # the same card pressed again: nothing new is booked
                    self._later(self._say(cb.userid, PRESSED_AGAIN))
                log.info("WeCom retry of %s ignored (accepted before)", cb.key)
                return
        self._spawn(msg, row_id, cb)

    async def _entered(self, cb: Callback) -> None:
        """enter_agent: a short greeting, at most once a day per member (the inbox's unique key)."""
        today = self.app.now().astimezone(self.app.campaign.tz).date().isoformat()
        msg = Incoming(TRANSPORT, cb.userid, cb.userid, f"enter-{today}", "", caps=CAPS)
        try:
            row_id = await asyncio.to_thread(self._keep, msg)
        except StoreError:
            return  # a greeting is not worth a retry
        if row_id is not None:
            self._later(self._greet(cb.userid, row_id))

    async def _greet(self, userid: str, row_id: int) -> None:
        def who() -> str | None:
            with self.app.db.read() as s:
                person = directory.bound_person(s, TRANSPORT, userid)
            return person.name if person is not None else None

        name = await asyncio.to_thread(who)
        if name is not None:  # strangers get no greeting: they see nothing but the refusal when they write
            await self._say(userid, f"{name}，您好！直接发“项目名称 数量”报数，点下方菜单或发“帮助”查看用法。")
        await asyncio.to_thread(self._done, row_id)

    async def _say(self, userid: str, text: str) -> None:
        try:
            await self.send(userid, Reply(text))
        except Exception:
            log.exception("WeCom message to %s failed", userid)

    def _later(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _keep(self, msg: Incoming) -> int | None:
        with self.app.db.session() as s:
            return inbox.accept(s, transport=TRANSPORT, chat_id=msg.chat_id, sender_id=msg.sender_id,
                                message_id=msg.message_id, text=msg.text, now=self.app.now())

    def _spawn(self, msg: Incoming, row_id: int | None, cb: Callback | None = None, *,
               received: dt.datetime | None = None) -> None:
        self._later(self._process(msg, row_id, cb, received=received))

    async def _process(self, msg: Incoming, row_id: int | None, cb: Callback | None = None, *,
                       received: dt.datetime | None = None) -> None:
        async with self._working.hold(msg.sender_id):
            received = received or self.app.now()
            if msg.message_id.startswith("enter-"):  # a greeting left from before a restart: not worth sending
                replies: list[Reply] = []
            elif cb is not None and cb.media_id:
                replies = await self._with_media(msg, cb)
            else:
                replies = await self.app.dispatcher.answer(msg)
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
            if cb is not None and cb.event == "template_card_event" and cb.response_code:
                await self._mark_card(cb)
            if row_id is not None and safe:
                # Only now: a reply neither sent nor kept leaves the row unhandled, answered at the next start
                # (the booking is not repeated: its unique key).
                try:
                    await asyncio.to_thread(self._done, row_id)
                except StoreError as exc:  # handled again at the next start: booked once, answered twice
                    log.warning("WeCom: could not mark message %s handled: %s", msg.message_id, exc)

    async def _with_media(self, msg: Incoming, cb: Callback) -> list[Reply]:
        """Fetch a picture or video (media/get, capped) and hand it to the core as the message's document."""
        try:
            data = await self.api.download(cb.media_id, self.settings.media_max_bytes)
        except MediaTooLarge:
            limit = self.settings.media_max_bytes // (1024 * 1024)
            return [Reply(f"文件太大（超过 {limit} MB），没有接收。请压缩后再发。")]
        except Exception:
            log.exception("WeCom media/get for message %s failed", msg.message_id)
            return [Reply("刚才的图片或视频没有收到，请再发一次。")]
        name = f"{cb.kind}-{cb.msg_id or cb.created}{MEDIA_KINDS[cb.kind]}"
        document = Attachment(name, data, kind=cb.kind)
        return await self.app.dispatcher.answer(dataclasses.replace(msg, document=document))

    async def _mark_card(self, cb: Callback) -> None:
        """Grey the pressed card's buttons out with what was chosen (WeCom allows this once per press)."""
        shown = self._cards.get(cb.task_id)
        label = label_of(shown, cb.event_key) if shown is not None else cb.event_key
        try:
            await self.api.update_card_button(cb.userid, cb.response_code, f"已选择：{label}"[:30])
        except Exception as exc:
            log.warning("WeCom update_template_card for %s failed: %s", cb.task_id, exc)

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
