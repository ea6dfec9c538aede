"""The one retry policy: what is tried again, how long it waits, and what a late reply looks like."""

from __future__ import annotations

import asyncio
import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from bot.delivery import DEFAULT_POLICY, RetryPolicy, Undeliverable, Verdict, late_text, with_retries
from handlers.messages import Choice, Reply


class Flaky(Exception):
    def __init__(self, retry_after: float | None = None) -> None:
        super().__init__("flaky")
        self.retry_after = retry_after


class Refused(Exception):
    pass


def classify(exc: BaseException) -> Verdict:
    return "transient" if isinstance(exc, Flaky) else "permanent" if isinstance(exc, Refused) else "other"


def run(failures: list[Exception], policy: RetryPolicy = DEFAULT_POLICY) -> tuple[str, list[float], int]:
    waits: list[float] = []
    calls = 0

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async def call() -> str:
        nonlocal calls
        calls += 1
        if failures:
            raise failures.pop(0)
        return "sent"

    result = asyncio.run(with_retries(call, classify, policy=policy, sleep=sleep, rng=lambda: 1.0))
    return result, waits, calls


def test_transient_failures_are_retried_with_growing_waits() -> None:
    result, waits, calls = run([Flaky(), Flaky(), Flaky()])
    assert result == "sent" and calls == 4
    assert waits == [0.5, 1.0, 2.0]  # rng 1.0: the top of each jittered range


def test_the_platforms_wait_is_honoured() -> None:
    _, waits, _ = run([Flaky(retry_after=7)])
    assert 7 <= waits[0] <= 7.5


def test_a_wait_longer_than_a_minute_is_not_waited_here() -> None:
    """Flood control asking for an hour must not hold the handler: the send fails and the reply is sent late."""
    with pytest.raises(Flaky):
        run([Flaky(retry_after=3600)])
    _, waits, _ = run([Flaky(retry_after=60)])
    assert 60 <= waits[0] <= 60.5


def test_after_the_last_attempt_the_failure_comes_out() -> None:
    with pytest.raises(Flaky):
        run([Flaky()] * 4)


def test_a_permanent_refusal_is_not_retried() -> None:
    with pytest.raises(Undeliverable):
        run([Refused()])


def test_anything_else_is_not_retried() -> None:
    with pytest.raises(ValueError):
        run([ValueError("malformed")])


def test_jitter_stays_within_the_range() -> None:
    policy = RetryPolicy(attempts=6, base=0.5, cap=8.0)
    for attempt in range(1, 8):
        low, high = policy.delay(attempt, lambda: 0.0), policy.delay(attempt, lambda: 1.0)
        assert low == 0.25 and high == min(8.0, 0.5 * 2 ** (attempt - 1))


def test_a_late_reply_says_when_the_original_was_sent_and_keeps_its_choices() -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    reply = Reply("请选一个：", choices=(Choice("1. 批次", "1 3"),))
    text = late_text(reply, dt.datetime(2023, 8, 15, 1, 12, tzinfo=dt.UTC), shanghai)
    assert text.endswith("（补发，原消息 09:12）")
    assert "1. 批次　回复：1 3" in text
