"""A per-user limit on messaging transports, so one flooding account cannot slow the bot for everyone.

A token bucket per (transport, sender): a burst of messages goes through, then about one per second.
The console and the command line are operator tools and are never limited.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass

TRUSTED = frozenset({"console", "cli"})


@dataclass
class _Bucket:
    tokens: float
    at: dt.datetime
    warned: bool = False


class Throttle:
    """Allows `burst` messages at once and `rate` per second after that, per user."""

    def __init__(self, rate: float = 1.0, burst: int = 20) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._lock = threading.Lock()  # transports call the core from worker threads

    def check(self, transport: str, sender: str, now: dt.datetime) -> str:
        """'ok' to go on, 'warn' for the first refused message of a burst, 'drop' after that."""
        if transport in TRUSTED:
            return "ok"
        with self._lock:
            bucket = self._buckets.get((transport, sender))
            if bucket is None:
                bucket = self._buckets[(transport, sender)] = _Bucket(float(self.burst), now)
            elapsed = max(0.0, (now - bucket.at).total_seconds())
            bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.rate)
            bucket.at = now
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                bucket.warned = False
                return "ok"
            if bucket.warned:
                return "drop"
            bucket.warned = True
            return "warn"
