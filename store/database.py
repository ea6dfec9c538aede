"""Engine, sessions and migrations. One short session per message or job."""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from store.errors import StoreUnavailable
from store.statements import Prepared
from store.writer import GroupCommit

T = TypeVar("T")
log = logging.getLogger(__name__)

PROJECT = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE = PROJECT / "data" / "bot.db"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_READ_ONLY = "bot_read_only"  # execution option that marks a snapshot (read-only) session
HEAD_REVISION = "0010"  # the newest migration; tests/store/test_database.py holds it equal to Alembic's head
_MIGRATION_LOCK = 724_2023  # PostgreSQL advisory lock id: two instances never migrate at once
DIRECTORY_CHANNEL = "bot_directory"  # PostgreSQL NOTIFY channel: contacts, bindings or departments changed
# Tables whose changes can change who a messaging account speaks for (store/senders.py caches that).
DIRECTORY_TABLES = ("contacts", "identities", "bindings", "departments")
_DIRECTORY_WRITE = re.compile(
    r"^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+\"?(?:" + "|".join(DIRECTORY_TABLES) + r")\b", re.IGNORECASE
)


def database_url(configured: str = "") -> str:
    """Return BOT_DATABASE_URL, else the configured URL, else the SQLite file under data/."""
    return os.environ.get("BOT_DATABASE_URL") or configured or f"sqlite:///{DEFAULT_SQLITE}"


_BEGIN_IMMEDIATE = Prepared(text("BEGIN IMMEDIATE"))
_BEGIN_DEFERRED = Prepared(text("BEGIN DEFERRED"))


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transactions into our own hands so that every one starts with BEGIN IMMEDIATE:
        # the write lock is held from the first read, so "check the total, then book" cannot race.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a count is confirmed only after its commit is on disk, even across a power cut.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn: Any) -> None:
        # A read-only session takes a WAL snapshot (DEFERRED) and never holds the write lock,
        # so a long export or 汇总 cannot make a booking wait.
        # Straight to the driver's cursor (store/statements.py; errors still come as SQLAlchemy's, so a locked
        # database is StoreUnavailable): through exec_driver_sql this cost a fifth of a booking's Python.
        (_BEGIN_DEFERRED if conn.get_execution_options().get(_READ_ONLY) else _BEGIN_IMMEDIATE).execute(conn, {})


class Database:
    """The bot's database: a SQLAlchemy engine plus a session factory."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self.url = url
        self.dialect = parsed.get_backend_name()
        kwargs: dict[str, Any] = {}
        if self.dialect == "sqlite":
            database = parsed.database or ""
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": 15, "check_same_thread": False}
        else:
            kwargs["pool_pre_ping"] = True  # a restarted server must not break the next message
        self.engine = create_engine(url, **kwargs)
        if self.dialect == "sqlite":
            _sqlite_setup(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        reader = self.engine.execution_options(**{_READ_ONLY: True})
        if self.dialect == "postgresql":
            reader = reader.execution_options(postgresql_readonly=True)
        self._readers = sessionmaker(reader, expire_on_commit=False)
        # Bookings go through one writer per process: one long-lived connection, group commit.
        self.writer = GroupCommit(self.engine, _is_connection_problem)
        self._directory_version = 0
        self._directory_listeners: list[Callable[[], None]] = []
        self._closers: list[Callable[[], None]] = []
        self._local = threading.local()  # per thread: did this transaction write a directory table?
        event.listen(self.engine, "before_cursor_execute", self._watch_directory)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """Open one short transaction: commit on success, roll back on any error."""
        outer = getattr(self._local, "directory", False)
        self._local.directory = False
        try:
            with _unavailable_on_lost_connection(), self._sessions.begin() as session:
                yield session
        finally:
            changed, self._local.directory = self._local.directory, outer
        if changed:  # after COMMIT: a reader that cached the old binding meanwhile is dropped too
            self._directory_changed()

    def write(self, job: Callable[[Session], T], order: int = 0) -> T:
        """Run a booking job in the group-commit writer (store/writer.py); returns after its COMMIT.

        `order` (the department id) orders a batch's jobs, so that batches lock departments in one order.
        """
        return self.writer.run(job, order)

    @property
    def directory_version(self) -> int:
        """Bumped after every committed change of contacts, bindings or departments made in this process."""
        return self._directory_version

    def on_directory_change(self, listener: Callable[[], None]) -> None:
        self._directory_listeners.append(listener)

    def _watch_directory(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement[:1] in "IUDiud \n" and _DIRECTORY_WRITE.match(statement):
            self._local.directory = True

    def _directory_changed(self) -> None:
        self._directory_version += 1
        for listener in self._directory_listeners:
            listener()
        if self.dialect == "postgresql":
            # Tell the other instances (store/senders.py listens). After the COMMIT, in a transaction of its own:
            # a notice lost to a crash just here is covered by the caches' lifetime.
            try:
                with self.engine.connect() as conn:
                    conn.execute(text("SELECT pg_notify(:channel, '')"), {"channel": DIRECTORY_CHANNEL})
                    conn.commit()
            except Exception:
                log.warning("could not notify the other instances of a directory change", exc_info=True)

    def on_dispose(self, closer: Callable[[], None]) -> None:
        self._closers.append(closer)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """Open one short read-only transaction: a consistent snapshot that never blocks a booking."""
        with _unavailable_on_lost_connection(), self._readers.begin() as session:
            yield session

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision.

        A database already at HEAD_REVISION (every start but the first after an upgrade) is left as it is without
        importing Alembic, which alone costs a fifth of the start-up.
        """
        if self._at_head():
            return
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as conn:
            if self.dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK})
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def _at_head(self) -> bool:
        try:
            with self.engine.connect() as conn:
                found = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        except Exception:  # no table yet (a new database), or anything odd: let Alembic decide
            return False
        return found == [HEAD_REVISION]

    def lock_setup(self, session: Session) -> None:
        """PostgreSQL: hold the migration lock until this session's transaction ends.

        Seeding departments and contacts from config inserts rows under unique keys; two instances starting
        together on a new database would both insert them, and one would stop with a unique violation.
        Under the lock the second one waits, then sees the first one's rows and inserts nothing.
        """
        if self.dialect == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK})

    def dispose(self) -> None:
        for closer in self._closers:
            closer()
        self.writer.close()
        self.engine.dispose()


@contextmanager
def _unavailable_on_lost_connection() -> Iterator[None]:
    """A lost or locked database is StoreUnavailable (the user is asked to send again); other errors pass."""
    try:
        yield
    except OperationalError as exc:
        if _is_connection_problem(exc):
            raise StoreUnavailable(str(exc.orig)) from exc
        raise


def _is_connection_problem(exc: OperationalError) -> bool:
    message = str(exc.orig).lower()
    return exc.connection_invalidated or any(
        word in message
        for word in ("connection", "could not connect", "server closed", "terminating", "database is locked",
                     "unable to open", "disk i/o")
    )
