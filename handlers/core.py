"""The core: one incoming message in, replies out. Knows nothing of any transport."""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable, Sequence

from campaign import Campaign
from handlers import admin, exports, invites, materials, registration, reports, schedule, texts, views
from handlers.commands import ADMIN_ONLY, COUNTY_ADMIN, Command, parse_command
from handlers.context import Clock, Context
from handlers.grammar import clean
from handlers.messages import Incoming, Reply
from handlers.throttle import Throttle
from store import gathering
from store.database import Database
from store.errors import StoreUnavailable
from store.senders import SenderCache

log = logging.getLogger(__name__)
Handler = Callable[[Context], list[Reply]]


def system_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Core:
    """Turns each incoming message into replies: authorise, dispatch, and never crash."""

    def __init__(self, campaign: Campaign, db: Database, clock: Clock = system_clock) -> None:
        self.campaign = campaign
        self.db = db
        self.clock = clock
        # Where messages the bot starts (broadcasts) can go: the transports actually running, set by the runner.
        # Empty in the console and the CLI, so that 通知 never claims a delivery nothing would make.
        self.transports: frozenset[str] = frozenset()
        self.throttle = Throttle(campaign.limits.user_per_second, campaign.limits.user_burst)
        # Who is this: cached for the process, dropped on any change of contacts or bindings (store/senders.py).
        self.senders = SenderCache(db)
        self.commands: dict[str, Handler] = {
            "start": views.start,
            "help": views.help_,
            "list": views.list_,
            "total": views.total,
            "history": views.history,
            "undo": reports.undo,
            "contacts": admin.contacts,
            "addcontact": admin.add_contact,
            "editcontact": admin.edit_contact,
            "removecontact": admin.remove_contact,
            "export": exports.export,
            "progress": schedule.progress,
            "deadlines": schedule.deadlines,
            "notify": schedule.notify,
            "holiday": schedule.holiday,
            "workday": schedule.workday,
            "invite": invites.invite,
            "materials": materials.checklist_reply,
            "withdrawmaterial": materials.withdraw,
            "materialkind": materials.choose_kind,
            "pack": materials.pack,
            "desk": materials.desk_link,
            "upload": materials.desk_link,
            "nudge": materials.nudge,
        }

    def handle(self, msg: Incoming) -> list[Reply]:
        """Answer one message. Errors are logged first, then answered politely."""
        try:
            return self._handle(msg)
        except StoreUnavailable as exc:
            log.warning("store unavailable for %s/%s/%s: %s", msg.transport, msg.chat_id, msg.message_id, exc)
            return [Reply(texts.STORE_DOWN)]
        except Exception:
            log.exception("message %s/%s/%s failed", msg.transport, msg.chat_id, msg.message_id)
            return [Reply(texts.SORRY)]

    def handle_many(self, messages: Sequence[Incoming]) -> list[list[Reply]]:
        """Answer several messages in this thread; the bookings they make share one transaction."""
        return gathering.together(self.db.writer, [functools.partial(self.handle, msg) for msg in messages])

    @staticmethod
    def books(msg: Incoming) -> bool:
        """Whether the message is plain text (a report, a correction, a confirmation, a question) or 撤销: quick
        work that may end in a booking, worth gathering (handle_many). An export or an upload may take seconds,
        and goes alone.
        """
        if msg.document is not None:
            return False
        command = parse_command(clean(msg.text))
        return command is None or command.name == "undo"

    def _handle(self, msg: Incoming) -> list[Reply]:
        verdict = self.throttle.check(msg.transport, msg.sender_id, self.clock())
        if verdict != "ok":
            # Refused before any database work: a flood costs the others nothing.
            return [Reply(texts.TOO_FAST)] if verdict == "warn" else []
        text = clean(msg.text)
        command = parse_command(text)
        if not msg.private:
            # Groups see no counts: only help is answered there.
            return [Reply(texts.GROUP_HELP)] if command and command.name in ("help", "start") else []
        now = self.clock()
        person = self.senders.person(msg.transport, msg.sender_id)
        greeting: list[Reply] = []
        if person is None:
            person, replies = registration.stranger(self.campaign, self.db, msg, now)
            if person is None:
                return replies
            greeting = views.start(Context(self.campaign, self.db, msg, now, person, "", self.transports))
            if not msg.caps.directory_identity or not text or (
                command is not None and command.name in ("start", "help")
            ):
                return greeting
            # The enterprise directory vouched for this member: their first message is a real one too.
        ctx = Context(self.campaign, self.db, msg, now, person, command.args if command else "", self.transports)
        return greeting + self._dispatch(ctx, command, text)

    def _dispatch(self, ctx: Context, command: Command | None, text: str) -> list[Reply]:
        if ctx.msg.document is not None:
            # An admin's contact list is imported; every other file is a report material.
            if ctx.person.is_admin and materials.looks_like_contacts(ctx.msg.document):
                return admin.contact_file(ctx, ctx.msg.document)
            return materials.intake(ctx, ctx.msg.document)
        if command is None:
            if not text:
                return [Reply("请发送文字消息。发“帮助”查看用法。")]
            return reports.report(ctx, text)
        handler = self.commands.get(command.name)
        if handler is None:
            return [Reply(f"没有“{command.word}”这个命令。发“帮助”查看可用的命令。")]
        county_ok = command.name in COUNTY_ADMIN and ctx.person.is_county_admin
        if command.name in ADMIN_ONLY and not ctx.person.is_admin and not county_ok:
            return [Reply("这个命令只有管理员（市市场监管局网监科）可以用。")]
        return handler(ctx)
