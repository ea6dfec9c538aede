"""Who sent this message: directory.bound_person, cached, because it runs before every answer.

A binding changes when someone registers, an admin edits or removes a contact, or a contact list is
imported; messages arrive all day. So the answer (a Person, or None for a stranger) is kept for the life
of the process and dropped whenever this process commits a change to contacts, bindings or departments
(Database.on_directory_change). On PostgreSQL every instance also NOTIFYs the others of such a change,
and each LISTENs in a thread of its own (DirectoryListener), so an edit reaches all instances at once.
Whatever could still slip by (the command line beside a running bot on SQLite, a notice lost to a crash,
a listener reconnecting) is covered by the entries' lifetime: 60 s, and 5 s on PostgreSQL while the
listener is not connected.

A look-up is read in a snapshot (Database.read): it never takes the write lock, so it never waits for a
booking, and a booking never waits for it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from store import directory
from store.database import DIRECTORY_CHANNEL, Database
from store.directory import Person

log = logging.getLogger(__name__)
TTL = 60.0  # the safety net behind the invalidations
UNNOTIFIED_TTL = 5.0  # PostgreSQL while not listening: another instance's edit arrives at most this late
MAX_ENTRIES = 10_000  # strangers are cached too (as None): a flood of made-up ids must not grow it forever


class SenderCache:
    """transport + sender id -> the bound, active contact (or None), kept until a directory change."""

    def __init__(self, db: Database, ttl: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._db = db
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], tuple[float, Person | None]] = {}
        self.lookups = 0  # database look-ups, for tests
        db.on_directory_change(self.clear)
        self.listener = DirectoryListener(db, self.clear) if db.dialect == "postgresql" and ttl is None else None

    @property
    def ttl(self) -> float:
        if self._ttl is not None:
            return self._ttl
        if self.listener is not None and not self.listener.listening.is_set():
            return UNNOTIFIED_TTL
        return TTL

    def person(self, transport: str, sender_id: str) -> Person | None:
        key = (transport, sender_id)
        if self.listener is not None:
            self.listener.start()
        now = self._clock()
        cached = self._entries.get(key)
        if cached is not None and now - cached[0] < self.ttl:
            return cached[1]
        version = self._db.directory_version
        with self._db.read() as s:
            found = directory.bound_person(s, transport, sender_id)
        self.lookups += 1
        with self._lock:
            # A change committed while we read may not be in our snapshot: keep the answer only if none was.
            if self._db.directory_version == version:
                if len(self._entries) >= MAX_ENTRIES:
                    self._entries.clear()
                self._entries[key] = (now, found)
        return found

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class DirectoryListener:
    """PostgreSQL: LISTEN for other instances' directory changes in a daemon thread; clear the cache on each.

    Started on the first look-up (a command-line run never needs it) and stopped by Database.dispose. While
    it is not connected the cache keeps entries only UNNOTIFIED_TTL seconds; on every (re)connection the
    cache is cleared, since notices sent meanwhile were missed.
    """

    POLL = 1.0  # seconds between checks of the stop flag while waiting for notices

    def __init__(self, db: Database, on_change: Callable[[], None]) -> None:
        self._db = db
        self._on_change = on_change
        self.listening = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = threading.Lock()
        db.on_dispose(self.stop)

    def start(self) -> None:
        if self._thread is not None:
            return
        with self._started:
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, name="directory-listener", daemon=True)
                self._thread.start()

    def stop(self) -> None:
        self._stop.set()  # the thread ends within POLL seconds and closes its connection itself

    def _run(self) -> None:
        while not self._stop.is_set():
            raw: Any = None
            try:
                raw = self._db.engine.raw_connection()
                pg = raw.driver_connection
                pg.autocommit = True
                pg.execute(f"LISTEN {DIRECTORY_CHANNEL}")
                self._on_change()  # whatever changed while we were not listening
                self.listening.set()
                while not self._stop.is_set():
                    for _notice in pg.notifies(timeout=self.POLL):
                        self._on_change()
            except Exception as exc:
                # Once per outage, without a traceback: the database being away is reported where it matters
                # (the users' replies); the cache meanwhile keeps entries only UNNOTIFIED_TTL seconds.
                if not self._stop.is_set() and self.listening.is_set():
                    log.warning("directory listener lost its connection (%s); retrying",
                                str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
            finally:
                self.listening.clear()
                if raw is not None:
                    try:
                        raw.invalidate()  # LISTEN and autocommit: this connection must not go back to the pool
                    except Exception:
                        log.debug("closing the listener's connection failed", exc_info=True)
            self._stop.wait(self.POLL)
