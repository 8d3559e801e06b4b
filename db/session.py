"""Engines and sessions. Nothing connects on import. SQLite gets WAL, foreign keys and a busy timeout.

The session rule of the whole project:

* ``session_scope(url)`` is the way in. It opens a session, commits when the block ends and rolls back when it
  raises. There is one engine and one ``sessionmaker`` per URL, built on first use and kept for the process.
* Whoever opens the scope owns the unit of work: a CLI command, the app's service layer, a job (its
  ``JobContext.session()`` is such a scope, one per batch), the job runner for its own bookkeeping, the importer
  (it stages a file in chunks of its own and publishes it in one short transaction).
* Functions that receive a ``Session`` never commit or roll back; they add, change and ``flush`` (to get ids),
  and their changes are saved, or dropped, with the caller's unit of work.

Contention: SQLite has one writer at a time. A write waits up to ``SQLITE_BUSY_TIMEOUT_S`` for the lock, and
:func:`retry_transaction` runs a whole unit of work again when the lock (or, on PostgreSQL, a deadlock or a
serialization failure) is transient. Both backends: SQLite (the embedded default) and PostgreSQL (a team's server,
``postgresql+psycopg://...``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_S = 30
RETRY_ATTEMPTS = 5
_PG_TRANSIENT_SQLSTATES = {"40001", "40P01", "55P03"}  # serialization failure, deadlock, lock not available
T = TypeVar("T")
log = logging.getLogger(__name__)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _sqlite_file(url: str) -> Path | None:
    if url.startswith("sqlite:///") and ":memory:" not in url:
        return Path(url[len("sqlite:///"):])
    return None


def make_engine(url: str) -> Engine:
    """Create an engine for ``url``; SQLite connections get WAL, foreign keys and a busy timeout."""
    path = _sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    if not is_sqlite(url):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - exercised by every test
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    return engine


_engines: dict[str, Engine] = {}
_factories: dict[str, sessionmaker[Session]] = {}
_lock = threading.Lock()


def get_engine(url: str) -> Engine:
    """The process-wide engine for ``url`` (``Settings.database_url``), built on first use."""
    with _lock:
        if url not in _engines:
            _engines[url] = make_engine(url)
        return _engines[url]


def session_factory(url: str) -> sessionmaker[Session]:
    """The process-wide sessionmaker for ``url`` (built once per URL). Prefer :func:`session_scope`."""
    engine = get_engine(url)
    with _lock:
        if url not in _factories:
            _factories[url] = sessionmaker(bind=engine, expire_on_commit=False)
        return _factories[url]


def forget_engines() -> None:
    """Close and drop the process's engines and sessionmakers (tests switch databases between cases)."""
    with _lock:
        engines = list(_engines.values())
        _engines.clear()
        _factories.clear()
    for engine in engines:
        engine.dispose()


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


def is_transient(exc: BaseException) -> bool:
    """True when ``exc`` says another writer held a lock that will be released (run the transaction again):
    SQLite's 'database is locked' past the busy timeout, PostgreSQL's deadlock or serialization failure."""
    if isinstance(exc, OperationalError) and any(w in str(exc.orig).lower() for w in ("locked", "busy")):
        return True
    if isinstance(exc, DBAPIError):
        return getattr(exc.orig, "sqlstate", None) in _PG_TRANSIENT_SQLSTATES
    return False


def retry_transient(fn: Callable[[], T], attempts: int = RETRY_ATTEMPTS, pause_s: float = 0.2) -> T:
    """Call ``fn`` (one whole transaction), again when it fails with a transient lock error (``is_transient``),
    pausing a little longer each time; the last failure is raised. ``fn`` must not have effects outside the
    database."""
    for attempt in range(attempts):
        try:
            return fn()
        except DBAPIError as exc:
            if not is_transient(exc) or attempt == attempts - 1:
                raise
            log.info("transient database lock (%s); attempt %d of %d", exc.orig, attempt + 2, attempts)
            time.sleep(pause_s * (attempt + 1))
    raise AssertionError("unreachable")


def retry_transaction(url: str, fn: Callable[[Session], T], attempts: int = RETRY_ATTEMPTS,
                      pause_s: float = 0.2) -> T:
    """Run ``fn(session)`` as one unit of work, again (from the start, on a fresh session) when it fails with a
    transient lock error; the last failure is raised. ``fn`` must not have effects outside the database."""

    def unit_of_work() -> T:
        with session_scope(url) as s:
            return fn(s)

    return retry_transient(unit_of_work, attempts, pause_s)


def upsert(dialect_name: str, table):
    """``INSERT`` for ``table`` with ``on_conflict_do_nothing`` / ``on_conflict_do_update`` (SQLite and PostgreSQL):
    the way to add a row that a concurrent writer may add too, without either failing."""
    if dialect_name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def begin_write(conn: Connection) -> None:
    """Start a write transaction on ``conn`` that owns the write lock from its first statement.

    On SQLite this is ``BEGIN IMMEDIATE``: it waits (busy timeout) for the lock up front, so a transaction that
    reads before it writes cannot fail half-way when another writer committed in between. On PostgreSQL row locks
    do that work; the transaction begins as usual."""
    if conn.dialect.name == "sqlite" and not conn.connection.dbapi_connection.in_transaction:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
