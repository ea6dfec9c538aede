"""Database start-up: a database at the newest revision is not handed to Alembic again."""

from __future__ import annotations

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text

from store.database import HEAD_REVISION, MIGRATIONS, Database


def test_head_revision_is_alembics_head() -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(cfg).get_heads() == [HEAD_REVISION]


def test_a_new_database_is_migrated_and_one_at_head_is_left_alone(db_url: str) -> None:
    db = Database(db_url)
    try:
        db.migrate()
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == HEAD_REVISION
        assert db._at_head()
        db.migrate()  # a second start: nothing to do, and nothing fails
    finally:
        db.dispose()
