"""Engines and sessions. Nothing connects on import; SQLite gets WAL, foreign keys and a busy timeout.

The session rule of the whole project:

* ``session_scope(url)`` is the way in. It opens a session, commits when the block ends and rolls back when it
  raises. There is one engine and one ``sessionmaker`` per URL, built on first use and kept for the process.
* Whoever opens the scope owns the unit of work: a CLI command, the app's service layer, a job (its
  ``JobContext.session()`` is such a scope, one per batch), the job runner for its own bookkeeping.
* Functions that receive a ``Session`` never commit or roll back; they add, change and ``flush`` (to get ids),
  and their changes are saved, or dropped, with the caller's unit of work.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_S = 30


def _sqlite_file(url: str) -> Path | None:
    if url.startswith("sqlite:///") and ":memory:" not in url:
        return Path(url[len("sqlite:///"):])
    return None


def make_engine(url: str) -> Engine:
    """Create an engine for ``url``; SQLite connections get WAL, foreign keys and a busy timeout."""
    path = _sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    kwargs = {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False}} if url.startswith(
        "sqlite"
    ) else {"pool_pre_ping": True}
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - exercised by every test
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

    return engine


@lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    """The process-wide engine for ``url`` (``Settings.database_url``)."""
    return make_engine(url)


@lru_cache(maxsize=8)
def session_factory(url: str) -> sessionmaker[Session]:
    """The process-wide sessionmaker for ``url`` (built once per URL). Prefer :func:`session_scope`."""
    return sessionmaker(bind=get_engine(url), expire_on_commit=False)


def forget_engines() -> None:
    """Drop the cached engines and sessionmakers (tests switch databases between cases)."""
    session_factory.cache_clear()
    get_engine.cache_clear()


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """One unit of work: a session that commits when the block ends and rolls back on any error."""
    session = session_factory(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
