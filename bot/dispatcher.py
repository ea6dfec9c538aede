"""Messages from the transports to the core, on worker threads: bookings that arrive together go together.

A message that books (a report, a correction, a confirmation, 撤销: Core.books) joins the messages that wait
beside it. Up to GATHERERS groups are handled at a time, each on one worker thread with Core.handle_many, so
their bookings share one transaction (store/gathering.py); while one runs, new messages queue and form the next
group. At a quiet hour every message is a group of one and starts at once. Anything else (an export, an
upload, 汇总) runs alone on its own thread, as it may take seconds.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import weakref

from handlers.core import Core
from handlers.messages import Incoming, Reply
from store.writer import MAX_BATCH

log = logging.getLogger(__name__)

# Groups handled at once. One is fastest: in bench/concurrent.py (50 users, 8 rounds, each count in the same run)
# one gatherer booked 4,356 reports/s with p99 14 ms, two 3,818/s (p99 18 ms), three 3,855/s (p99 22 ms). Two
# threads of Python only hand the GIL to each other; the disk's wait is short next to a group's parsing.
GATHERERS = 1
Waiting = tuple[Incoming, "asyncio.Future[list[Reply]]"]


class Dispatcher:
    """Core.handle for asyncio code: `await dispatcher.answer(msg)` returns the replies."""

    def __init__(self, core: Core, gatherers: int = GATHERERS, max_group: int = MAX_BATCH) -> None:
        self._core = core
        self._gatherers = gatherers
        self._max_group = max_group
        # One lane per event loop: the bot runs one, but the CLI and tests run one after another, and a loop's
        # futures and tasks belong to it alone. A closed loop's lane goes with it.
        self._lanes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Lane] = weakref.WeakKeyDictionary()
        self.groups = 0  # for tests and the benchmark: how many groups were handled

    async def answer(self, msg: Incoming) -> list[Reply]:
        """Answer one message, together with the bookings waiting beside it."""
        if not self._core.books(msg):
            return await asyncio.to_thread(self._core.handle, msg)
        loop = asyncio.get_running_loop()
        lane = self._lanes.get(loop)
        if lane is None:
            lane = self._lanes[loop] = _Lane()
        future: asyncio.Future[list[Reply]] = loop.create_future()
        lane.waiting.append((msg, future))
        if not lane.planned and len(lane.groups) < self._gatherers:
            # On the next turn of the loop: the messages that arrive in this one join the group.
            lane.planned = True
            loop.call_soon(self._start, lane)
        return await future

    def _start(self, lane: _Lane) -> None:
        lane.planned = False
        # One message per sender at a time, in the order sent, as each transport hands them over: a sender's next
        # message waits for the group that holds the one before.
        busy = {_sender(msg) for group in lane.groups.values() for msg, _ in group}
        ready: list[Waiting] = []
        for waiting in lane.waiting:
            sender = _sender(waiting[0])
            if sender not in busy:
                ready.append(waiting)
            busy.add(sender)
        started: set[int] = set()
        while ready and len(lane.groups) < self._gatherers:
            # Shared among the free gatherers: while one group waits for the disk, the next one parses.
            free = self._gatherers - len(lane.groups)
            size = min(self._max_group, -(-len(ready) // free))
            group, ready = ready[:size], ready[size:]
            started.update(id(waiting) for waiting in group)
            task = asyncio.create_task(self._handle(group))  # _start runs in the lane's loop
            lane.groups[task] = group
            task.add_done_callback(functools.partial(self._finished, lane))
        lane.waiting = [waiting for waiting in lane.waiting if id(waiting) not in started]

    async def _handle(self, group: list[Waiting]) -> None:
        self.groups += 1
        try:
            answers = await asyncio.to_thread(self._core.handle_many, [msg for msg, _ in group])
        except asyncio.CancelledError:  # the loop is stopping: those who wait stop too
            for _, future in group:
                future.cancel()
            raise
        except Exception as exc:  # Core.handle answers every error itself: this is the thread pool failing
            log.exception("a group of %d messages failed", len(group))
            for _, future in group:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), replies in zip(group, answers, strict=True):
            if not future.done():  # a sender that gave up waiting (cancelled): its booking stands all the same
                future.set_result(replies)

    def _finished(self, lane: _Lane, task: asyncio.Task[None]) -> None:
        lane.groups.pop(task, None)
        if lane.waiting and not lane.planned:
            self._start(lane)


class _Lane:
    """One event loop's messages: those waiting for a gatherer, and the groups in hand (task -> its messages)."""

    def __init__(self) -> None:
        self.waiting: list[Waiting] = []
        self.groups: dict[asyncio.Task[None], list[Waiting]] = {}
        self.planned = False


def _sender(msg: Incoming) -> tuple[str, str]:
    return msg.transport, msg.sender_id
