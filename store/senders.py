"""Who sent this message: directory.bound_person, cached, because it runs before every answer.

A binding changes when someone registers, an admin edits or removes a contact, or a contact list is
imported; messages arrive all day. So the answer (a Person, or None for a stranger) is kept for the life
of the process and dropped whenever this process commits a change to contacts, bindings or departments
(Database.on_directory_change). Changes made elsewhere (another instance on the same PostgreSQL
database, or the command line beside a running bot on SQLite) reach this process after at most `ttl`
seconds: a removed contact loses access within that time.

A look-up is read in a snapshot (Database.read): it never takes the write lock, so it never waits for a
booking, and a booking never waits for it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from store import directory
from store.database import Database
from store.directory import Person

POSTGRESQL_TTL = 5.0  # several instances may share the database: another instance's edit arrives this late
SQLITE_TTL = 60.0  # one bot per file; only the command line (contacts import) writes beside it
MAX_ENTRIES = 10_000  # strangers are cached too (as None): a flood of made-up ids must not grow it forever


class SenderCache:
    """transport + sender id -> the bound, active contact (or None), kept until a directory change."""

    def __init__(self, db: Database, ttl: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._db = db
        self.ttl = ttl if ttl is not None else (POSTGRESQL_TTL if db.dialect == "postgresql" else SQLITE_TTL)
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], tuple[float, Person | None]] = {}
        self.lookups = 0  # database look-ups, for tests
        db.on_directory_change(self.clear)

    def person(self, transport: str, sender_id: str) -> Person | None:
        key = (transport, sender_id)
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
