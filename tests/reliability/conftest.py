"""The reliability suite runs on SQLite and on PostgreSQL (see tests/conftest.py); its sizes are in sizes.py."""

import uuid

import pytest


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request) -> str:
    return request.param


@pytest.fixture
def make_db(backend, request, tmp_path):
    """A function giving fresh, migrated databases on the test's backend."""
    from db.migrate import upgrade_head

    if backend == "postgresql":
        server, make = request.getfixturevalue("_pg_database")
        return lambda: make(server.template("migrated", upgrade_head))

    def make_sqlite() -> str:
        url = f"sqlite:///{tmp_path / f'{uuid.uuid4().hex[:8]}.sqlite'}"
        upgrade_head(url)
        return url

    return make_sqlite
