"""The group-commit writer: bookings that arrive together share one transaction and one fsync.

Every booking (report, correction, undo) is a job, a function of a Session. A thread that submits a job (or
several: run_all, which store/gathering.py uses for the messages it handles together) either becomes the leader
(nobody is writing) or waits. The leader takes every job queued so far, runs them
in one transaction on the process's single writer connection and commits; while it waits for the disk,
the next reports queue up and form the next batch. Each caller gets its answer only after the COMMIT that
holds its booking, so "已记录" still means "on disk".

A batch keeps each report's guarantees:
- a refusal (Duplicate, NothingToUndo, WouldGoNegative) leaves nothing of that report behind and the others go
  on (a SAVEPOINT per report, or on SQLite none unless a refusal came after a write: see _jobs);
- anything unexpected (a bug, a failed COMMIT, a deadlock between two instances on PostgreSQL) rolls the
  whole batch back, and then each report is booked alone in its own transaction, so one bad report costs
  the others nothing but time.

A job may run more than once (in a batch, then alone): it must be a pure function of the database.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from store import gathering
from store.errors import StoreError, StoreUnavailable
from store.statements import Prepared

log = logging.getLogger(__name__)
T = TypeVar("T")
Job = Callable[[Session], T]
# One report's SAVEPOINT, sent straight to the driver (store/statements.py): through the ORM's begin_nested()
# each of the three statements was compiled anew on every report, which cost more than the booking itself.
# The jobs use the session only for queries and Core statements, never for pending ORM objects, so the
# session has nothing to forget when a SAVEPOINT is rolled back under it.
SAVEPOINT = Prepared(text("SAVEPOINT report"))
ROLLBACK_TO_SAVEPOINT = Prepared(text("ROLLBACK TO SAVEPOINT report"))
RELEASE_SAVEPOINT = Prepared(text("RELEASE SAVEPOINT report"))
MAX_BATCH = 64  # enough to share an fsync among a deadline hour's rush; bounds the time one batch holds the lock


def is_refusal(exc: BaseException) -> bool:
    """A refusal is an answer, not a failure: the report is rolled back and its sender told why."""
    return isinstance(exc, StoreError) and not isinstance(exc, StoreUnavailable)


class WriterSession(Session):
    """The writer's session. connection() is the writer's connection, in the transaction the writer began, handed
    back without the Session's bookkeeping: the booking's statements ask for it several times per report."""

    begun: Connection | None = None

    def connection(self, *args: Any, **kwargs: Any) -> Connection:
        if self.begun is not None and not args and not kwargs:
            return self.begun
        return super().connection(*args, **kwargs)


@dataclass
class Pending(Generic[T]):
    """One submitted job and, once its batch has committed (or failed), its outcome."""

    job: Job[T]
    order: int = 0  # PostgreSQL: batches lock departments in ascending order (no deadlock between instances)
    done: bool = False
    value: Any = None
    error: BaseException | None = None
    # A job that waits in the queue sleeps on its caller's event (one caller may submit several jobs: see run_all);
    # the leader's own never waits (one user at a time is always the leader), so it is made only on queueing.
    event: threading.Event | None = None
    lead: bool = False  # set with the event: the batch before is done, and this job's caller leads the next

    def outcome(self) -> T:
        if self.error is not None:
            raise self.error
        return self.value  # type: ignore[no-any-return]


class GroupCommit:
    """One writer per process: a long-lived connection, a leader at a time, batches of waiting jobs."""

    def __init__(self, engine: Engine, is_connection_problem: Callable[[OperationalError], bool],
                 max_batch: int = MAX_BATCH) -> None:
        self._engine = engine
        self._is_connection_problem = is_connection_problem
        self.max_batch = max_batch
        self._lock = threading.Lock()
        self._queue: list[Pending[Any]] = []
        self._leading = False
        self._conn: Connection | None = None
        self._session: WriterSession | None = None
        # Counters for tests and the benchmark: how the reports were grouped.
        self.batches = 0
        self.batched_jobs = 0
        self.fallbacks = 0
        self.reruns = 0  # batches run again with SAVEPOINTs (see _jobs)
        # Called (under the writer's lock) with the number of waiting jobs after each submission; tests use it
        # to know that a batch has formed without sleeping.
        self.on_queue: Callable[[int], None] | None = None

    def run(self, job: Job[T], order: int = 0) -> T:
        """Run job in a write transaction shared with whatever else is waiting; return after COMMIT."""
        item: Pending[T] = Pending(job, order)
        # Called from one of gathering.together's calls, the job waits for its siblings' and goes with them.
        if not gathering.park(item):
            self.run_all([item])
        return item.outcome()

    def run_all(self, items: Sequence[Pending[Any]]) -> None:
        """Run one caller's jobs in the next transactions, with whatever else is waiting; return after their COMMIT.

        Each outcome is in its Pending. A caller either leads (nobody is writing) or queues its jobs and sleeps on
        one event, woken when a batch holding some of them is done or when the turn to lead is its.
        """
        with self._lock:
            leading = not self._leading
            if leading:
                self._leading = True
            else:
                wake = threading.Event()
                for item in items:
                    item.event = wake
                self._queue.extend(items)
                if self.on_queue is not None:
                    self.on_queue(len(self._queue))
        while True:
            if not leading:
                wake.wait()
                with self._lock:
                    wake.clear()  # cleared under the lock: whatever is set after this wakes the next wait
                    if all(item.done for item in items):
                        return
                    leading = any(item.lead for item in items)
                if not leading:
                    continue
            if self._lead(items):
                return

    def _lead(self, items: Sequence[Pending[Any]]) -> bool:
        """Run one batch: the leader's own jobs first, then the oldest waiting. True when all of its own are done."""
        with self._lock:
            own = [item for item in items if not item.done]
            for item in own:
                item.lead = False
            mine = {id(item) for item in own}
            others = [item for item in self._queue if id(item) not in mine]
            batch = own[:self.max_batch]
            rest = self.max_batch - len(batch)
            batch += others[:rest]
            self._queue = own[len(batch):] + others[rest:]  # own jobs beyond max_batch go first next time
        successor: Pending[Any] | None = None
        finished = False
        try:
            self.run_batch(batch)
        finally:
            for pending in batch:  # never leave a caller waiting, whatever escaped
                if not pending.done:
                    pending.error, pending.done = StoreUnavailable("the writer stopped"), True
            with self._lock:
                # When the leader's own jobs did not all fit, it keeps the lead for the next batch.
                finished = all(item.done for item in items)
                if finished and self._queue:
                    successor = self._queue[0]  # its caller leads the next batch
                    successor.lead = True
                elif finished:
                    self._leading = False
            if successor is not None:
                assert successor.event is not None
                successor.event.set()  # first: the next batch starts while these answers go out
            for pending in batch:
                if pending.event is not None:
                    pending.event.set()
        return finished

    def run_batch(self, batch: Sequence[Pending[Any]]) -> None:
        """Book a batch in one transaction; fall back to one transaction per job on anything unexpected."""
        if len(batch) == 1:
            self._alone(batch[0])
            return
        ordered = sorted(batch, key=lambda p: p.order)  # stable: one department's reports keep their order
        try:
            try:
                results = self._transaction(functools.partial(_jobs, ordered, guarded=False))
            except _Unguarded:  # a refusal after a write: the batch again, each job behind its own SAVEPOINT
                self.reruns += 1
                results = self._transaction(functools.partial(_jobs, ordered, guarded=True))
        except Exception as exc:
            if isinstance(exc, OperationalError) and self._is_connection_problem(exc):
                # The database is away (or locked by another process beyond busy_timeout): one by one would
                # only make every sender wait that long again. Nothing was booked; each is asked to send again.
                for item in ordered:
                    item.error, item.done = _unavailable(exc, self._is_connection_problem), True
                return
            self.fallbacks += 1
            log.warning("a batch of %d bookings failed (%s: %s); booking them one by one", len(batch),
                        type(exc).__name__, exc)
            for item in ordered:
                self._alone(item)
            return
        self.batches += 1
        self.batched_jobs += len(batch)
        for item, (value, error) in zip(ordered, results, strict=True):
            item.value, item.error, item.done = value, error, True

    def _alone(self, item: Pending[Any]) -> None:
        """One job, one transaction, no SAVEPOINT: a refusal rolls the whole (one-job) transaction back."""
        try:
            item.value = self._transaction(item.job)
            self.batches += 1
            self.batched_jobs += 1
        except Exception as exc:
            item.error = _unavailable(exc, self._is_connection_problem)
        item.done = True

    def _transaction(self, body: Callable[[Session], T]) -> T:
        """Run body in one transaction on the writer connection, and once more on a new connection if the old
        one turned out dead (a restarted server). A second run is safe: if the first COMMIT did reach the
        database after all, the message's unique key answers the second with Duplicate."""
        for attempt in (1, 2):
            try:
                session = self._writer()
                assert self._conn is not None
                # The transaction is the connection's, not the Session's: the Session's own begin and commit cost a
                # tenth of a booking's Python. The session joins it for ORM queries and forgets it after.
                try:
                    with self._conn.begin():
                        session.begun = self._conn
                        return body(session)
                finally:
                    session.begun = None
                    session.close()
            except Exception as exc:
                lost = self._broken(exc)
                if not (lost and attempt == 1 and isinstance(exc, DBAPIError) and exc.connection_invalidated):
                    raise
        raise AssertionError("unreachable")

    def _writer(self) -> WriterSession:
        """The long-lived writer connection (and a session on it), opened on first use and after a failure."""
        if self._session is None:
            self._conn = self._engine.connect()
            self._session = WriterSession(bind=self._conn, expire_on_commit=False, autoflush=False)
        return self._session

    def _broken(self, exc: BaseException) -> bool:
        """Drop the writer connection after a connection problem, so the next transaction opens a new one."""
        if is_refusal(exc):
            return False
        invalidated = isinstance(exc, DBAPIError) and exc.connection_invalidated
        if invalidated or (isinstance(exc, OperationalError) and self._is_connection_problem(exc)):
            self.close()
            return True
        return False

    def close(self) -> None:
        session, conn, self._session, self._conn = self._session, self._conn, None, None
        try:
            if session is not None:
                session.close()
            if conn is not None:
                conn.close()
        except Exception:  # a dead connection may fail to close; it is gone either way
            log.debug("closing the writer connection failed", exc_info=True)


class _Unguarded(Exception):
    """A job of a batch run without SAVEPOINTs was refused after it had written: the batch must run again."""


Outcomes = list[tuple[Any, BaseException | None]]


def _jobs(ordered: Sequence[Pending[Any]], session: Session, *, guarded: bool) -> Outcomes:
    """Run a batch's jobs in the session's transaction; a refusal is that job's outcome and leaves nothing of it.

    On SQLite a SAVEPOINT and its RELEASE cost a third of a report's statements, and a refusal almost always comes
    before the job writes anything (a redelivery, the same text again): unguarded, the jobs run without them, and
    the count of changed rows tells whether a refused job had written. If it had, _Unguarded rolls the batch back
    and it runs again guarded. PostgreSQL has no such count: each job is guarded there.
    """
    results: Outcomes = []
    conn = session.connection()
    changes = None if guarded else _changes(conn)
    guarded = guarded or changes is None
    for item in ordered:
        if guarded:
            SAVEPOINT.execute(conn, {})
        try:
            results.append((item.job(session), None))
        except Exception as exc:
            if not is_refusal(exc):
                raise
            if guarded:
                ROLLBACK_TO_SAVEPOINT.execute(conn, {})
            elif _changes(conn) != changes:
                raise _Unguarded from exc
            results.append((None, exc))
        if guarded:
            RELEASE_SAVEPOINT.execute(conn, {})
        else:
            changes = _changes(conn)
    return results


def _changes(conn: Connection) -> int | None:
    """SQLite: rows inserted, updated or deleted on this connection so far. Elsewhere None."""
    return getattr(conn.connection.driver_connection, "total_changes", None)


def _unavailable(exc: Exception, is_connection_problem: Callable[[OperationalError], bool]) -> Exception:
    if isinstance(exc, OperationalError) and is_connection_problem(exc):
        unavailable = StoreUnavailable(str(exc.orig))
        unavailable.__cause__ = exc
        return unavailable
    return exc
