"""Each bad-import case gives its specific error and leaves the database unchanged."""

import json

import pandas as pd
import pytest
from sqlalchemy import func, select

from betag_engine.catalog.importer import ColumnMapping, import_files
from betag_engine.catalog.store import item_tags, user_sequences
from betag_engine.errors import ImportValidationError
from db.models import Interaction, Item, ItemTag, User
from db.session import session_scope

ITEMS = "item_id,title,description,tags,brand\nA1,Red Shoe,Leather,Shoes|Red,Acme\nB2,Blue Hat,,Hats,\n"
EVENTS = "user_id,item_id,timestamp,rating\nu1,A1,1700000000,5\nu1,B2,2024-01-02T03:04:05Z,\nu2,B2,1700000100,3\n"


def _counts(url):
    with session_scope(url) as s:
        return tuple(s.scalar(select(func.count()).select_from(t)) for t in (Item, User, Interaction, ItemTag))


def _write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_good_import_then_reimport_is_idempotent(db_url, tmp_path):
    items, events = _write(tmp_path, "items.csv", ITEMS), _write(tmp_path, "events.csv", EVENTS)
    with session_scope(db_url) as s:
        summary = import_files(s, items, events)
    assert (summary.items_added, summary.users_added, summary.interactions_added) == (2, 2, 3)
    with session_scope(db_url) as s:
        again = import_files(s, items, events)
        assert (again.items_added, again.items_updated, again.interactions_added) == (0, 2, 0)
        a1 = s.scalar(select(Item).where(Item.external_id == "A1"))
        assert a1.metadata_json == {"brand": "Acme"}
        assert [t.tag for t in item_tags(s, "native")[a1.id]] == ["shoes", "red"]  # the file's order
        seqs = user_sequences(s)
        assert sorted(len(v) for v in seqs.values()) == [1, 2]
    assert _counts(db_url) == (2, 2, 3, 3)


@pytest.mark.parametrize(
    ("items", "events", "expected"),
    [
        ("item_id,name\nA1,x\n", None, "items.csv, field 'title': missing column"),
        (ITEMS + "A1,Again,,,\n", None, "items.csv, row 3, field 'item_id': duplicate id 'A1'"),
        (ITEMS + ",No id,,,\n", None, "items.csv, row 3, field 'item_id': empty item id"),
        (ITEMS + "C3,,,,\n", None, "items.csv, row 3, field 'title': empty title"),
        (ITEMS, "user_id,item_id,timestamp\nu1,ZZ,17\n", "events.csv, row 1, field 'item_id': unknown item 'ZZ'"),
        (ITEMS, "user_id,item_id,timestamp\nu1,A1,yesterday\n", "events.csv, row 1, field 'timestamp': bad timestamp"),
        (ITEMS, "user_id,item_id,timestamp,rating\nu1,A1,1,five\n", "events.csv, row 1, field 'rating': not a number"),
        (ITEMS, "user_id,item_id\nu1,A1\n", "events.csv, field 'timestamp': missing column"),
        (ITEMS, "user_id,item_id,timestamp\n,A1,1\n", "events.csv, row 1, field 'user_id': empty user id"),
        ("", None, "items.csv: empty file"),
        ("item_id,title\n", None, "items.csv: empty file: no data rows"),
    ],
)
def test_bad_input_is_refused_with_specific_error_and_changes_nothing(db_url, tmp_path, items, events, expected):
    before = _counts(db_url)
    items_path = _write(tmp_path, "items.csv", items)
    events_path = _write(tmp_path, "events.csv", events) if events is not None else None
    with session_scope(db_url) as s, pytest.raises(ImportValidationError) as err:
        import_files(s, items_path, events_path)
    assert expected in str(err.value)
    assert _counts(db_url) == before


def test_one_bad_row_among_good_ones_imports_nothing_and_reports_every_problem(db_url, tmp_path):
    items = _write(tmp_path, "items.csv", ITEMS)
    events = _write(tmp_path, "events.csv", EVENTS + "u3,NOPE,1\nu4,A1,not-a-time\n")
    with session_scope(db_url) as s, pytest.raises(ImportValidationError) as err:
        import_files(s, items, events)
    rows = [(p.row, p.field) for p in err.value.problems]
    assert rows == [(4, "item_id"), (5, "timestamp")]
    assert _counts(db_url) == (0, 0, 0, 0)


def test_wrong_encoding(db_url, tmp_path):
    path = _write(tmp_path, "items.csv", "item_id,title\nA1,Caf\u00e9\n", encoding="latin-1")
    with session_scope(db_url) as s, pytest.raises(ImportValidationError, match="items.csv: wrong encoding"):
        import_files(s, path)


def test_unsupported_type_and_missing_file(db_url, tmp_path):
    with session_scope(db_url) as s:
        with pytest.raises(ImportValidationError, match="unsupported file type '.xlsx'"):
            import_files(s, _write(tmp_path, "items.xlsx", "x"))
        with pytest.raises(ImportValidationError, match="file not found"):
            import_files(s, tmp_path / "nope.csv")


def test_parquet_jsonl_and_column_mapping(db_url, tmp_path):
    pd.DataFrame({"sku": ["P1", "P2"], "name": ["Lamp", "Desk"], "labels": ["light;home", "office"]}).to_parquet(
        tmp_path / "items.parquet")
    lines = [{"session": "s1", "sku": "P1", "ts": 10}, {"session": "s1", "sku": "P2", "ts": 20}]
    (tmp_path / "events.jsonl").write_text("\n".join(json.dumps(r) for r in lines))
    mapping = ColumnMapping(item_id="sku", title="name", tags="labels", tag_separator=";", user_id="session",
                            timestamp="ts")
    with session_scope(db_url) as s:
        summary = import_files(s, tmp_path / "items.parquet", tmp_path / "events.jsonl", mapping=mapping)
        assert (summary.items_added, summary.interactions_added, summary.items_tagged) == (2, 2, 2)
        assert sorted(t.tag for tags in item_tags(s, "native").values() for t in tags) == ["home", "light", "office"]


def test_long_form_tags_file(db_url, tmp_path):
    items = _write(tmp_path, "items.csv", ITEMS)
    tags = _write(tmp_path, "tags.csv", "item_id,tag\nB2,Summer\nB2,summer \nB2,Straw\n")
    with session_scope(db_url) as s:
        import_files(s, items, tags=tags)
        b2 = s.scalar(select(Item.id).where(Item.external_id == "B2"))
        assert sorted(t.tag for t in item_tags(s, "native")[b2]) == ["hats", "straw", "summer"]  # union: both files
    bad = _write(tmp_path, "bad.csv", "item_id,tag\nQQ,x\nB2,!!!\n")
    with session_scope(db_url) as s, pytest.raises(ImportValidationError) as err:
        import_files(s, tags=bad)
    assert [str(p) for p in err.value.problems] == [
        "bad.csv, row 1, field 'item_id': unknown item 'QQ'",
        "bad.csv, row 2, field 'tag': empty or invalid tag '!!!'",
    ]


def test_builtin_demo_catalog(session):
    from betag_engine.catalog.store import system_stats, tag_matrix

    stats = {s.name: s for s in system_stats(session)}
    assert stats["native"].items_tagged == 1682 and stats["native"].distinct_tags == 19
    a = tag_matrix(session, "native")
    assert a.matrix.shape == (1682, 19)
    seqs = user_sequences(session)
    assert len(seqs) == 943 and sum(map(len, seqs.values())) == 100_000
