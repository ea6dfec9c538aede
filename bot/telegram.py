"""The Telegram transport, on python-telegram-bot 22: long polling (or a webhook) in, Bot API calls out.

Each Telegram message becomes one handlers.messages.Incoming whose message id is Telegram's, so a
redelivered update books nothing twice. A pressed button sends its choice as a message of its own, keyed
by the message that carried the keyboard, so a second press on that keyboard books nothing either.
Updates are handled one at a time (PTB's default): a user's messages are booked in the order sent.

Long polling is our own loop, not PTB's Updater. The getUpdates offset is Telegram's acknowledgement:
updates below it are deleted for good. The Updater sends the next offset as soon as it has *queued* a
batch, before any handler ran, so a crash (SIGKILL, OOM, power cut) lost updates Telegram considered
delivered. Here the offset passes an update only after its handler has finished (booked and answered):
delivery is at least once, and the ledger's unique message key makes it exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
from collections.abc import Coroutine
from typing import Any

from telegram import BotCommand, BotCommandScopeAllGroupChats, Message, Update, User
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import Application, CallbackQueryHandler, ContextTypes, MessageHandler, filters

from bot.app import App
from bot.telegram_send import MAX_TEXT, ChoiceTable, TelegramRateLimiter, deliver
from bot.telegram_settings import TelegramSettings, load_settings, redact_in_logs
from bot.telegram_webhook import WebhookServer
from bot.transport import Transport
from handlers.invites import code_in
from handlers.messages import Attachment, Incoming, Reply, SharedContact
from store import ledger

log = logging.getLogger(__name__)

TRANSPORT = "telegram"
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
MAX_DOCUMENT = 10 * 1024 * 1024  # a contact list is a few kB; nothing bigger is downloaded
STALE_BUTTON = "这个按钮已失效，请重新发送要报的数。"
ALREADY = "已经记过了，不会重复计数。"
BOOTSTRAP_RETRIES = 3  # deleteWebhook at start, as PTB's bootstrap_retries
MAX_POLL_DELAY = 30.0  # seconds between getUpdates attempts while Telegram cannot be reached

PTBApplication = Application[Any, Any, Any, Any, Any, Any]


class TelegramStartError(RuntimeError):
    """Telegram refused to start the bot (e.g. the token was rejected); the message never shows the token."""


def telegram_transport(app: App) -> Transport | None:
    """The Telegram transport when TELEGRAM_BOT_TOKEN is set, else None."""
    settings = load_settings(app.campaign)
    return TelegramTransport(app, settings) if settings is not None else None


class TelegramTransport:
    name = TRANSPORT

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
            for update in updates:
                await self._handle(update)
                # Only now may Telegram forget this update: the next getUpdates carries the new offset.
                self._offset = update.update_id + 1
                if self._stopping.is_set():
                    break  # the rest stays unacknowledged and comes again at the next start

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

    async def _with_document(self, msg: Incoming, message: Message) -> Incoming:
        """Fetch a file sent in a private chat (an admin's contact list) so the core can read it."""
        document = message.document
        assert document is not None
        if (document.file_size or 0) > MAX_DOCUMENT:
            return msg  # the core answers a document it did not get with its usual reply
        data = await (await document.get_file()).download_as_bytearray()
        return dataclasses.replace(msg, document=Attachment(document.file_name or "file", bytes(data)))

    async def on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Hand one message to the core and send its replies."""
        message, user = update.message, update.effective_user
        if message is None or user is None or user.is_bot:
            return
        msg = incoming(message, user)
        if message.document is not None and msg.private:
            msg = await self._with_document(msg, message)
        replies = await asyncio.to_thread(self.app.core.handle, msg)
        # A contact card or a binding code is how strangers get in: once in, the contact button goes.
        registering = msg.private and (msg.contact is not None or code_in(msg.text) is not None)
        await deliver(context.bot, message.chat_id, replies, self.choices, remove_keyboard=registering)

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
                       private=message.chat.type == ChatType.PRIVATE, sender_name=query.from_user.full_name)
        if await asyncio.to_thread(self._booked, msg):
            await query.answer(ALREADY)  # a second press: the outcome is already on screen
            return
        replies = await asyncio.to_thread(self.app.core.handle, msg)
        await query.answer()
        outcome, rest = merge_outcome(f"已选择：{pressed_label(message, query.data or '')}", replies)
        try:
            await message.edit_text(outcome)  # also takes the buttons away
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():
                raise
        await deliver(context.bot, message.chat_id, rest, self.choices)

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
        private=message.chat.type == ChatType.PRIVATE, sender_name=user.full_name,
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
