"""The app's writes retry transient lock errors on both backends, and nothing else."""

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from betag_engine.curation import retry_busy
from betag_engine.errors import BetagError


class _PgDeadlock(Exception):
    sqlstate = "40P01"  # PostgreSQL deadlock_detected


def _failing(errors):
    calls = {"n": 0}

    def fn():
        calls["n"] += 1
        if errors:
            raise errors.pop(0)
        return "saved"

    return fn, calls


def test_sqlite_lock_and_postgres_deadlock_are_retried():
    fn, calls = _failing([OperationalError("UPDATE", {}, Exception("database is locked")),
                          OperationalError("UPDATE", {}, _PgDeadlock("deadlock detected"))])
    assert retry_busy(fn, pause_s=0) == "saved" and calls["n"] == 3


def test_other_errors_are_not_retried_and_a_lasting_lock_says_nothing_was_saved():
    fn, calls = _failing([IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed"))])
    with pytest.raises(IntegrityError):
        retry_busy(fn, pause_s=0)
    assert calls["n"] == 1
    locked = [OperationalError("UPDATE", {}, Exception("database is locked")) for _ in range(3)]
    fn, calls = _failing(locked)
    with pytest.raises(BetagError, match="nothing was saved"):
        retry_busy(fn, attempts=3, pause_s=0)
