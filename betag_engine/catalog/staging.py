"""The import's staging area and its one publishing transaction.

Validated rows go, chunk by chunk, into temporary tables of the import's own connection (``CREATE TEMPORARY
TABLE``: on SQLite they live in a separate file, so staging takes no lock on the catalog; on PostgreSQL they are
private to the session). Each chunk commits on its own, so memory stays flat and nothing else waits. Nothing of
the import is visible until :func:`publish` moves the staged rows into the catalog with a few set-based statements
(upserts that cannot collide with a concurrent import of the same rows) in one transaction: the whole import or
none of it, even if the process dies. A crash before that commit leaves only temporary tables, which the database
drops with the connection.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    delete,
    func,
    literal,
    select,
    true,
    union,
)

from betag_engine.vocabulary import UNREVIEWED
from db.models import Interaction, Item, ItemTag, TaggingSystem, User, utcnow
from db.session import begin_write, upsert

_meta = MetaData()
stage_items = Table(
    "betag_stage_items", _meta,
    Column("src_row", Integer, primary_key=True),
    Column("external_id", String(255), nullable=False),
    Column("title", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("meta", JSON, nullable=False),
    Column("replace_tags", Boolean, nullable=False),
    prefixes=["TEMPORARY"],
)
stage_tags = Table(
    "betag_stage_tags", _meta,
    Column("position", Integer, primary_key=True),
    Column("item_external_id", String(255), nullable=False),
    Column("tag", String(255), nullable=False),
    prefixes=["TEMPORARY"],
)
stage_interactions = Table(
    "betag_stage_interactions", _meta,
    Column("src_row", Integer, primary_key=True),
    Column("user_external_id", String(255), nullable=False),
    Column("item_external_id", String(255), nullable=False),
    Column("ts", Float, nullable=False),
    Column("rating", Float, nullable=True),
    prefixes=["TEMPORARY"],
)
STAGE_TABLES = (stage_items, stage_tags, stage_interactions)
SQLITE_IMPORT_CACHE_KIB = 192 * 1024
_ROWCOUNT = {"preserve_rowcount": True}  # rows an INSERT ... SELECT added (SQLAlchemy keeps it only when asked)
PG_IMPORT_LOCK = 0x62657461  # pg_advisory_xact_lock key: one publishing import at a time ("beta")


@dataclass
class Published:
    items_added: int = 0
    items_updated: int = 0
    users_added: int = 0
    interactions_added: int = 0
    interactions_skipped: int = 0
    items_tagged: int = 0


def create(conn: Connection) -> None:
    """Create the staging tables on this connection (empty; dropped by :func:`drop` or with the connection)."""
    with conn.begin():
        _meta.drop_all(conn, checkfirst=True)
        _meta.create_all(conn)


def large_cache(conn: Connection, on: bool) -> None:
    """SQLite: a page cache large enough for the indexes the publishing transaction updates (its lock is held
    about half as long as with the default 2 MB); back to the default, and the memory freed, afterwards."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"PRAGMA cache_size={-SQLITE_IMPORT_CACHE_KIB if on else -2000}")
        if not on:
            conn.exec_driver_sql("PRAGMA shrink_memory")
        conn.commit()


def drop(conn: Connection) -> None:
    with conn.begin():
        _meta.drop_all(conn, checkfirst=True)


def insert_rows(conn: Connection, table: Table, rows: Sequence[tuple]) -> None:
    """Append ``rows`` (tuples in the table's column order) to a staging table and commit: SQLite through one
    executemany, PostgreSQL through COPY."""
    if not rows:
        return
    names = [c.name for c in table.columns]
    json_cols = [i for i, c in enumerate(table.columns) if isinstance(c.type, JSON)]
    if json_cols:
        rows = [tuple(json.dumps(v) if i in json_cols else v for i, v in enumerate(r)) for r in rows]
    with conn.begin():
        if conn.dialect.name == "postgresql":
            cursor = conn.connection.dbapi_connection.cursor()
            with cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.close()
        else:
            marks = ", ".join("?" for _ in names)
            conn.exec_driver_sql(f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({marks})", list(rows))


def delete_rows(conn: Connection, table: Table, src_rows: Iterable[int]) -> None:
    """Remove staged rows (refused after staging: conflicting duplicates), in chunks."""
    rows = sorted(set(src_rows))
    with conn.begin():
        for start in range(0, len(rows), 500):
            conn.execute(delete(table).where(table.c.src_row.in_(rows[start:start + 500])))


def analyze(conn: Connection) -> None:
    """PostgreSQL plans the publishing joins from statistics, which temporary tables only get when asked."""
    if conn.dialect.name == "postgresql":
        with conn.begin():
            for table in STAGE_TABLES:
                conn.exec_driver_sql(f"ANALYZE {table.name}")


def staged_interactions(conn: Connection, src_rows: Sequence[int]) -> list[tuple]:
    """(src_row, user, item, ts, rating) of the given staged rows."""
    s = stage_interactions
    out = []
    rows = sorted(set(src_rows))
    for start in range(0, len(rows), 500):
        out += conn.execute(select(s.c.src_row, s.c.user_external_id, s.c.item_external_id, s.c.ts, s.c.rating)
                            .where(s.c.src_row.in_(rows[start:start + 500]))).all()
    return out


def stored_conflicts(conn: Connection, limit: int | None = None) -> list[tuple[int, float | None, float | None]]:
    """Staged interactions whose (user, item, timestamp) is stored with another rating: (src_row, staged rating,
    stored rating)."""
    s = stage_interactions
    stmt = (select(s.c.src_row, s.c.rating, Interaction.rating)
            .join(User, User.external_id == s.c.user_external_id)
            .join(Item, Item.external_id == s.c.item_external_id)
            .join(Interaction, and_(Interaction.user_id == User.id, Interaction.item_id == Item.id,
                                    Interaction.timestamp == s.c.ts))
            .where(Interaction.rating.is_distinct_from(s.c.rating))
            .order_by(s.c.src_row))
    if limit is not None:
        stmt = stmt.limit(limit)
    return [tuple(r) for r in conn.execute(stmt)]


def count(conn: Connection, table: Table) -> int:
    return int(conn.scalar(select(func.count()).select_from(table)) or 0)


def _upsert(conn: Connection, table):
    return upsert(conn.dialect.name, table)


def publish(conn: Connection, native_system: str, native_kind: str, native_model: str,
            native_params: dict | None) -> Published:
    """Move every staged row into the catalog in one transaction (the caller commits or rolls back).

    Items upsert by external id, users and interactions are inserted unless present, and each item named by the
    staged tags (or whose items row carried a tags column) gets exactly its staged native tags.

    Raises:
        ConflictingInteractions: a staged interaction met a stored one with another rating (a concurrent import
            wrote it after validation); the transaction must be rolled back.
    """
    begin_write(conn)
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(PG_IMPORT_LOCK)))
        conn.exec_driver_sql("SET LOCAL work_mem = '256MB'")  # the key-ordered insert sorts in memory
    out = Published()
    system_id = _ensure_system(conn, native_system, native_kind, native_model, native_params)
    _publish_items(conn, out)
    _publish_interactions(conn, out)
    _publish_tags(conn, system_id, out)
    return out


class ConflictingInteractions(RuntimeError):
    def __init__(self, conflicts: list[tuple]):
        self.conflicts = conflicts
        super().__init__(f"{len(conflicts)} staged interaction(s) conflict with stored ones")


def _ensure_system(conn: Connection, name: str, kind: str, model: str, params: dict | None) -> int:
    now = utcnow()
    conn.execute(_upsert(conn, TaggingSystem.__table__).values(name=name, kind=kind, model=model, params=params or {},
                                                      created_at=now, updated_at=now)
                 .on_conflict_do_nothing(index_elements=["name"]))
    system_id = conn.scalar(select(TaggingSystem.id).where(TaggingSystem.name == name))
    changes = {"model": model} if model else {}
    if params is not None:
        changes["params"] = params
    if changes:
        conn.execute(TaggingSystem.__table__.update().where(TaggingSystem.id == system_id)
                     .values(updated_at=now, **changes))
    return system_id


def _publish_items(conn: Connection, out: Published) -> None:
    s = stage_items
    staged = count(conn, s)
    if not staged:
        return
    existing = conn.scalar(select(func.count()).select_from(s).join(Item, Item.external_id == s.c.external_id))
    now = utcnow()
    source = select(s.c.external_id, s.c.title, s.c.description, s.c.meta, literal(0), literal(UNREVIEWED),
                    literal(now, Item.created_at.type)).where(true()).order_by(s.c.external_id)
    items = Item.__table__
    stmt = _upsert(conn, items).from_select(
        ["external_id", "title", "description", "metadata", "review_version", "review_status", "created_at"], source)
    stmt = stmt.on_conflict_do_update(index_elements=["external_id"], set_={
        items.c.title: stmt.excluded["title"], items.c.description: stmt.excluded["description"],
        items.c["metadata"]: stmt.excluded["metadata"]})
    conn.execute(stmt)
    out.items_added, out.items_updated = staged - existing, existing


def _publish_interactions(conn: Connection, out: Published) -> None:
    s = stage_interactions
    staged = count(conn, s)
    if not staged:
        return
    users = select(s.c.user_external_id).where(true()).distinct()
    res = conn.execute(_upsert(conn, User.__table__).from_select(["external_id"], users)
                       .on_conflict_do_nothing(index_elements=["external_id"]), execution_options=_ROWCOUNT)
    out.users_added = max(0, res.rowcount or 0)
    source = (select(User.id, Item.id, s.c.ts, s.c.src_row, s.c.rating)
              .select_from(s)
              .join(User, User.external_id == s.c.user_external_id)
              .join(Item, Item.external_id == s.c.item_external_id)
              .where(true())
              .order_by(User.id, Item.id, s.c.ts, s.c.src_row))
    res = conn.execute(_upsert(conn, Interaction.__table__).from_select(["user_id", "item_id", "timestamp", "position",
                                                               "rating"], source)
                       .on_conflict_do_nothing(index_elements=["user_id", "item_id", "timestamp"]),
                       execution_options=_ROWCOUNT)
    out.interactions_added = max(0, res.rowcount or 0)
    out.interactions_skipped = staged - out.interactions_added
    if out.interactions_skipped:
        conflicts = stored_conflicts(conn, limit=1000)
        if conflicts:
            raise ConflictingInteractions(conflicts)


def _publish_tags(conn: Connection, system_id: int, out: Published) -> None:
    s, t = stage_items, stage_tags
    targets = union(
        select(Item.id).join(s, s.c.external_id == Item.external_id).where(s.c.replace_tags == true()),
        select(Item.id).join(t, t.c.item_external_id == Item.external_id),
    ).subquery()
    out.items_tagged = int(conn.scalar(select(func.count()).select_from(targets)) or 0)
    if not out.items_tagged:
        return
    conn.execute(delete(ItemTag).where(ItemTag.system_id == system_id, ItemTag.item_id.in_(select(targets.c.id))))
    source = (select(Item.id, literal(system_id), t.c.tag, literal(1.0))
              .select_from(t).join(Item, Item.external_id == t.c.item_external_id)
              .where(true()).order_by(t.c.position))
    conn.execute(_upsert(conn, ItemTag.__table__).from_select(["item_id", "system_id", "tag", "count"], source)
                 .on_conflict_do_nothing(index_elements=["item_id", "system_id", "tag"]))
