"""The serving process's settings that the figures depend on: the GIL's turns, the worker pool, frozen start-up."""

from __future__ import annotations

import asyncio
import gc
import sys

from bot.runner import GIL_INTERVAL, WORKERS, freeze_start_up, short_gil_turns, use_worker_pool


def test_the_objects_of_start_up_are_kept_out_of_later_collections() -> None:
    gc.unfreeze()
    survivor = [[n] for n in range(100)]  # lives as long as the process, as config and tables do
    assert any(o is survivor[0] for o in gc.get_objects())
    freeze_start_up()
    try:
        # Frozen: in the permanent generation, which no collection walks.
        assert gc.get_freeze_count() >= len(survivor)
        assert not any(o is survivor[0] for o in gc.get_objects())
    finally:
        gc.unfreeze()


def test_threads_take_short_turns_at_the_gil() -> None:
    before = sys.getswitchinterval()
    try:
        short_gil_turns()
        assert sys.getswitchinterval() == GIL_INTERVAL < 0.005
    finally:
        sys.setswitchinterval(before)


def test_the_worker_pool_has_room_for_slow_messages_beside_the_bookings() -> None:
    async def pool_size() -> int:
        loop = asyncio.get_running_loop()
        use_worker_pool(loop)
        executor = loop._default_executor  # type: ignore[attr-defined]
        return int(executor._max_workers)

    assert asyncio.run(pool_size()) == WORKERS >= 16
