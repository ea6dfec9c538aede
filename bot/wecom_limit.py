"""Pacing for WeCom: WeCom's per-member cap, and one-at-a-time work per member.

WeCom accepts at most 30 application messages per minute to one member and silently drops the rest,
so a long answer or a burst of reminders would simply vanish. The limiter schedules every send instead:
the 31st message in a minute waits for its turn, so replies arrive late rather than never.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

MEMBER_LIMIT = 30
# WeCom counts 60 s; one second more keeps network jitter from squeezing 31 sends into its minute.
MEMBER_WINDOW = 61.0
MEMBER_HOURLY = 1000  # and at most 1000 an hour
HOUR_WINDOW = 3601.0
_SWEEP_AT = 1000  # members remembered before idle ones are forgotten


class MemberLimiter:
    """A sliding window per member: any `window` seconds hold at most `limit` scheduled sends.

    The clock is injectable (seconds, monotonic), so tests move time by hand instead of sleeping.
    """

    def __init__(self, limit: int = MEMBER_LIMIT, window: float = MEMBER_WINDOW,
                 clock: Callable[[], float] = time.monotonic, hourly: int = 0) -> None:
        if limit < 1 or window <= 0 or hourly < 0:
            raise ValueError("limit must be at least 1 and window positive")
        self.limit = limit
        self.window = window
        self.hourly = hourly  # 0: no hourly cap
        self._clock = clock
        self._slots: dict[str, deque[float]] = {}

    def reserve(self, member: str) -> float:
        """Book the next free slot for one send to `member`; return the seconds to wait before sending."""
        now = self._clock()
        if len(self._slots) > _SWEEP_AT:
            self._sweep(now)
        slots = self._slots.setdefault(member, deque())
        keep = max(self.window, HOUR_WINDOW if self.hourly else 0.0)
        while slots and slots[0] <= now - keep:
            slots.popleft()
        # Slots only grow, so the send `limit` places back decides when this one fits in a window.
        at = max(now, slots[-1]) if slots else now
        if len(slots) >= self.limit:
            at = max(at, slots[-self.limit] + self.window)
        if self.hourly and len(slots) >= self.hourly:
            at = max(at, slots[-self.hourly] + HOUR_WINDOW)
        slots.append(at)
        return at - now

    def _sweep(self, now: float) -> None:
        keep = max(self.window, HOUR_WINDOW if self.hourly else 0.0)
        for member in [m for m, s in self._slots.items() if not s or s[-1] <= now - keep]:
            del self._slots[member]


class KeyedLocks:
    """One FIFO lock per key (a member's userid), dropped again when nobody holds or awaits it."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: Counter[str] = Counter()

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] += 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key]
                del self._locks[key]

    def __len__(self) -> int:
        return len(self._locks)
