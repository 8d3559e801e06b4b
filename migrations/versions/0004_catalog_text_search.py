"""catalog text search: words in any order, by an index (FTS5 on SQLite, a tsvector GIN index on PostgreSQL)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 17:00:00.000000

SQLite: ``items_fts``, an FTS5 index over items' title and description (external content: the text stays in
``items``), filled from the existing rows and kept in step by triggers on insert, update and delete. SQLite
builds without FTS5 get no index and the search falls back to LIKE (``betag_engine.catalog.search``).
PostgreSQL: a GIN index on ``to_tsvector('simple', title || ' ' || description)``, the expression the search
queries. Both: an index on item_tags (system_id, tag), for the native-tag filter and its list of choices.
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

PG_DOCUMENT = "to_tsvector('simple', coalesce(title, '') || ' ' || coalesce(description, ''))"
SQLITE_FTS = [
    "CREATE VIRTUAL TABLE items_fts USING fts5(title, description, content='items', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2')",
    "INSERT INTO items_fts(items_fts) VALUES ('rebuild')",
    "CREATE TRIGGER items_fts_insert AFTER INSERT ON items BEGIN "
    "INSERT INTO items_fts(rowid, title, description) VALUES (new.id, new.title, new.description); END",
    "CREATE TRIGGER items_fts_delete AFTER DELETE ON items BEGIN "
    "INSERT INTO items_fts(items_fts, rowid, title, description) VALUES ('delete', old.id, old.title, "
    "old.description); END",
    "CREATE TRIGGER items_fts_update AFTER UPDATE OF title, description ON items BEGIN "
    "INSERT INTO items_fts(items_fts, rowid, title, description) VALUES ('delete', old.id, old.title, "
    "old.description); "
    "INSERT INTO items_fts(rowid, title, description) VALUES (new.id, new.title, new.description); END",
]


def _sqlite_has_fts5(bind) -> bool:
    try:
        bind.exec_driver_sql("CREATE VIRTUAL TABLE temp._fts5_probe USING fts5(x)")
    except sa.exc.OperationalError:
        return False
    bind.exec_driver_sql("DROP TABLE temp._fts5_probe")
    return True


def upgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table("item_tags") as batch:
        batch.create_index("ix_item_tags_system_tag", ["system_id", "tag"])
    if bind.dialect.name == "sqlite" and _sqlite_has_fts5(bind):
        for statement in SQLITE_FTS:
            bind.exec_driver_sql(statement)
    elif bind.dialect.name == "postgresql":
        op.execute(f"CREATE INDEX ix_items_text_search ON items USING gin ({PG_DOCUMENT})")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for name in ("items_fts_insert", "items_fts_delete", "items_fts_update"):
            bind.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
        bind.exec_driver_sql("DROP TABLE IF EXISTS items_fts")
    elif bind.dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_items_text_search")
    with op.batch_alter_table("item_tags") as batch:
        batch.drop_index("ix_item_tags_system_tag")
