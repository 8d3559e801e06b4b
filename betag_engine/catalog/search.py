"""Catalog search by words in any order: "zephyr blender" finds "Zephyr Organic Blender 1270".

One function, :func:`text_match`, gives the SQL condition for the catalog filter, whatever the database:
- SQLite: the FTS5 index ``items_fts`` over title and description (migration 0004 creates it and the triggers
  that keep it in step with ``items``); every word must start a word of the item's text ("blend" finds
  "Blender"), in any order;
- PostgreSQL: the GIN index on ``to_tsvector('simple', title || ' ' || description)`` (migration 0004), with
  each word as a prefix (``blend:*``), all required;
- anything else (or SQLite built without FTS5): every word as a case-insensitive substring of the title or the
  description (a full scan, correct but slower).
An exact external id matches too. The words go in as bound parameters; they are reduced to letters and digits
first, so nothing the user types is read as query syntax.
"""

from __future__ import annotations

import re

from sqlalchemy import and_, column, or_, select, table, text
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from db.models import Item

FTS_TABLE = "items_fts"
PG_DOCUMENT = "to_tsvector('simple', coalesce(title, '') || ' ' || coalesce(description, ''))"
_WORD = re.compile(r"\w+", re.UNICODE)
_fts_ready: set[str] = set()  # database URLs known to have the FTS5 table (a miss is asked again: cheap)


def words(query: str) -> list[str]:
    """The query's words, lower-cased, without duplicates (letters and digits only)."""
    return list(dict.fromkeys(w.lower() for w in _WORD.findall(query or "")))


def _has_fts(session: Session) -> bool:
    key = str(session.get_bind().url)
    if key not in _fts_ready and session.scalar(
            text("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = :name"), {"name": FTS_TABLE}):
        _fts_ready.add(key)
    return key in _fts_ready


def backend(session: Session) -> str:
    """How :func:`text_match` searches this database: "fts5", "tsvector" or "like"."""
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        return "fts5" if _has_fts(session) else "like"
    return "tsvector" if dialect == "postgresql" else "like"


def _like(word: str) -> str:
    return "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def text_match(session: Session, query: str) -> ColumnElement | None:
    """The condition "the item's text holds every word of ``query``, or its external id is ``query``"; None for
    a query without words."""
    ws = words(query)
    exact = Item.external_id == query.strip()
    if not ws:
        return exact if query.strip() else None
    how = backend(session)
    if how == "fts5":
        fts = table(FTS_TABLE, column("rowid"))
        phrase = " ".join(f'"{w}"*' for w in ws)  # FTS5: each quoted word as a prefix, all of them required
        hits = select(fts.c.rowid).where(text(f"{FTS_TABLE} MATCH :fts_query").bindparams(fts_query=phrase))
        return or_(Item.id.in_(hits), exact)
    if how == "tsvector":
        tsquery = " & ".join(f"{w}:*" for w in ws)
        return or_(text(f"{PG_DOCUMENT} @@ to_tsquery('simple', :ts_query)").bindparams(ts_query=tsquery), exact)
    per_word = [or_(Item.title.ilike(_like(w), escape="\\"), Item.description.ilike(_like(w), escape="\\"))
                for w in ws]
    return or_(and_(*per_word), exact)


def forget() -> None:
    """Forget which databases have the FTS table (tests that recreate a database under the same URL)."""
    _fts_ready.clear()

