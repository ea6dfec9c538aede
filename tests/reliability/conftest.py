"""The reliability tests run on the session's throwaway PostgreSQL cluster (see tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.conftest import fresh_pg_database
from tests.pg import Cluster, find_bin

NO_POSTGRES = ("PostgreSQL is not installed on this machine (no initdb found): "
               "several bot instances need one shared database")


@pytest.fixture
def pg_url(request: pytest.FixtureRequest) -> str:
    """A new, migrated but empty PostgreSQL database: the bots seed it themselves when they start."""
    if find_bin() is None:
        pytest.skip(NO_POSTGRES)
    cluster: Cluster | None = request.getfixturevalue("pg_cluster")
    assert cluster is not None  # installed but not started is an error of the session fixture, not a skip
    return fresh_pg_database(cluster)
