"""One delivery path for everything the bot sends: replies, files, reminders and broadcasts, on every transport.

Each transport says which of its errors are worth another try (`transient`: the platform is busy or briefly
unreachable) and which mean the recipient can never be reached (`permanent`: blocked the bot, outside the app's
visible range). `with_retries` is the one retry policy (exponential backoff with full jitter). A reply that still
cannot be sent is not dropped: it is kept in the durable outbox, marked as late, and the outbox sender delivers it
when the platform is back (`keep_late`). A permanent failure marks the chat unreachable and tells the admins once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol, TypeVar

from handlers.messages import Reply
from reminders.dispatch import notify_admins
from store import directory, outbox, reach
from store.errors import StoreError

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)

T = TypeVar("T")
Verdict = Literal["transient", "permanent", "other"]
LATE_LINE = "（补发，原消息 {time}）"


class Classifier(Protocol):
    def __call__(self, exc: BaseException) -> Verdict: ...


class Undeliverable(Exception):
    """The platform refuses this recipient for good (blocked, outside the visible range)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to try again. Full jitter: instances that failed together do not retry together."""

    attempts: int = 4
    base: float = 0.5  # seconds before the first retry (before jitter)
    cap: float = 8.0  # longest single wait
    # The longest wait a platform may ask for (Telegram's flood control) that is waited out here; a longer one
    # fails the send at once, so the reply goes to the outbox and is sent late instead of holding its handler.
    longest_asked: float = 60.0

    def delay(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        """The wait after failed attempt number `attempt` (1-based): uniform in [base/2, min(cap, base*2^(n-1))]."""
        ceiling: float = min(self.cap, self.base * 2.0 ** (attempt - 1))
        return self.base / 2 + rng() * max(0.0, ceiling - self.base / 2)


DEFAULT_POLICY = RetryPolicy()


def retry_after(exc: BaseException) -> float | None:
    """The wait a platform asked for (Telegram's RetryAfter), if any."""
    value: object = getattr(exc, "retry_after", None)
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


async def with_retries(
    call: Callable[[], Awaitable[T]], classify: Classifier, *, policy: RetryPolicy = DEFAULT_POLICY,
    what: str = "send", sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    rng: Callable[[], float] = random.random,
) -> T:
    """Run `call`, again after transient failures; a permanent failure raises Undeliverable at once."""
    for attempt in range(1, policy.attempts + 1):
        try:
            return await call()
        except Exception as exc:
            verdict = classify(exc)
            if verdict == "permanent":
                raise Undeliverable(str(exc)) from exc
            if verdict != "transient" or attempt == policy.attempts:
                raise
            asked = retry_after(exc)
            if asked is not None and asked > policy.longest_asked:
                log.warning("%s failed (%s); the platform asks for %.0f s: not waited here", what, exc, asked)
                raise
            wait = asked + rng() * 0.5 if asked is not None else policy.delay(attempt, rng)
            log.warning("%s failed (%s); retry %d in %.1f s", what, exc, attempt, wait)
            await sleep(wait)
    raise AssertionError("unreachable")


def late_text(reply: Reply, original: dt.datetime, tz: dt.tzinfo) -> str:
    """A reply kept for later, as the member will see it: the text plus the line saying it is late."""
    body = reply.text
    if reply.choices:  # buttons do not survive the outbox: the choices become lines to copy
        lines = [f"{c.label}　回复：{c.text}" for c in reply.choices]
        body += "\n请直接回复下面“回复：”后面的文字：\n" + "\n".join(lines)
    if reply.file is not None:
        body += "\n（文件未能送达，请重新发送命令获取。）"
    return f"{body.strip()}\n{LATE_LINE.format(time=f'{original.astimezone(tz):%H:%M}')}"


class Courier:
    """Hands replies over safely: sent, or kept in the outbox for later, or the chat marked unreachable.

    `reply()` returns True when the reply is safe (sent, kept, or refused for good and reported), so the caller
    may acknowledge the incoming message; False only when even the database could not keep it.
    """

    def __init__(self, app: App) -> None:
        self.app = app

    async def reply(self, transport: str, chat_id: str, reply: Reply, send: Callable[[], Awaitable[object]], *,
                    key: str, received: dt.datetime, classify: Classifier) -> bool:
        """Raises what is neither transient nor permanent (a malformed request): keeping it would not help."""
        try:
            await send()
            return True
        except Undeliverable as exc:
            log.warning("%s chat %s refuses messages: %s", transport, chat_id, exc.reason)
            try:
                await asyncio.to_thread(self.refused, transport, chat_id, exc.reason)
            except StoreError:
                log.exception("%s: could not record the refused chat %s", transport, chat_id)
            return True
        except Exception as exc:
            if classify(exc) != "transient":
                raise
            log.warning("%s reply %s to %s failed after retries (%s); kept for later", transport, key, chat_id, exc)
        try:
            await asyncio.to_thread(self.keep_late, transport, chat_id, reply, key, received)
        except StoreError:
            log.exception("%s reply %s to %s could not be kept either", transport, key, chat_id)
            return False
        return True

    def keep_late(self, transport: str, chat_id: str, reply: Reply, key: str, received: dt.datetime) -> None:
        """Queue a reply that could not be sent now; the outbox sender delivers it when the platform is back."""
        text = late_text(reply, received, self.app.campaign.tz)
        now = self.app.now()
        with self.app.db.session() as s:
            outbox.enqueue(s, key=f"late:{key}", contact_id=None, transport=transport, chat_id=chat_id, text=text,
                           now=now, not_before=now + LATE_FIRST_TRY)

    def refused(self, transport: str, chat_id: str, reason: str) -> None:
        """Mark a chat the platform refuses for good and tell the admins, once per chat."""
        now = self.app.now()
        with self.app.db.session() as s:
            person = directory.bound_person(s, transport, chat_id)  # directory ids included (identities)
            if not reach.mark(s, transport=transport, chat_id=chat_id, contact_id=person.id if person else None,
                              reason=reason, now=now):
                return
            campaign = self.app.campaign
            who = f"{person.name}（{campaign.department(person.department).short}）" if person else f"聊天 {chat_id}"
            platform = PLATFORM_NAMES.get(transport, transport)
            note = (f"消息无法送达：{who}在{platform}上收不到机器人的消息（已屏蔽机器人或不在应用可见范围）。"
                    "请联系本人处理；“进度”里可以看到所有收不到消息的人。")
            notify_admins(s, campaign, key=f"refused:{transport}:{chat_id}", text=note, now=now,
                          transports=set(self.app.core.transports))


LATE_FIRST_TRY = dt.timedelta(seconds=5)
PLATFORM_NAMES = {"telegram": "Telegram", "wecom": "企业微信", "dingtalk": "钉钉"}
