"""Store writes that two writers may make at once."""

import threading

from betag_engine.catalog.store import ensure_system
from db.models import TaggingSystem
from db.session import session_factory


def test_two_writers_creating_one_tagging_system_both_get_it(db_url):
    """E.g. two reviewers' first decisions both create the curated system: neither may fail."""
    first = session_factory(db_url)()
    first.add(TaggingSystem(name="curated", kind="curated", model="", params={}))
    first.flush()  # inserted, not committed: the second writer cannot see it yet
    got = {}

    def second() -> None:
        with session_factory(db_url)() as s:
            got["id"] = ensure_system(s, "curated", "curated").id
            s.commit()

    thread = threading.Thread(target=second)
    thread.start()
    thread.join(0.5)  # it waits for the first writer (PostgreSQL: the unique index; SQLite: the write lock)
    first.commit()
    thread.join(60)
    first_id = first.get(TaggingSystem, 1).id if first.get(TaggingSystem, 1) else None
    first.close()
    assert got["id"] == first_id
