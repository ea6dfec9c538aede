"""Everything the Telegram transport sends: replies as PTB calls, button data, and the rate limiter."""

from __future__ import annotations

import logging
import secrets
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from aiolimiter import AsyncLimiter
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut
from telegram.ext import AIORateLimiter

from bot.delivery import RetryPolicy, Verdict, with_retries
from handlers.messages import Reply

log = logging.getLogger(__name__)

CONTACT_BUTTON = "分享手机号"
MAX_TEXT = 4096  # Telegram's limit for one message
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64  # bytes

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove
JSON = bool | dict[str, Any] | list[dict[str, Any]]


class ChoiceTable:
    """Button data: the choice text itself when it fits Telegram's 64 bytes, else a key into this table.

    The table lives in memory, so a long choice's button stops working after a restart; the user is then
    asked to send the message again. Choice texts are short ("17 3，2 5"), so this is rare.
    """

    def __init__(self, size: int = 2048) -> None:
        self._size = size
        self._texts: OrderedDict[str, str] = OrderedDict()

    def data_for(self, text: str) -> str:
        direct = "t:" + text
        if len(direct.encode()) <= MAX_CALLBACK_DATA:
            return direct
        key = secrets.token_urlsafe(12)
        self._texts[key] = text
        while len(self._texts) > self._size:
            self._texts.popitem(last=False)
        return "k:" + key

    def text_for(self, data: str) -> str | None:
        if data.startswith("t:"):
            return data[2:]
        if data.startswith("k:"):
            return self._texts.get(data[2:])
        return None


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Cut a long text into messages at line ends (mid-line only when one line is too long)."""
    chunks: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            if current:
                chunks.append(current)
                current = ""
            chunks.append(line[:limit])
            line = line[limit:]
        if current and len(current) + 1 + len(line) > limit:
            chunks.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        chunks.append(current)
    return chunks


def markup_for(reply: Reply, table: ChoiceTable) -> Markup | None:
    if reply.choices:
        return InlineKeyboardMarkup(
            [[InlineKeyboardButton(c.label, callback_data=table.data_for(c.text))] for c in reply.choices]
        )
    if reply.request_contact:
        return ReplyKeyboardMarkup(
            [[KeyboardButton(CONTACT_BUTTON, request_contact=True)]], one_time_keyboard=True, resize_keyboard=True
        )
    return None


async def deliver(
    bot: Bot, chat_id: int, replies: Sequence[Reply], table: ChoiceTable, *, remove_keyboard: bool = False
) -> list[Message]:
    """Send replies in order. remove_keyboard: take away the contact button (the user just got bound)."""
    sent: list[Message] = []
    remove = remove_keyboard and not any(r.request_contact for r in replies)
    for reply in replies:
        target = int(reply.chat_id) if reply.chat_id else chat_id
        markup = markup_for(reply, table)
        if markup is None and remove and reply.text:
            markup, remove = ReplyKeyboardRemove(), False
        chunks = split_text(reply.text) if reply.text else []
        for n, chunk in enumerate(chunks):
            last = n == len(chunks) - 1
            sent.append(await bot.send_message(target, chunk, reply_markup=markup if last else None))
        if reply.file is not None:
            sent.append(await bot.send_document(
                target, reply.file.data, filename=reply.file.filename, caption=reply.file.caption[:MAX_CAPTION] or None
            ))
    return sent


def verdict(exc: BaseException) -> Verdict:
    """How the one retry policy (bot/delivery.py) treats a failed Bot API call."""
    if isinstance(exc, Forbidden):  # the user blocked the bot, or the chat is gone: never again
        return "permanent"
    if isinstance(exc, BadRequest | InvalidToken):  # subclasses of NetworkError, but the same call fails again
        return "other"
    if isinstance(exc, RetryAfter | TimedOut | NetworkError):  # flood control, time-outs, 5xx, no connection
        return "transient"
    return "other"


class TelegramRateLimiter(AIORateLimiter):
    """PTB's AIORateLimiter, which keeps to 30 messages a second overall and 20 a minute per group and waits
    out flood control (429 RetryAfter), plus two things it lacks: about one message a second per private
    chat (short bursts allowed, as Telegram does) and retries after network errors and 5xx answers.

    A retried send that had in fact arrived shows twice; that is better than a lost "已记录", which
    would make the user report again. The retries follow bot/delivery.py's one policy.
    """

    def __init__(self, *, max_retries: int = 3, network_retries: int = 3, chat_burst: int = 4) -> None:
        super().__init__(max_retries=max_retries)
        self._policy = RetryPolicy(attempts=network_retries + 1)
        self._chat_burst = chat_burst
        self._chats: OrderedDict[int, AsyncLimiter] = OrderedDict()

    def _chat_limiter(self, chat_id: object) -> AsyncLimiter | None:
        if not isinstance(chat_id, int) or chat_id <= 0:  # groups and channels: PTB's group limiter
            return None
        limiter = self._chats.pop(chat_id, None) or AsyncLimiter(self._chat_burst, self._chat_burst)
        self._chats[chat_id] = limiter  # most recent last; the oldest are forgotten
        while len(self._chats) > 1024:
            self._chats.popitem(last=False)
        return limiter

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, JSON]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> JSON:
        limiter = self._chat_limiter(data.get("chat_id"))

        async def once() -> JSON:
            if limiter is not None:
                await limiter.acquire()
            return await super(TelegramRateLimiter, self).process_request(
                callback, args, kwargs, endpoint, data, rate_limit_args)

        # PTB's limiter waits out flood control itself (max_retries); network errors and 5xx answers are
        # retried here under the one policy, and a Forbidden comes out as delivery.Undeliverable.
        return await with_retries(once, verdict, policy=self._policy, what=f"Telegram {endpoint}")
