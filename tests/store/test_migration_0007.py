"""Migration 0007 keeps what is there: a row stranded as `sending` by an older version goes out again (its lease
has run out), and binding codes stored as bare SHA-256 keep working until they expire. SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text

from store import invites, outbox
from store.database import MIGRATIONS, Database
from tests.pg import Cluster

_names = itertools.count(1)
NOW = dt.datetime(2023, 8, 15, 2, 0, tzinfo=dt.UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def blank_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.db'}"
    cluster: Cluster | None = request.getfixturevalue("pg_cluster")
    if cluster is None:
        pytest.skip("PostgreSQL is not installed on this machine (no initdb found): ran on SQLite only")
    name = f"m7_{next(_names)}"
    admin = create_engine(cluster.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name} TEMPLATE template0"))
    admin.dispose()
    return cluster.url(name)


def _upgrade(db: Database, revision: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def test_0007_keeps_outbox_rows_and_old_codes(blank_url: str) -> None:
    db = Database(blank_url)
    try:
        _upgrade(db, "0005")
        sqlite = db.dialect == "sqlite"

        def at(moment: dt.datetime) -> object:
            """A time as the app stores it: naive UTC text on SQLite (SQLAlchemy's format), aware on PostgreSQL."""
            return moment.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else moment

        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO departments (id, key, name, short) VALUES (1, 'gaj', '市公安局', '公安局')"))
            conn.execute(text("INSERT INTO contacts (id, department_id, name, section, mobile, office, fax, email,"
                              " role, active, origin, updated_at) VALUES (1, 1, '方广成', '', '', '', '', '', 'member',"
                              " true, 'config', :now)"), {"now": at(NOW)})
            conn.execute(text("INSERT INTO outbox (key, contact_id, transport, chat_id, text, created_at, not_before,"
                              " status, attempts, last_error) VALUES ('r#1', 1, 'wecom', 'fanggc', '提醒', :now, :now,"
                              " 'sending', 1, '')"), {"now": at(NOW)})
            conn.execute(text("INSERT INTO invites (code_hash, contact_id, created_at, expires_at) VALUES"
                              " (:h, 1, :now, :until)"),
                         {"h": hashlib.sha256(b"ABCDEFGH").hexdigest(), "now": at(NOW),
                          "until": at(NOW + dt.timedelta(hours=72))})
        db.migrate()
        with db.session() as s:
            taken = outbox.claim_due(s, NOW + dt.timedelta(minutes=1), {"wecom"})
            assert [t.key for t in taken] == ["r#1"]
            assert invites.redeem(s, code="ABCDEFGH", transport="telegram", user_id="u1",
                                  now=NOW + dt.timedelta(hours=1)).status == "ok"
    finally:
        db.dispose()
