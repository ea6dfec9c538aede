"""Registration by the enterprise directory: 附件1 mobiles matched to directory userids, without typing any.

WeCom (user/getuserid) and DingTalk (user/getbymobile) can name the member who has a given mobile, where
the app may see that member. At start, and whenever the contact list changes, every active contact with a
mobile but no account on the transport is looked up; a found userid becomes the contact's identity there
(so their first message is recognised and reminders reach them before it). Admins get the list of
contacts the directory did not know, once per change of that list (through the outbox, so two instances
tell them once).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import logging
from collections.abc import Awaitable, Callable

from bot.app import App
from bot.delivery import RetryPolicy
from reminders.dispatch import notify_admins
from store import directory
from store.directory import Person
from store.errors import AccountTaken

log = logging.getLogger(__name__)

Lookup = Callable[[str], Awaitable[str | None]]  # mobile -> userid, None when the directory has no such member
CHECK_EVERY = 60.0  # seconds between looks at the contact list (a cheap read; lookups only on a change)
# A lookup that failed (network, rate limit, the app may not read the directory) is asked again after 1, 2,
# 4 … 60 minutes (the delivery backoff at the top of its range): one bad minute must not leave a contact
# unregistered for the whole run.
RETRY = RetryPolicy(base=60.0, cap=3600.0)


class DirectorySync:
    """Looks up contacts' userids by mobile on one transport, and tells admins who was not found."""

    def __init__(self, app: App, transport: str, label: str, lookup: Lookup, how_to_fix: str) -> None:
        self.app, self.transport, self.label = app, transport, label
        self.lookup, self.how_to_fix = lookup, how_to_fix
        self._looked: set[tuple[int, str]] = set()  # (contact, mobile) pairs the directory answered about
        self._failed: dict[tuple[int, str], tuple[int, dt.datetime]] = {}  # pair -> (failures, ask again at)
        self._reported: frozenset[int] = frozenset()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("%s directory lookup failed; trying again later", self.label)
            await asyncio.sleep(CHECK_EVERY)

    async def run_once(self) -> None:
        people, known = await asyncio.to_thread(self._read)
        wanted = [p for p in people if p.id not in known]
        now = self.app.now()
        fresh = [p for p in wanted if p.mobile and (p.id, p.mobile) not in self._looked
                 and self._failed.get((p.id, p.mobile), (0, now))[1] <= now]
        for person in fresh:
            pair = (person.id, person.mobile)
            try:
                userid = await self.lookup(person.mobile)
            except Exception as exc:  # asked again later; said once, not every minute
                failures = self._failed.get(pair, (0, now))[0] + 1
                wait = RETRY.delay(failures, rng=lambda: 1.0)
                self._failed[pair] = (failures, now + dt.timedelta(seconds=wait))
                (log.warning if failures == 1 else log.debug)(
                    "%s: looking up %s by mobile failed (%s); asking again later", self.label, person.name, exc)
                continue
            self._looked.add(pair)  # the directory answered: asked once per mobile, found or not
            self._failed.pop(pair, None)
            if userid:
                await asyncio.to_thread(self._bind, person, userid)
                known[person.id] = userid
                log.info("%s: %s matched to directory user %s by mobile", self.label, person.name, userid)
        # Who the directory does not know: not those it could not be asked about (they are asked again later).
        missing = [p for p in wanted if p.id not in known and (p.id, p.mobile) not in self._failed]
        ids = frozenset(p.id for p in missing)
        if not missing or ids == self._reported or not fresh:
            self._reported = ids if not missing else self._reported
            return
        self._reported = ids
        names = "、".join(f"{p.name}（{self.app.campaign.department(p.department).short}，{p.mobile or '无手机号'}）"
                         for p in missing)
        text = f"{self.label}通讯录里没有找到这些联系人：{names}。{self.how_to_fix}"
        log.warning("%s: contacts not found in the directory: %s", self.label, ", ".join(p.name for p in missing))
        # Through the outbox, keyed by the list: told once, however many instances start or restart.
        key = f"directory:{self.transport}:" + hashlib.sha256(",".join(map(str, sorted(ids))).encode()).hexdigest()[:16]
        await asyncio.to_thread(self._tell_admins, key, text)

    def _tell_admins(self, key: str, text: str) -> None:
        with self.app.db.session() as s:
            notify_admins(s, self.app.campaign, key=key, text=text, now=self.app.now(), transports={self.transport})

    def _read(self) -> tuple[list[Person], dict[int, str]]:
        with self.app.db.session() as s:
            return directory.people(s), directory.directory_ids(s, self.transport)

    def _bind(self, person: Person, userid: str) -> None:
        try:
            with self.app.db.session() as s:
                directory.set_directory_id(s, person.id, self.transport, userid, self.app.now(), source="directory")
        except AccountTaken as exc:  # two contacts share a mobile in the directory: the first one keeps it
            log.warning("%s: %s's mobile finds %s, already contact %d's; not bound", self.transport, person.name,
                        exc.userid, exc.holder_id)
