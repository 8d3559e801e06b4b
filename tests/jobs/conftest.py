"""The database tests of this folder run on SQLite and on PostgreSQL (see tests/conftest.py)."""

import pytest


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request) -> str:
    return request.param
