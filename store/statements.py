"""SQLAlchemy Core statements compiled once per dialect and run straight on the driver's cursor.

For the few statements every booking runs, SQLAlchemy's per-execution work (cache key, execution
context, result object, events) cost more than SQLite needs to execute them. A Prepared keeps the Core
construct as the one source of the SQL, compiles it once per dialect, looks up each parameter's bind
processor once (so Amount still scales Decimals exactly and UTCDateTime still refuses naive times), and
executes on the DBAPI cursor of the session's own connection, inside the session's transaction.

Errors are raised as SQLAlchemy's: a driver error as the matching DBAPIError subclass (OperationalError,
IntegrityError, …; a lost connection is invalidated as SQLAlchemy would), a bad parameter as StatementError.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, Dialect
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement


@dataclass(frozen=True)
class _Plan:
    sql: str
    names: tuple[str, ...]
    positional: bool
    pairs: tuple[tuple[str, Callable[[Any], Any] | None], ...]  # each parameter with its bind processor


class Prepared:
    """One statement, compiled at most once per dialect for the life of the process."""

    compilations = 0  # all Prepared together, for the test that nothing is compiled per booking

    def __init__(self, statement: ClauseElement, column_keys: Sequence[str] | None = None) -> None:
        self.statement = statement
        self._column_keys = list(column_keys) if column_keys is not None else None
        self._plans: dict[str, _Plan] = {}
        self._lock = threading.Lock()

    def plan(self, dialect: Dialect) -> _Plan:
        found = self._plans.get(dialect.name)
        if found is None:
            with self._lock:
                found = self._plans.get(dialect.name) or self._compile(dialect)
        return found

    def _compile(self, dialect: Dialect) -> _Plan:
        compiled = cast(SQLCompiler, self.statement.compile(dialect=dialect, column_keys=self._column_keys))
        positional = bool(compiled.positional)
        names = tuple(compiled.positiontup or ()) if positional else tuple(compiled.binds)
        pairs = tuple(
            (name, compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)) for name in names
        )
        plan = _Plan(compiled.string, names, positional, pairs)
        self._plans[dialect.name] = plan
        Prepared.compilations += 1
        return plan

    def _parameters(self, plan: _Plan, values: Mapping[str, Any]) -> Any:
        processed: list[Any] = []
        try:
            for name, process in plan.pairs:  # a plain loop: this runs for every statement of every booking
                value = values[name]
                processed.append(value if process is None or value is None else process(value))
        except (TypeError, ValueError) as exc:
            raise StatementError(f"({type(exc).__module__}.{type(exc).__name__}) {exc}", plan.sql, dict(values),
                                 exc) from exc
        return processed if plan.positional else dict(zip(plan.names, processed, strict=True))

    def execute(self, conn: Connection, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run once with these values; return the rows it returns (RETURNING, SELECT), unprocessed."""
        plan = self.plan(conn.dialect)
        parameters = self._parameters(plan, values) if plan.pairs else ([] if plan.positional else {})
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            _run(conn, cursor, plan.sql, parameters, many=False)
            # Read to the end: SQLite finishes a RETURNING statement only then, and COMMIT needs it finished.
            return list(cursor.fetchall()) if cursor.description is not None else []
        finally:
            cursor.close()

    def execute_many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        plan = self.plan(conn.dialect)
        parameters = [self._parameters(plan, row) for row in rows]
        cursor = conn.connection.cursor()
        try:
            _run(conn, cursor, plan.sql, parameters, many=True)
        finally:
            cursor.close()


def _run(conn: Connection, cursor: Any, sql: str, parameters: Any, *, many: bool) -> None:
    try:
        if many:
            cursor.executemany(sql, parameters)
        else:
            cursor.execute(sql, parameters)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise _translated(conn, cursor, sql, parameters, exc) from exc


def _translated(conn: Connection, cursor: Any, sql: str, parameters: Any, exc: Any) -> StatementError:
    """The driver's error as SQLAlchemy's (OperationalError, IntegrityError, …); a lost connection invalidated."""
    dialect = conn.dialect
    lost = dialect.is_disconnect(exc, conn.connection.dbapi_connection, cursor)
    error: StatementError = DBAPIError.instance(sql, parameters, exc, dialect.loaded_dbapi.Error,
                                                connection_invalidated=lost, dialect=dialect)
    if lost:
        conn.invalidate(exc)
    return error


def together(conn: Connection, steps: Sequence[tuple[Prepared, Mapping[str, Any]]]) -> list[list[tuple[Any, ...]]]:
    """Run statements in order and return each one's rows; on PostgreSQL all in one round trip.

    psycopg's pipeline mode sends them (and the transaction's BEGIN) at once and reads the answers after;
    each still runs after the one before has finished, so a lock taken first holds for the rest. A failing
    statement fails the whole call, as it would have failed the transaction.
    """
    if conn.dialect.name != "postgresql" or len(steps) < 2:
        return [prepared.execute(conn, values) for prepared, values in steps]
    driver = conn.connection.dbapi_connection
    plans = [(prepared.plan(conn.dialect), prepared, values) for prepared, values in steps]
    cursors = [driver.cursor() for _ in steps]  # type: ignore[union-attr]
    try:
        try:
            with driver.pipeline():  # type: ignore[union-attr]
                for cursor, (plan, prepared, values) in zip(cursors, plans, strict=True):
                    cursor.execute(plan.sql, prepared._parameters(plan, values))
        except conn.dialect.loaded_dbapi.Error as exc:
            raise _translated(conn, cursors[0], "; ".join(plan.sql for plan, _, _ in plans), None, exc) from exc
        return [list(cursor.fetchall()) if cursor.description is not None else [] for cursor in cursors]
    finally:
        for cursor in cursors:
            cursor.close()
