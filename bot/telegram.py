"""The Telegram transport, on python-telegram-bot 22: long polling (or a webhook) in, Bot API calls out.

Each Telegram message becomes one handlers.messages.Incoming whose message id is Telegram's, so a
redelivered update books nothing twice. A pressed button sends its choice as a message of its own, keyed
by the message that carried the keyboard, so a second press on that keyboard books nothing either.
Updates are handled concurrently across users (a slow file or export never keeps the others waiting) and one
at a time per user, in the order sent.

Long polling is our own loop, not PTB's Updater. The getUpdates offset is Telegram's acknowledgement:
updates below it are deleted for good. The Updater sends the next offset as soon as it has *queued* a
batch, before any handler ran, so a crash (SIGKILL, OOM, power cut) lost updates Telegram considered
delivered. Here the offset passes an update only after its handler has finished (booked and answered), and never
passes one still in hand: delivery is at least once, and the ledger's unique message key makes it exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import functools
import logging
from collections.abc import Coroutine
from typing import Any

import httpx
from telegram import BotCommand, BotCommandScopeAllGroupChats, Document, Message, PhotoSize, Update, User, Video
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import Application, CallbackQueryHandler, ContextTypes, MessageHandler, filters

from bot.app import App
from bot.delivery import Courier
from bot.telegram_send import MAX_TEXT, ChoiceTable, TelegramRateLimiter, deliver, verdict
from bot.telegram_settings import DEFAULT_BASE_URL, TelegramSettings, load_settings, redact_in_logs
from bot.telegram_webhook import WebhookServer
from bot.transport import Transport
from bot.wecom_limit import KeyedLocks
from handlers.invites import code_in
from handlers.messages import Attachment, Capabilities, Incoming, Reply, SharedContact
from store import ledger

log = logging.getLogger(__name__)

TRANSPORT = "telegram"
# Telegram users prove who they are with their own contact card (or a binding code); no directory vouches.
CAPS = Capabilities(contact_card=True, buttons=True, receive_files=True, send_files=True)
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
# The command menu (setMyCommands): private chats get every everyday command, groups only help.
COMMANDS = (
    ("start", "开始：问候并显示本单位的填报项目"),
    ("help", "帮助：怎样报数、有哪些命令"),
    ("list", "指标：本单位的项目、序号和累计"),
    ("total", "汇总：查看累计数"),
    ("history", "记录：最近的报数记录"),
    ("undo", "撤销：撤回您的上一条报数"),
    ("export", "导出：下载统计表（Excel）"),
    ("deadlines", "日程：各项材料的报送期限"),
)
GROUP_COMMANDS = (("help", "帮助：请在与我的私聊中报数"),)
APOLOGY = "抱歉，出了点问题，请稍后再试。如果刚才报了数，请先发“记录”看是否已记上，再决定是否重发。"
EDITED = "修改已发出的消息不会改动数据。要改累计数，请发“更正 项目 数量”；要撤回上一条，请发“撤销”。"
MAX_DOCUMENT = 20 * 1024 * 1024  # the Bot API's download limit; bigger materials go through the desk
TOO_BIG = f"文件太大（超过{MAX_DOCUMENT // 2**20}MB），没有接收。请压缩后再发，或发“上传”在网页上传。"
STALE_BUTTON = "这个按钮已失效，请重新发送要报的数。"
ALREADY = "已经记过了，不会重复计数。"
BOOTSTRAP_RETRIES = 3  # deleteWebhook at start, as PTB's bootstrap_retries
MAX_POLL_DELAY = 30.0  # seconds between getUpdates attempts while Telegram cannot be reached
MAX_IN_HAND = 64  # updates being handled at once (different users); more wait for a slot
RECHECK = 0.5  # seconds: while an update is in hand, getUpdates returns it again at once; ask at this pace

PTBApplication = Application[Any, Any, Any, Any, Any, Any]


class TelegramStartError(RuntimeError):
    """Telegram refused to start the bot (e.g. the token was rejected); the message never shows the token."""


def telegram_transport(app: App) -> Transport | None:
    """The Telegram transport when TELEGRAM_BOT_TOKEN is set, else None."""
    settings = load_settings(app.campaign)
    return TelegramTransport(app, settings) if settings is not None else None


class TelegramTransport:
    name = TRANSPORT
    caps = CAPS

    def __init__(self, app: App, settings: TelegramSettings) -> None:
        # Before PTB logs anything: its debug output shows the token (in every URL) and the webhook secret.
        redact_in_logs(settings.token, "<TELEGRAM_BOT_TOKEN>")
        redact_in_logs(settings.webhook_secret, "<TELEGRAM_WEBHOOK_SECRET>")
        self.app = app
        self.settings = settings
        self.choices = ChoiceTable()
        builder = (
            Application.builder()
            .token(settings.token)
            .base_url(settings.base_url)
            .base_file_url(settings.base_file_url)
            .rate_limiter(TelegramRateLimiter(max_retries=3))
            .job_queue(None)  # reminders have their own scheduler
            .connect_timeout(10).read_timeout(20).write_timeout(20).pool_timeout(10).media_write_timeout(60)
            .get_updates_connect_timeout(10).get_updates_read_timeout(10).get_updates_pool_timeout(10)
            .updater(None)  # polling is _poll() below; the webhook server feeds the update queue itself
        )
        self.application: PTBApplication = builder.build()
        self.application.add_handler(CallbackQueryHandler(self.on_button))
        self.application.add_handler(MessageHandler(filters.UpdateType.EDITED_MESSAGE, self.on_edited))
        self.application.add_handler(MessageHandler(filters.UpdateType.MESSAGE, self.on_message))
        self.application.add_error_handler(self.on_error)
        self.webhook = WebhookServer(self.application, settings, ALLOWED_UPDATES) if settings.webhook_url else None
        self._offset: int | None = None  # the next getUpdates offset: one past the last update handled
        self._polling: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.courier = Courier(app)
        self._in_hand: dict[int, asyncio.Task[None]] = {}  # update id -> its handling
        self._done: set[int] = set()  # handled, but below an update still in hand: not acknowledged yet
        self._fetched = -1  # the highest update id fetched
        self._slots = asyncio.Semaphore(MAX_IN_HAND)
        self._per_user = KeyedLocks()

    async def start(self) -> None:
        """Check the token (getMe), set the command menu, then poll or listen."""
        try:
            await self.application.initialize()
        except InvalidToken:
            # PTB's message would quote the token; this one must not.
            raise TelegramStartError("Telegram 拒绝了 TELEGRAM_BOT_TOKEN（401/404），请检查令牌。") from None
        await self._set_commands()
        if self.webhook is not None:
            await self.webhook.start()
        else:
            await self._delete_webhook()
            self._stopping.clear()
            self._polling = asyncio.create_task(self._poll(), name="telegram-polling")
        await self.application.start()

    async def stop(self) -> None:
        """Stop fetching, finish the update in hand, acknowledge what was handled, then close the connections.

        Updates fetched but not handled yet stay unacknowledged: Telegram delivers them again at the next start.
        """
        if self.webhook is not None:
            await self.webhook.stop()
        if self._polling is not None:
            self._stopping.set()
            await self._polling
            self._polling = None
            await self._acknowledge()
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()

    async def _delete_webhook(self) -> None:
        """Polling and a webhook exclude each other. Pending updates are kept (drop_pending_updates is not
        set): what users sent while we were away counts."""
        for attempt in range(BOOTSTRAP_RETRIES + 1):
            try:
                await self.application.bot.delete_webhook()
                return
            except (BadRequest, InvalidToken, Forbidden):
                raise  # the same call would fail again
            except TelegramError as exc:  # flood control, time-outs, network errors, 5xx answers
                if attempt == BOOTSTRAP_RETRIES:
                    raise
                delay = _seconds(exc.retry_after) if isinstance(exc, RetryAfter) else 1.0
                log.warning("deleteWebhook failed (%s); retry %d in %.0f s", exc, attempt + 1, delay)
                await asyncio.sleep(delay)

    async def _poll(self) -> None:
        """Fetch updates and handle each one fully before the next offset acknowledges it."""
        failures = 0
        while not self._stopping.is_set():
            try:
                updates = await self._unless_stopping(self.application.bot.get_updates(
                    offset=self._offset, timeout=self.settings.poll_timeout, allowed_updates=ALLOWED_UPDATES,
                ))
            except RetryAfter as exc:
                await self._pause(_seconds(exc.retry_after) + 0.5)
                continue
            except TimedOut:  # a long poll that ended without an answer: simply ask again
                continue
            except Exception as exc:  # Telegram unreachable, a 5xx, a revoked token, an unreadable answer
                failures += 1
                delay = min(MAX_POLL_DELAY, 0.5 * 2 ** min(failures, 10))
                log.log(logging.WARNING if isinstance(exc, NetworkError) else logging.ERROR,
                        "getUpdates failed (%s); next try in %.0f s", exc, delay)
                await self._pause(delay)
                continue
            if updates is None:  # stopping
                break
            failures = 0
            new = 0
            for update in updates:
                if update.update_id in self._in_hand or update.update_id in self._done:
                    continue  # fetched again because an earlier one is still in hand
                if update.update_id < (self._offset or 0):
                    continue
                new += 1
                await self._slots.acquire()
                self._fetched = max(self._fetched, update.update_id)
                task = asyncio.create_task(self._handle_in_order(update), name=f"update-{update.update_id}")
                self._in_hand[update.update_id] = task
                task.add_done_callback(functools.partial(self._finished, update.update_id))
                if self._stopping.is_set():
                    break  # the rest stays unacknowledged and comes again at the next start
            if self._in_hand and not new:
                # Everything fetched is in hand: wait for one to finish (or a moment, for other users' news).
                await asyncio.wait([*self._in_hand.values()], timeout=RECHECK, return_when=asyncio.FIRST_COMPLETED)
        if self._in_hand:  # stopping: finish what is in hand, so that it can be acknowledged
            await asyncio.wait([*self._in_hand.values()], timeout=10.0)

    def _finished(self, update_id: int, _task: asyncio.Task[None]) -> None:
        """Move the offset past every update handled, but never past one still in hand."""
        self._slots.release()
        del self._in_hand[update_id]
        self._done.add(update_id)
        offset = min(self._in_hand) if self._in_hand else self._fetched + 1
        self._offset = offset
        self._done = {u for u in self._done if u >= offset}

    async def _handle_in_order(self, update: Update) -> None:
        user = update.effective_user
        key = str(user.id) if user is not None else f"update-{update.update_id}"
        async with self._per_user.hold(key):  # one user's updates one at a time, in the order fetched
            await self._handle(update)

    async def _handle(self, update: Update) -> None:
        try:
            # Handlers' errors go to on_error (logged, apologised for); this catches what PTB itself raises.
            await self.application.process_update(update)
        except Exception:
            log.exception("update %s could not be handled", update.update_id)

    async def _unless_stopping(self, call: Coroutine[Any, Any, tuple[Update, ...]]) -> tuple[Update, ...] | None:
        """The call's result, or None as soon as stop() is asked for (the long poll is cancelled)."""
        task = asyncio.ensure_future(call)
        stopping = asyncio.ensure_future(self._stopping.wait())
        await asyncio.wait((task, stopping), return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if task.done():
            return task.result()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, TelegramError):
            await task
        return None

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _acknowledge(self) -> None:
        """Tell Telegram what was handled, so that a clean restart does not fetch it again (PTB does the same)."""
        if self._offset is None:
            return
        try:
            await self.application.bot.get_updates(offset=self._offset, limit=1, timeout=0,
                                                   allowed_updates=ALLOWED_UPDATES)
        except TelegramError as exc:  # harmless: the handled updates come again and book nothing twice
            log.warning("could not acknowledge the last updates: %s", exc)

    async def send(self, chat_id: str, reply: Reply) -> None:
        """Deliver one reply to a chat, e.g. a reminder."""
        await deliver(self.application.bot, int(chat_id), [reply], self.choices)

    async def _set_commands(self) -> None:
        bot = self.application.bot
        try:
            await bot.set_my_commands([BotCommand(c, d) for c, d in COMMANDS])
            await bot.set_my_commands([BotCommand(c, d) for c, d in GROUP_COMMANDS],
                                      scope=BotCommandScopeAllGroupChats())
        except TelegramError as exc:  # the menu is a convenience: the bot works without it
            log.warning("could not set the command menu: %s", exc)

    async def _with_document(self, msg: Incoming, message: Message) -> Incoming | None:
        """Fetch a file, photo or video sent in a private chat (a material, or an admin's contact list); None when
        it is too big. The size is checked as Telegram states it, and again while downloading: a file without
        file_size is never read past MAX_DOCUMENT."""
        media: Document | Video | PhotoSize | None = message.document or message.video
        kind, name = "document", ""
        if message.document is not None:
            name = message.document.file_name or "file"
        elif message.video is not None:
            kind, name = "video", message.video.file_name or f"video-{message.message_id}.mp4"
        elif message.photo:
            kind, name, media = "image", f"photo-{message.message_id}.jpg", message.photo[-1]  # the largest size
        if media is None:
            return msg
        if (media.file_size or 0) > MAX_DOCUMENT:
            return None
        file = await media.get_file()
        if (file.file_size or 0) > MAX_DOCUMENT or not file.file_path:
            return None
        data = await download_capped(file.file_path, MAX_DOCUMENT)
        if data is None:
            return None
        return dataclasses.replace(msg, document=Attachment(name, data, message.caption or "", kind))

    async def on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Hand one message to the core and send its replies."""
        message, user = update.message, update.effective_user
        if message is None or user is None or user.is_bot:
            return
        msg = incoming(message, user)
        if (message.document is not None or message.photo or message.video is not None) and msg.private:
            fetched = await self._with_document(msg, message)
            if fetched is None:
                await self._send_all(context.bot, message.chat_id, [Reply(TOO_BIG)], msg, self.app.now())
                return
            msg = fetched
        received = self.app.now()
        replies = await self.app.dispatcher.answer(msg)
        # A contact card or a binding code is how strangers get in: once in, the contact button goes.
        registering = msg.private and (msg.contact is not None or code_in(msg.text) is not None)
        await self._send_all(context.bot, message.chat_id, replies, msg, received, remove_keyboard=registering)

    async def _send_all(self, bot: Any, chat_id: int, replies: list[Reply], msg: Incoming, received: dt.datetime,
                        *, remove_keyboard: bool = False) -> None:
        """Each reply through the one delivery path: sent with retries, else kept and sent late, or the chat is
        reported unreachable (the user blocked the bot)."""
        remove = remove_keyboard and not any(r.request_contact for r in replies)
        for n, reply in enumerate(replies):
            this_one = remove and bool(reply.text) and not reply.choices
            remove = remove and not this_one
            send = functools.partial(deliver, bot, chat_id, [reply], self.choices, remove_keyboard=this_one)
            await self.courier.reply(TRANSPORT, reply.chat_id or str(chat_id), reply, send,
                                     key=f"{TRANSPORT}:{msg.chat_id}:{msg.message_id}:{n}", received=received,
                                     classify=verdict)

    async def on_edited(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Explain that editing a sent message changes no count."""
        message = update.edited_message
        if message is not None and message.chat.type == ChatType.PRIVATE:
            await context.bot.send_message(message.chat_id, EDITED)

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Send the pressed choice to the core once per keyboard and show the outcome in its place."""
        query = update.callback_query
        if query is None:
            return
        message = query.message
        text = self.choices.text_for(query.data or "")
        if not isinstance(message, Message) or text is None:
            await query.answer(STALE_BUTTON, show_alert=True)
            return
        msg = Incoming(TRANSPORT, str(message.chat.id), str(query.from_user.id), f"cb{message.message_id}", text,
                       private=message.chat.type == ChatType.PRIVATE, sender_name=query.from_user.full_name, caps=CAPS)
        if await asyncio.to_thread(self._booked, msg):
            await query.answer(ALREADY)  # a second press: the outcome is already on screen
            return
        received = self.app.now()
        replies = await self.app.dispatcher.answer(msg)
        try:
            await query.answer()
        except TelegramError as exc:  # "query is too old" after a late press: the booking stands, confirm it
            log.info("callback query for %s not answered: %s", msg.message_id, exc)
        outcome, rest = merge_outcome(f"已选择：{pressed_label(message, query.data or '')}", replies)
        try:
            await message.edit_text(outcome)  # also takes the buttons away
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():
                # The keyboard message cannot be changed (too old, deleted): the outcome comes as a message.
                log.info("keyboard message %s not edited: %s", message.message_id, exc)
                rest = [Reply(outcome), *rest]
        await self._send_all(context.bot, message.chat_id, rest, msg, received)

    def _booked(self, msg: Incoming) -> bool:
        with self.app.db.read() as s:  # a look-up: a snapshot, not the write lock
            return ledger.find_booking(s, ledger.MessageKey(msg.transport, msg.chat_id, msg.message_id)) is not None

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log the failure with its update id first, then apologise in the chat it came from."""
        update_id = update.update_id if isinstance(update, Update) else None
        log.error("update %s failed", update_id, exc_info=context.error)
        if not isinstance(update, Update) or update.effective_chat is None:
            return
        if update.callback_query is not None:
            with contextlib.suppress(TelegramError):  # stop the button's spinner, unless it was answered already
                await update.callback_query.answer()
        try:
            await context.bot.send_message(update.effective_chat.id, APOLOGY)
        except TelegramError as exc:
            log.warning("could not apologise for update %s: %s", update_id, exc)


PUBLIC_API_HOST = httpx.URL(DEFAULT_BASE_URL).host


async def download_capped(url: str, limit: int) -> bytes | None:
    """The file at url, streamed; None as soon as it grows past `limit` bytes (the rest is never read)."""
    chunks: list[bytes] = []
    size = 0
    # The public Bot API through HTTPS_PROXY when one is set, as PTB's own requests go (where Telegram is reached
    # only through a proxy, documents would otherwise never arrive); a self-hosted server directly, so that a
    # proxy meant for the internet does not capture it.
    public = httpx.URL(url).host == PUBLIC_API_HOST
    client = httpx.AsyncClient(timeout=httpx.Timeout(60, connect=10), trust_env=public)
    async with client, client.stream("GET", url) as response:
        response.raise_for_status()
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            return None
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit:
                log.warning("a document grew past %d bytes while downloading; not read further", limit)
                return None
            chunks.append(chunk)
    return b"".join(chunks)


def _seconds(period: float | dt.timedelta) -> float:
    return period.total_seconds() if isinstance(period, dt.timedelta) else float(period)


def incoming(message: Message, user: User) -> Incoming:
    """A Telegram message as the core sees it."""
    card = message.contact
    contact = None
    if card is not None:
        # A forwarded card is never the sender's own proof of identity, whoever it shows.
        owner = str(card.user_id) if card.user_id and message.forward_origin is None else None
        contact = SharedContact(card.phone_number, owner, " ".join(filter(None, (card.first_name, card.last_name))))
    return Incoming(
        TRANSPORT, str(message.chat.id), str(user.id), str(message.message_id), message.text or "", contact,
        private=message.chat.type == ChatType.PRIVATE, sender_name=user.full_name, caps=CAPS,
    )


def merge_outcome(head: str, replies: list[Reply]) -> tuple[str, list[Reply]]:
    """The keyboard message's new text, and the replies still to send: a plain first reply joins the head."""
    first = replies[0] if replies else None
    if first is None or first.choices or first.file or first.request_contact or first.chat_id:
        return head, replies
    if len(head) + len(first.text) >= MAX_TEXT - 1:
        return head, replies
    return f"{head}\n{first.text}", replies[1:]


def pressed_label(message: Message, data: str) -> str:
    """The label of the button with this data on the keyboard message."""
    markup = message.reply_markup
    for row in markup.inline_keyboard if markup else ():
        for button in row:
            if button.callback_data == data:
                return button.text
    return "（按钮）"
