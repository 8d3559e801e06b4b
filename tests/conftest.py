"""Shared fixtures: a migrated temporary database, and one with the built-in ml-100k catalog imported."""

from __future__ import annotations

import shutil

import pytest

from betag_engine.settings import get_settings, load_settings
from db.session import forget_engines


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
def db_url(tmp_path, monkeypatch) -> str:
    """An empty, migrated SQLite database, set as BETAG_DATABASE_URL."""
    from db.migrate import upgrade_head

    url = _use_database(monkeypatch, tmp_path, f"sqlite:///{tmp_path / 'test.sqlite'}")
    upgrade_head(url)
    return url


@pytest.fixture(scope="session")
def _demo_template(tmp_path_factory):
    from betag_engine.catalog.movielens import import_builtin
    from db.migrate import upgrade_head
    from db.session import forget_engines, make_engine

    path = tmp_path_factory.mktemp("demo") / "demo.sqlite"
    url = f"sqlite:///{path}"
    upgrade_head(url)
    import_builtin(url, "ml-100k")
    forget_engines()
    engine = make_engine(url)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture
def demo_url(_demo_template, tmp_path, monkeypatch) -> str:
    """A private copy of a migrated database holding the built-in ml-100k catalog (native = genres)."""
    path = tmp_path / "demo.sqlite"
    shutil.copy(_demo_template, path)
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
