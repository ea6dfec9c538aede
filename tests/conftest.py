"""Shared fixtures: the real campaign, a fresh database per test, a clock the test controls.

Every test that takes `db_url` (or `app`) runs twice: on SQLite and on a real PostgreSQL server,
a throwaway cluster started once for the whole run. Where PostgreSQL is not installed the run
says so in its header and the PostgreSQL half is skipped with that reason; where it is installed
and fails to start, that is an error, not a skip.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bot.app import App, build_app
from campaign import Campaign, load_campaign
from store.database import Database
from tests.pg import Cluster, find_bin, start_cluster
from tests.support import FakeClock

TEMPLATE = "bot_template"
_numbers = itertools.count()


def pytest_report_header() -> str:
    found = find_bin()
    if found is None:
        return "PostgreSQL: not installed here (no initdb): database tests run on SQLite only"
    return f"PostgreSQL: throwaway cluster from {found}; database tests run on SQLite and PostgreSQL"


@pytest.fixture(scope="session")
def campaign() -> Campaign:
    return load_campaign(Path(__file__).resolve().parent.parent / "config.toml")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster | None]:
    cluster = start_cluster()
    if cluster is not None:
        # A migrated template makes each test's fresh database a cheap copy.
        admin = create_engine(cluster.url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {TEMPLATE}"))
        admin.dispose()
        db = Database(cluster.url(TEMPLATE))
        db.migrate()
        db.dispose()
    yield cluster
    if cluster is not None:
        cluster.stop()


def fresh_pg_database(cluster: Cluster) -> str:
    name = f"t{next(_numbers)}"
    admin = create_engine(cluster.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}"))
    admin.dispose()
    return cluster.url(name)


@pytest.fixture(autouse=True)
def materials_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Material files of in-process tests go to the test's folder, never to the project's data/."""
    folder = tmp_path / "materials"
    monkeypatch.setenv("BOT_MATERIALS_DIR", str(folder))
    return folder


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'bot.db'}"
    cluster: Cluster | None = request.getfixturevalue("pg_cluster")
    if cluster is None:
        pytest.skip("PostgreSQL is not installed on this machine (no initdb found): ran on SQLite only")
    return fresh_pg_database(cluster)


@pytest.fixture
def app(db_url: str, clock: FakeClock) -> Iterator[App]:
    built = build_app(url=db_url, clock=clock)
    yield built
    built.close()
