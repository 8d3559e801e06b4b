from sqlalchemy import inspect, text

from db.migrate import upgrade_head
from db.session import make_engine


def test_upgrade_head_creates_every_table_and_is_repeatable(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.sqlite'}"
    upgrade_head(url)
    upgrade_head(url)  # second run is a no-op
    engine = make_engine(url)
    names = set(inspect(engine).get_table_names())
    assert {"items", "users", "interactions", "tagging_systems", "item_tags", "jobs", "job_checkpoints",
            "review_decisions", "reports", "alembic_version"} <= names
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()


def test_models_match_migrations(db_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from db.base import Base

    engine = make_engine(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == [], f"models and migrations disagree; add a migration: {diff}"
