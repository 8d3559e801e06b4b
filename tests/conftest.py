"""Shared fixtures: a migrated temporary database, and one with the built-in ml-100k catalog imported.

Both come on SQLite by default. Test folders that touch the database's behaviour (catalog, jobs, db, curation,
reliability) override ``backend`` with both backends, so their tests also run on a real PostgreSQL server:
``BETAG_TEST_POSTGRES_URL`` (what .ci/run starts with scripts/test-postgres.sh), else a throwaway server started
here the same way when Debian's postgresql package is installed, else those cases are skipped with the reason
(failed instead when ``BETAG_TEST_POSTGRES=require``, as in CI; ``BETAG_TEST_POSTGRES=skip`` skips them).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import unicodedata
import uuid
from pathlib import Path

import pytest

from betag_engine.settings import get_settings, load_settings
from db.session import forget_engines

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ("sqlite", "postgresql")


def _use_database(monkeypatch, tmp_path, url: str) -> str:
    monkeypatch.setenv("BETAG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BETAG_DATABASE_URL", url)
    get_settings.cache_clear()
    return url


@pytest.fixture(autouse=True)
def _fresh_caches():
    yield
    get_settings.cache_clear()
    forget_engines()


@pytest.fixture
def backend() -> str:
    """The database backend of a test: SQLite here; folders that test both override this fixture."""
    return "sqlite"


# --- PostgreSQL -----------------------------------------------------------------------------------------------

class PostgresServer:
    """A PostgreSQL server for tests: an admin URL, and databases created (from templates) and dropped."""

    def __init__(self, url: str):
        from sqlalchemy import create_engine

        self.url = url
        self.admin = create_engine(url, isolation_level="AUTOCOMMIT")
        self.templates: dict[str, str] = {}

    def url_of(self, database: str) -> str:
        from sqlalchemy.engine import make_url

        return make_url(self.url).set(database=database).render_as_string(hide_password=False)

    def create(self, template: str | None = None) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        source = f" TEMPLATE {template} STRATEGY FILE_COPY" if template else " TEMPLATE template0"
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}{source}")
        return name

    def drop(self, name: str) -> None:
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def template(self, kind: str, build) -> str:
        """A template database built once per session by ``build(url)`` (migrated, or with the demo catalog)."""
        if kind not in self.templates:
            name = self.create()
            build(self.url_of(name))
            forget_engines()  # a template must have no connections when it is copied
            self.templates[kind] = name
        return self.templates[kind]


@pytest.fixture(scope="session")
def postgres_server():
    """The tests' PostgreSQL server, or None (with the reason in ``_POSTGRES_MISSING``) when there is none."""
    url = os.environ.get("BETAG_TEST_POSTGRES_URL")
    folder = None
    if os.environ.get("BETAG_TEST_POSTGRES") == "skip":
        _POSTGRES_MISSING.append("BETAG_TEST_POSTGRES=skip")
        yield None
        return
    if not url:
        folder = tempfile.mkdtemp(prefix="betag-test-pg-")  # not under pytest's tmp: the postgres user must reach it
        out = subprocess.run(["bash", str(ROOT / "scripts" / "test-postgres.sh"), "start", folder],
                             capture_output=True, text=True, timeout=180)
        if out.returncode != 0:
            shutil.rmtree(folder, ignore_errors=True)
            _POSTGRES_MISSING.append(out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "start failed")
            yield None
            return
        url = out.stdout.strip().splitlines()[-1]
    server = PostgresServer(url)
    yield server
    forget_engines()
    for name in server.templates.values():
        server.drop(name)
    server.admin.dispose()
    if folder is not None:
        subprocess.run(["bash", str(ROOT / "scripts" / "test-postgres.sh"), "stop", folder], capture_output=True,
                       timeout=120)
        shutil.rmtree(folder, ignore_errors=True)


_POSTGRES_MISSING: list[str] = []


def _postgres(request) -> PostgresServer:
    server = request.getfixturevalue("postgres_server")
    if server is None:
        reason = "PostgreSQL not available: " + (_POSTGRES_MISSING[-1] if _POSTGRES_MISSING else "unknown") + (
            " (install Debian's postgresql package, or set BETAG_TEST_POSTGRES_URL)")
        if os.environ.get("BETAG_TEST_POSTGRES") == "require":
            pytest.fail(reason)
        pytest.skip(reason)
    return server


@pytest.fixture
def _pg_database(request):
    """A function that gives a fresh PostgreSQL database (from a template) and drops it after the test."""
    server = _postgres(request)
    created: list[str] = []

    def make(template: str | None = None) -> str:
        name = server.create(template)
        created.append(name)
        return server.url_of(name)

    yield server, make
    forget_engines()
    for name in created:
        server.drop(name)


# --- the databases tests use ----------------------------------------------------------------------------------

@pytest.fixture
def empty_url(backend, request, tmp_path) -> str:
    """An empty database without any table (migration tests)."""
    if backend == "postgresql":
        _server, make = request.getfixturevalue("_pg_database")
        return make()
    return f"sqlite:///{tmp_path / 'empty.sqlite'}"


@pytest.fixture
def db_url(backend, request, tmp_path, monkeypatch) -> str:
    """An empty, migrated database (SQLite, or PostgreSQL where ``backend`` says so), set as BETAG_DATABASE_URL."""
    from db.migrate import upgrade_head

    if backend == "postgresql":
        server, make = request.getfixturevalue("_pg_database")
        return _use_database(monkeypatch, tmp_path, make(server.template("migrated", upgrade_head)))
    url = _use_database(monkeypatch, tmp_path, f"sqlite:///{tmp_path / 'test.sqlite'}")
    upgrade_head(url)
    return url


def _import_demo(url: str) -> None:
    from betag_engine.catalog.movielens import import_builtin
    from db.migrate import upgrade_head

    upgrade_head(url)
    import_builtin(url, "ml-100k")


@pytest.fixture(scope="session")
def _demo_template(tmp_path_factory):
    from db.session import make_engine

    path = tmp_path_factory.mktemp("demo") / "demo.sqlite"
    url = f"sqlite:///{path}"
    _import_demo(url)
    forget_engines()
    engine = make_engine(url)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture
def demo_url(backend, request, tmp_path, monkeypatch) -> str:
    """A private copy of a migrated database holding the built-in ml-100k catalog (native = genres)."""
    if backend == "postgresql":
        server, make = request.getfixturevalue("_pg_database")
        return _use_database(monkeypatch, tmp_path, make(server.template("demo", _import_demo)))
    path = tmp_path / "demo.sqlite"
    shutil.copy(request.getfixturevalue("_demo_template"), path)
    return _use_database(monkeypatch, tmp_path, f"sqlite:///{path}")


@pytest.fixture
def settings(request):
    """The settings of the test's environment, read after its database (and model) fixtures have set BETAG_*:
    what an entry point would pass down."""
    for name in ("tiny_model", "demo_url", "db_url"):
        if name in request.fixturenames:
            request.getfixturevalue(name)
    return load_settings()


@pytest.fixture
def session(demo_url):
    from db.session import session_factory

    with session_factory(demo_url)() as s:
        yield s


@pytest.fixture(scope="session")
def legacy_normalize_tag():
    """normalize_tag as it was until tags kept their symbols (commit f73a674): the reference that plain tags (words,
    digits, spaces, hyphens) must still normalise to, because the published evaluation's generated tags did."""
    bullet = re.compile(r"^\s*(?:[-*\u2022\u2023\u25e6\u2043\u2219>#]+|\(?\d{1,3}[.):\]](?=\s)|[a-z][.)](?=\s))\s*",
                        re.I)
    edge, inner, odd = re.compile(r"^[\W_]+|[\W_]+$"), re.compile(r"[_\s]+"), re.compile(r"[^\w\s&'+./-]")

    def once(t: str) -> str:
        t = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", t).casefold()).strip()
        t = inner.sub(" ", odd.sub(" ", bullet.sub("", t)))
        return edge.sub("", t).strip()

    def normalize(text: str) -> str:
        tag, previous = text, None
        while tag != previous:
            previous, tag = tag, once(tag)
        return tag if len(tag) <= 64 else ""

    return normalize
