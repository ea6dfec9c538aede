"""Several messages in one thread, their bookings in one batch: calls in greenlets that park at the writer.

Fifty worker threads that each handle one report spend more on handing the GIL to one another than on the
reports (bench/concurrent.py measured a third of the time). together(writer, calls) runs the calls in the one
thread that calls it, each in its own greenlet. A call runs until it hands a booking to the group-commit writer
(store/writer.py); there it parks and the next call starts. When every call has finished or parked, the parked
jobs go to the writer as one caller's jobs (one transaction, shared with whatever other threads have queued), and
each parked call goes on with its own outcome, in turn.

Only a booking parks. Every other wait (a read, a lock, the network) blocks the thread as it would anyway, and
the writer is never called from inside a session or under a lock (handlers/reports.py), so a parked call holds
nothing that a sibling could wait for.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import greenlet

if TYPE_CHECKING:
    from store.writer import GroupCommit, Pending

T = TypeVar("T")


class _Call(greenlet.greenlet):  # type: ignore[misc]
    """One of together()'s calls; `parked` is the booking it waits for."""

    parked: Pending[Any] | None = None


def park(item: Pending[Any]) -> bool:
    """Inside together(): wait for the item's batch with the siblings' (True). Elsewhere: False, nothing done."""
    current = greenlet.getcurrent()
    if not isinstance(current, _Call):
        return False
    current.parked = item
    current.parent.switch()  # back to together(), which resumes this call once the batch has committed
    return True


def together(writer: GroupCommit, calls: Sequence[Callable[[], T]]) -> list[T]:
    """Run the calls in this thread, their bookings batched; their results in order.

    A call that raises does not stop the others: once all are done, the first such error is raised.
    """
    hub = greenlet.getcurrent()
    runs = [_Call(call, hub) for call in calls]
    results: list[Any] = [None] * len(runs)
    errors: list[BaseException] = []
    live = list(range(len(runs)))
    while live:
        parked: list[int] = []
        for n in live:
            try:
                value = runs[n].switch()  # starts the call, or resumes it after its booking
            except BaseException as exc:  # raised by the call itself: its greenlet is dead
                errors.append(exc)
                continue
            if runs[n].dead:
                results[n] = value
            else:
                parked.append(n)
        live = parked
        if live:
            items = [_take(runs[n]) for n in live]
            try:
                writer.run_all(items)
            except BaseException as exc:  # the writer stopped: each parked call gets the error as its outcome
                for item in items:
                    if not item.done:
                        item.error, item.done = exc, True
    if errors:
        raise errors[0]
    return results


def _take(run: _Call) -> Pending[Any]:
    item, run.parked = run.parked, None
    assert item is not None
    return item
