"""Each bad-import case gives its specific error (file, row as a spreadsheet shows it, field, reason) and leaves
the database unchanged; good files import, twice without change."""

import json

import pandas as pd
import pytest
from sqlalchemy import func, select

from betag_engine.catalog.importer import ColumnMapping, ImportOptions, import_files
from betag_engine.catalog.store import item_tags, user_sequences
from betag_engine.errors import ImportValidationError
from db.models import Interaction, Item, ItemTag, TaggingSystem, User
from db.session import session_scope

ITEMS = "item_id,title,description,tags,brand\nA1,Red Shoe,Leather,Shoes|Red,Acme\nB2,Blue Hat,,Hats,\n"
EVENTS = "user_id,item_id,timestamp,rating\nu1,A1,1700000000,5\nu1,B2,2024-01-02T03:04:05Z,\nu2,B2,1700000100,3\n"


def _counts(url):
    with session_scope(url) as s:
        return tuple(s.scalar(select(func.count()).select_from(t)) for t in (Item, User, Interaction, ItemTag))


def _write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


def _refused(url, *files, **kwargs) -> list[str]:
    """Import that must be refused without changing anything; returns the problems as text."""
    before = _counts(url)
    with pytest.raises(ImportValidationError) as err:
        import_files(url, *files, **kwargs)
    assert _counts(url) == before
    return [str(p) for p in err.value.problems]


def test_good_import_then_reimport_is_idempotent(db_url, tmp_path):
    items, events = _write(tmp_path, "items.csv", ITEMS), _write(tmp_path, "events.csv", EVENTS)
    summary = import_files(db_url, items, events)
    assert (summary.items_added, summary.users_added, summary.interactions_added) == (2, 2, 3)
    again = import_files(db_url, items, events)
    assert (again.items_added, again.items_updated, again.interactions_added, again.interactions_skipped) == (
        0, 2, 0, 3)
    with session_scope(db_url) as s:
        a1 = s.scalar(select(Item).where(Item.external_id == "A1"))
        assert a1.metadata_json == {"brand": "Acme"} and a1.title == "Red Shoe"
        assert [t.tag for t in item_tags(s, "native")[a1.id]] == ["shoes", "red"]  # the file's order
        assert sorted(len(v) for v in user_sequences(s).values()) == [1, 2]
        stamps = sorted(s.scalars(select(Interaction.timestamp)))
    assert stamps == [1700000000.0, 1700000100.0, 1704164645.0]
    assert _counts(db_url) == (2, 2, 3, 3)


@pytest.mark.parametrize(
    ("items", "events", "expected"),
    [
        ("item_id,name\nA1,x\n", None, "items.csv, field 'title': missing column"),
        (ITEMS + "A1,Again,,,\n", None, "items.csv, row 4, field 'item_id': duplicate id 'A1' (first at row 2)"),
        (ITEMS + ",No id,,,\n", None, "items.csv, row 4, field 'item_id': empty item id"),
        (ITEMS + "C3,,,,\n", None, "items.csv, row 4, field 'title': empty title"),
        (ITEMS + "C3,x,,\n", None, "items.csv, row 4: 4 values where the header has 5 columns"),
        (ITEMS, "user_id,item_id,timestamp\nu1,ZZ,17\n", "events.csv, row 2, field 'item_id': unknown item 'ZZ'"),
        (ITEMS, "user_id,item_id,timestamp\nu1,A1,yesterday\n",
         "events.csv, row 2, field 'timestamp': relative date 'yesterday'"),
        (ITEMS, "user_id,item_id,timestamp,rating\nu1,A1,1700000000,five\n",
         "events.csv, row 2, field 'rating': not a number: 'five'"),
        (ITEMS, "user_id,item_id\nu1,A1\n", "events.csv, field 'timestamp': missing column"),
        (ITEMS, "user_id,item_id,timestamp\n,A1,1700000000\n", "events.csv, row 2, field 'user_id': empty user id"),
        ("", None, "items.csv: empty file"),
        ("item_id,title\n", None, "items.csv: empty file: no data rows"),
        ("item_id,title,item_id\nA1,x,A2\n", None, "items.csv, row 1, field 'item_id': duplicate column name"),
        ("item_id,title,\nA1,x,\n", None, "items.csv, row 1, field 'column 3': column without a name"),
        ('item_id,title\nA1,"x"y\n', None, "items.csv, row 2: cannot be parsed"),
    ],
)
def test_bad_input_is_refused_with_specific_error_and_changes_nothing(db_url, tmp_path, items, events, expected):
    items_path = _write(tmp_path, "items.csv", items)
    events_path = _write(tmp_path, "events.csv", events) if events is not None else None
    problems = _refused(db_url, items_path, events_path)
    assert any(expected in p for p in problems), problems


def test_one_bad_row_among_good_ones_imports_nothing_and_reports_every_problem(db_url, tmp_path):
    items = _write(tmp_path, "items.csv", ITEMS)
    events = _write(tmp_path, "events.csv", EVENTS + "u3,NOPE,1700000000,\nu4,A1,not-a-time,\n")
    with pytest.raises(ImportValidationError) as err:
        import_files(db_url, items, events)
    assert [(p.row, p.field) for p in err.value.problems] == [(5, "item_id"), (6, "timestamp")]
    assert _counts(db_url) == (0, 0, 0, 0)


@pytest.mark.parametrize(
    ("stamp", "reason"),
    [
        ("now", "relative date 'now'"),
        ("today", "relative date 'today'"),
        ("Jan 5", "not a timestamp: 'Jan 5'"),
        ("01/02/2020", "ambiguous date '01/02/2020': day/month order is unknown; give --timestamp-format"),
        ("1_600_000_000", "not a timestamp"),
        ("\u0661\u0667\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660", "not a timestamp"),
        ("1850-01-01", "outside the years 1900-2100"),
        ("2200-01-01T00:00:00Z", "outside the years 1900-2100"),
        ("1700000000000", "it looks like milliseconds"),
        ("2020-02-30", "is not a valid date"),
        ("inf", "not a timestamp"),
        ("", "empty timestamp"),
    ],
)
def test_timestamps_that_cannot_be_right_are_refused(db_url, tmp_path, stamp, reason):
    items = _write(tmp_path, "items.csv", ITEMS)
    events = _write(tmp_path, "events.csv", f"user_id,item_id,timestamp\nu1,A1,{stamp}\n")
    problems = _refused(db_url, items, events)
    assert len(problems) == 1 and problems[0].startswith("events.csv, row 2, field 'timestamp': ") and reason in (
        problems[0]), problems


def test_timestamp_format_reads_day_month_dates(db_url, tmp_path):
    items = _write(tmp_path, "items.csv", ITEMS)
    events = _write(tmp_path, "events.csv", "user_id,item_id,timestamp\nu1,A1,01/02/2020\nu1,B2,13/02/2020 10:30\n")
    _refused(db_url, items, events)
    events = _write(tmp_path, "events.csv", "user_id,item_id,timestamp\nu1,A1,01/02/2020 00:00\n"
                                            "u1,B2,13/02/2020 10:30\n")
    import_files(db_url, items, events, options=ImportOptions(timestamp_format="%d/%m/%Y %H:%M"))
    with session_scope(db_url) as s:
        assert sorted(s.scalars(select(Interaction.timestamp))) == [1580515200.0, 1581589800.0]  # 1 Feb, 13 Feb


@pytest.mark.parametrize("rating", ["inf", "-inf", "nan", "-1", "1e309", "10000", "1_0", "\u0665", "0x5"])
def test_ratings_that_cannot_be_right_are_refused(db_url, tmp_path, rating):
    items = _write(tmp_path, "items.csv", ITEMS)
    events = _write(tmp_path, "events.csv", f"user_id,item_id,timestamp,rating\nu1,A1,1700000000,{rating}\n")
    problems = _refused(db_url, items, events)
    assert len(problems) == 1 and problems[0].startswith("events.csv, row 2, field 'rating': "), problems


def test_rating_range_is_configurable(db_url, tmp_path):
    items = _write(tmp_path, "items.csv", ITEMS)
    events = _write(tmp_path, "events.csv", "user_id,item_id,timestamp,rating\nu1,A1,1700000000,55\n")
    assert "outside the allowed range [0, 10]" in _refused(db_url, items, events)[0]
    import_files(db_url, items, events, options=ImportOptions(rating_max=100))
    with session_scope(db_url) as s:
        assert s.scalar(select(Interaction.rating)) == 55.0


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("C3,Ti\x00tle,,,", "row 4, field 'title': contains control character U+0000 (NUL) at character 3"),
        ("C\x1b3,Title,,,", "row 4, field 'item_id': item id contains control character U+001B (escape)"),
        ("C3,Title,,x\x07y,", "row 4, field 'tags': tag 1 of 1 ('x\\x07y'): tag contains control character"),
        ("C3,Title,,,\x7f", "row 4, field 'brand': contains control character U+007F (DEL)"),
        ("C" + "x" * 300 + ",Title,,,", "row 4, field 'item_id': item id too long: 301 characters (the limit is 255)"),
        ("C3," + "t" * 2001 + ",,,", "row 4, field 'title': too long: 2,001 characters (the limit is 2,000)"),
    ],
)
def test_control_characters_and_overlong_values_are_refused(db_url, tmp_path, row, expected):
    items = _write(tmp_path, "items.csv", ITEMS + row + "\n")
    problems = _refused(db_url, items)
    assert any(expected in p for p in problems), problems


def test_multiline_description_with_tabs_is_kept(db_url, tmp_path):
    items = _write(tmp_path, "items.csv", 'item_id,title,description\nA1,Lamp,"Line one\n\tLine two"\n')
    import_files(db_url, items)
    with session_scope(db_url) as s:
        assert s.scalar(select(Item.description)) == "Line one\n\tLine two"


def test_a_one_megabyte_id_is_refused(db_url, tmp_path):
    items = _write(tmp_path, "items.csv", "item_id,title\n" + "x" * 1_048_576 + ",Big\n")
    problems = _refused(db_url, items)
    assert problems == ["items.csv, row 2, field 'item_id': item id too long: 1,048,576 characters (the limit is 255)"]


def test_wrong_encoding_names_the_row_and_byte(db_url, tmp_path):
    path = _write(tmp_path, "items.csv", "item_id,title\nA1,Tea\nA2,Caf\u00e9\n", encoding="latin-1")
    assert _refused(db_url, path) == [
        "items.csv, row 3, field 'title': contains a byte that is not UTF-8 (0xe9) at character 4"]
    utf16 = _write(tmp_path, "items.csv", "item_id,title\nA1,Tea\n", encoding="utf-16")
    assert _refused(db_url, utf16) == ["items.csv: the file is UTF-16; save it as UTF-8"]


def test_utf8_bom_is_accepted_in_csv_and_jsonl(db_url, tmp_path):
    items = _write(tmp_path, "items.csv", "\ufeff" + ITEMS)
    lines = [{"user_id": "u1", "item_id": "A1", "timestamp": 1700000000}]
    events = _write(tmp_path, "events.jsonl", "\ufeff" + "\n".join(json.dumps(r) for r in lines) + "\n")
    summary = import_files(db_url, items, events)
    assert (summary.items_added, summary.interactions_added) == (2, 1)


def test_jsonl_lines_that_are_not_objects_are_clean_errors(db_url, tmp_path):
    items = _write(tmp_path, "items.csv", ITEMS)
    text = ('{"user_id": "u1", "item_id": "A1", "timestamp": 1700000000}\n[1,2,3]\n42\nnull\n"text"\n{not json}\n'
            '{"user_id": "u1", "item_id": "A1", "item_id": "B2", "timestamp": 1}\n'
            '{"user_id": "u1", "item_id": "B2", "timestamp": NaN}\n'
            '{"user_id": ["u"], "item_id": "B2", "timestamp": 1}\n'
            '{"item_id": "B2", "timestamp": 1700000000}\n')
    problems = _refused(db_url, items, _write(tmp_path, "events.jsonl", text))
    assert problems[:4] == ["events.jsonl, line 2: must be a JSON object ({...}), not a list",
                            "events.jsonl, line 3: must be a JSON object ({...}), not a number",
                            "events.jsonl, line 4: must be a JSON object ({...}), not null",
                            "events.jsonl, line 5: must be a JSON object ({...}), not a string"]
    assert problems[4].startswith("events.jsonl, line 6: not valid JSON")
    assert problems[5] == "events.jsonl, line 7, field 'item_id': the key appears twice in this object"
    assert problems[6].startswith("events.jsonl, line 8: not valid JSON: NaN is not a JSON number")
    assert problems[7].startswith("events.jsonl, line 9, field 'user_id': not a single value: list")
    assert problems[8] == "events.jsonl, line 10, field 'user_id': missing field"


def test_parquet_binary_list_and_duplicate_columns_are_refused(db_url, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"item_id": ["P1", "P2"], "title": pa.array([b"caf\xe9", b"ok"], pa.binary())}),
                   tmp_path / "binary.parquet")
    problems = _refused(db_url, tmp_path / "binary.parquet")
    assert problems[0].startswith("binary.parquet, row 2, field 'title': not a single value: binary data")
    pq.write_table(pa.table({"item_id": ["P1"], "title": ["Lamp"], "colors": [[1]]}), tmp_path / "list.parquet")
    assert _refused(db_url, tmp_path / "list.parquet")[0].startswith(
        "list.parquet, row 2, field 'colors': not a single value: list")
    table = pa.Table.from_arrays([pa.array(["P1"]), pa.array(["Lamp"]), pa.array(["X"])],
                                 names=["item_id", "title", "item_id"])
    pq.write_table(table, tmp_path / "dup.parquet")
    assert _refused(db_url, tmp_path / "dup.parquet")[0].startswith(
        "dup.parquet, row 1, field 'item_id': duplicate column name")


def test_parquet_jsonl_and_column_mapping(db_url, tmp_path):
    pd.DataFrame({"sku": ["P1", "P2"], "name": ["Lamp", "Desk"], "labels": ["light;home", "office"]}).to_parquet(
        tmp_path / "items.parquet")
    lines = [{"session": "s1", "sku": "P1", "ts": 1700000010}, {"session": "s1", "sku": "P2", "ts": 1700000020}]
    (tmp_path / "events.jsonl").write_text("\n".join(json.dumps(r) for r in lines))
    mapping = ColumnMapping(item_id="sku", title="name", tags="labels", tag_separator=";", user_id="session",
                            timestamp="ts")
    summary = import_files(db_url, tmp_path / "items.parquet", tmp_path / "events.jsonl", mapping=mapping)
    assert (summary.items_added, summary.interactions_added, summary.items_tagged) == (2, 2, 2)
    with session_scope(db_url) as s:
        assert sorted(t.tag for tags in item_tags(s, "native").values() for t in tags) == ["home", "light", "office"]


def test_interactions_repeated_with_another_rating_are_refused(db_url, tmp_path):
    items = _write(tmp_path, "items.csv", ITEMS)
    events = _write(tmp_path, "events.csv", EVENTS + "u1,A1,1700000000,5\nu1,A1,1700000000,2\n")
    assert _refused(db_url, items, events) == [
        "events.csv, row 6, field 'rating': same user, item and timestamp as row 2 with another rating "
        "(2 here, 5 there)"]
    exact = _write(tmp_path, "events.csv", EVENTS + "u1,A1,1700000000,5\n")
    summary = import_files(db_url, items, exact)
    assert (summary.interactions_added, summary.interactions_skipped) == (3, 1)
    changed = _write(tmp_path, "events2.csv", "user_id,item_id,timestamp,rating\nu2,B2,1700000100,4\n")
    assert _refused(db_url, interactions=changed) == [
        "events2.csv, row 2, field 'rating': the catalog already holds this user, item and timestamp with rating 3, "
        "this row says 4"]


def test_long_form_tags_file(db_url, tmp_path):
    items = _write(tmp_path, "items.csv", ITEMS)
    tags = _write(tmp_path, "tags.csv", "item_id,tag\nB2,Summer\nB2,summer \nB2,Straw\n")
    import_files(db_url, items, tags=tags)
    with session_scope(db_url) as s:
        b2 = s.scalar(select(Item.id).where(Item.external_id == "B2"))
        assert [t.tag for t in item_tags(s, "native")[b2]] == ["hats", "summer", "straw"]  # union: both files
    bad = _write(tmp_path, "bad.csv", "item_id,tag\nQQ,x\nB2,!!!\nB2,\n")
    assert _refused(db_url, tags=bad) == [
        "bad.csv, row 2, field 'item_id': unknown item 'QQ' (neither in the catalog nor in the items file)",
        "bad.csv, row 3, field 'tag': '!!!' is not a tag: nothing is left after normalisation",
        "bad.csv, row 4, field 'tag': empty tag",
    ]


def test_one_tag_rule_for_the_items_tags_column_and_the_tags_file(db_url, tmp_path):
    """Issue 12 item 6: a category path longer than the tag limit is refused the same way by both paths."""
    path = "Office Products > Office & School Supplies > Paper > Notebooks & Writing Pads"
    via_items = _write(tmp_path, "items.csv", f"item_id,title,tags\nA1,Pad,paper|{path}\n")
    via_tags = _write(tmp_path, "tags.csv", f"item_id,tag\nA1,paper\nA1,{path}\n")
    items_only = _write(tmp_path, "plain.csv", "item_id,title\nA1,Pad\n")
    first = _refused(db_url, via_items)
    second = _refused(db_url, items_only, tags=via_tags)
    reason = "tag too long: 77 characters (the limit is 64)"
    assert first == [f"items.csv, row 2, field 'tags': tag 2 of 2 ({path[:40]!r}): {reason}; shorten it or split "
                     "a category path into several tags"]
    assert second == [f"tags.csv, row 3, field 'tag': {reason}; shorten it or split a category path into several tags"]


def test_skip_invalid_imports_the_valid_rows_and_reports_every_refused_row(db_url, tmp_path):
    import csv

    items = _write(tmp_path, "items.csv", ITEMS + "C3,,,,\nD4,Desk,,,\n")
    events = _write(tmp_path, "events.csv", EVENTS + "u3,C3,1700000000,4\nu3,D4,now,4\nu3,D4,1700000500,4\n")
    report = tmp_path / "refused.csv"
    summary = import_files(db_url, items, events, options=ImportOptions(skip_invalid=True, report_path=str(report)))
    assert (summary.items_added, summary.interactions_added, summary.rows_refused) == (3, 4, 3)
    with report.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["file"], r["row"], r["field"]) for r in rows] == [
        ("items.csv", "4", "title"), ("events.csv", "5", "item_id"), ("events.csv", "6", "timestamp")]
    assert rows[1]["reason"] == "item 'C3' was refused (items.csv row 4)"
    assert json.loads(rows[2]["values"]) == {"user_id": "u3", "item_id": "D4", "timestamp": "now", "rating": "4"}


def test_options_and_mapping_refuse_bad_values():
    with pytest.raises(ValueError, match="tag_separator must name a column"):
        ColumnMapping(tag_separator="")
    with pytest.raises(ValueError, match="write FIELD=COLUMN"):
        ColumnMapping.from_pairs(["item_id"])
    with pytest.raises(ValueError, match="field must be one of item_id, title"):
        ColumnMapping.from_pairs(["sku=item_id"])
    with pytest.raises(ValueError, match="native system name too long: 100 characters"):
        ImportOptions(native_system="n" * 100)
    with pytest.raises(ValueError, match="skip_invalid needs report_path"):
        ImportOptions(skip_invalid=True)


def test_unsupported_type_and_missing_file(db_url, tmp_path):
    assert _refused(db_url, _write(tmp_path, "items.xlsx", "x"))[0].startswith(
        "items.xlsx: unsupported file type '.xlsx'")
    assert _refused(db_url, tmp_path / "nope.csv") == ["nope.csv: file not found"]


def test_builtin_demo_catalog(session):
    from betag_engine.catalog.store import system_stats, tag_matrix

    stats = {s.name: s for s in system_stats(session)}
    assert stats["native"].items_tagged == 1682 and stats["native"].distinct_tags == 19
    a = tag_matrix(session, "native")
    assert a.matrix.shape == (1682, 19)
    seqs = user_sequences(session)
    assert len(seqs) == 943 and sum(map(len, seqs.values())) == 100_000
    system = session.scalar(select(TaggingSystem).where(TaggingSystem.name == "native"))
    assert system.params == {"dataset": "ml-100k", "source": "genres"} and system.kind == "native"


def test_import_counts_rewritten_tags(db_url, tmp_path):
    """Tags that normalisation changed beyond case and spacing are counted in the summary, with examples; symbols
    that product tags use are kept as typed."""
    from betag_engine.catalog.importer import import_files
    from betag_engine.catalog.store import item_tags
    from db.session import session_scope

    items = tmp_path / "items.csv"
    items.write_text('item_id,title,tags\nP1,Cable,USB-C|=1+1|3.5mm\nP2,Shirt,100% Cotton|- Sale!|"C++"\n')
    tags = tmp_path / "tags.csv"
    tags.write_text("item_id,tag\nP1,C#\nP1,** 2-in-1 **\n")
    summary = import_files(db_url, items=items, tags=tags)
    # '=1+1', '- Sale!', '"C++"' (its quotes are in the cell) and '** 2-in-1 **'; USB-C, 100% Cotton, C# only
    # change case
    assert summary.tags_rewritten == 4
    assert summary.rewritten_examples[0] == "'=1+1' -> '1+1'"
    with session_scope(db_url) as s:
        stored = {t.tag for tags in item_tags(s, "native").values() for t in tags}
    assert stored == {"usb-c", "1+1", "3.5mm", "100% cotton", "sale", "c++", "c#", "2-in-1"}
