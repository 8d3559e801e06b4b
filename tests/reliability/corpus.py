"""A seeded corpus of malformed (and some well-formed) import files, each with what a correct importer must do.

Every case is the same small catalog (items, interactions, long-form tags: the *base* rows, already in the
database when the case runs) plus a few rows new to that case (the *fresh* rows), written in one format (CSV,
TSV, JSON Lines, JSON array, Parquet), with one mutation. A *refuse* mutation makes a file wrong: a correct import
is refused, names the mutated file, row and field, and changes nothing (the fresh rows must not appear: that would
be a partial write). An *accept* mutation is a legitimate variant (a BOM, CRLF line ends, an ISO date for the same
instant, an exact repeat): the import must store exactly the fresh rows and leave the rest as it was.

    python tests/reliability/run.py --files 1000      # the whole suite; tests/reliability/test_fuzz.py samples it
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BAD_BYTE = "\ue000"  # written as the single byte 0xE9 (Latin-1 'é'): not UTF-8
FORMATS = ("csv", "tsv", "jsonl", "json", "parquet")
COLUMNS = {"items": ["item_id", "title", "description", "tags", "brand"],
           "interactions": ["user_id", "item_id", "timestamp", "rating"],
           "tags": ["item_id", "tag"]}
BASE_ITEMS = [["I1", "Red Shoe", "Leather shoe", "Shoes|Red", "Acme"],
              ["I2", "Blue Hat", "", "Hats", "Hatco"],
              ["I3", "Oak Desk", "A desk\nin two lines", "Office|Wood", ""],
              ["I4", "Desk Lamp", "LED", "Office|Light", "Lumo"],
              ["I5", "Notebook A5", "Ruled, 80 pages", "Paper", "Padco"],
              ["I6", "USB-C Cable", "1 m", "Cables|USB", "Wired"]]
BASE_INTERACTIONS = [[f"u{1 + n % 4}", f"I{1 + (n * 5) % 6}", 1_700_000_000 + 3600 * n, 1 + n % 5] for n in range(12)]
BASE_TAGS = [["I1", "Summer"], ["I2", "Straw"], ["I3", "Desk"], ["I4", "Lamp"], ["I5", "A5"], ["I6", "Charging"]]


@dataclass
class Table:
    """One file before it is written: clean rows, plus what the mutation did to its form."""

    kind: str
    columns: list[str]
    rows: list[list[Any]]
    fresh_rows: set[int] = field(default_factory=set)  # indexes of the case's new rows
    bom: bool = False
    crlf: bool = False
    blank_lines: bool = False
    raw: bytes | None = None  # replaces the whole file
    raw_lines: dict[int, str] = field(default_factory=dict)  # JSON Lines: row index -> the line as written
    parquet_types: dict[str, Any] = field(default_factory=dict)  # column -> pyarrow array factory
    replace: tuple[bytes, bytes] | None = None  # bytes replaced in the written file


@dataclass
class Case:
    number: int
    kind: str
    target: str  # the mutated file: items, interactions, tags (or "options")
    fmt: str
    expect: str  # "refuse" or "accept"
    row: int | None  # the row (line) a refusal must name; None: the file as a whole
    field: str | None
    files: dict[str, Path]
    fresh: dict[str, Any]  # what an accepted case adds: items, users, interactions, tags
    options: dict[str, Any] = field(default_factory=dict)
    cli: list[str] | None = None  # an option error: the CLI arguments that must be refused
    clean_row: list[Any] | None = None  # the mutated row as it was before (mutations that change a row in place)


def _fresh(n: int) -> tuple[list[list[Any]], list[list[Any]], list[list[Any]]]:
    items = [[f"F{n}a", f"Fresh {n} A", f"New item {n}", "Fresh|New", "Acme"],
             [f"F{n}b", f"Fresh {n} B", "", "Fresh", "Hatco"]]
    inter = [[f"fu{n}", f"F{n}a", 1_700_100_000 + n, 4], [f"fu{n}", f"F{n}b", 1_700_100_060 + n, 2],
             [f"fu{n}", "I1", 1_700_100_120 + n, 5]]
    tags = [[f"F{n}a", "Extra"]]
    return items, inter, tags


def expected_fresh(n: int) -> dict[str, Any]:
    """The database content an accepted case must add (normalised as the importer documents)."""
    items, inter, tags = _fresh(n)
    return {
        "items": {r[0]: (r[1], r[2], {"brand": r[4]}) for r in items},
        "users": {f"fu{n}"},
        "interactions": {(r[0], r[1], float(r[2])): float(r[3]) for r in inter},
        "tags": {f"F{n}a": ["fresh", "new", "extra"], f"F{n}b": ["fresh"]},
    }


# --- mutations: each changes one table in place and returns (expect, row index or None, field) ----------------

Mutation = Callable[[Table, random.Random], tuple[str, int | None, str | None]]
MUTATIONS: dict[str, tuple[str, tuple[str, ...], Mutation]] = {}  # name -> (target, formats, mutation)


def mutation(name: str, target: str, formats: tuple[str, ...] = FORMATS):
    def register(fn: Mutation) -> Mutation:
        MUTATIONS[name] = (target, formats, fn)
        return fn

    return register


def _pick(table: Table, rng: random.Random) -> int:
    return rng.randrange(len(table.rows))


def _set(col: str, values: list[Any], expect: str = "refuse"):
    """A mutation that writes one of ``values`` into ``col`` of a random row."""
    def mutate(table: Table, rng: random.Random):
        i = _pick(table, rng)
        table.rows[i][table.columns.index(col)] = rng.choice(values)
        return expect, i, col

    return mutate


def _register_value_mutations() -> None:
    stamps = {
        "ts-relative": ["now", "today", "yesterday", "tomorrow", "NOW", "Today", "2 days ago", "last week"],
        "ts-day-month": ["01/02/2020", "13/02/2020", "02/13/2020", "1/2/20", "05.06.2021", "5-6-2021"],
        "ts-words": ["Jan 5", "5 Jan 2020", "January 5, 2020", "Monday", "noon", "Q1 2020", "2020-1-5"],
        "ts-odd-digits": ["1_700_000_000", "\u0661\u0667\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660",
                          "\uff11\uff17\uff10\uff10\uff10\uff10\uff10\uff10\uff10\uff10", "0x65536A00",
                          "1,700,000,000"],
        "ts-years": ["1850-01-01", "2200-06-01T00:00:00Z", "0999-01-01", "-3000000000", "99999999999",
                     "1700000000000", "9999-12-31"],
        "ts-invalid-date": ["2020-02-30", "2020-13-01", "2020-01-01T25:00:00", "2021-02-29", "2020-00-10"],
        "ts-non-finite": ["inf", "nan", "-inf", "1e400", "Infinity"],
        "ts-empty": ["", "   "],
        "rating-non-finite": ["inf", "nan", "-inf", "1e309", "Infinity"],
        "rating-range": ["-1", "10000", "11", "-0.5", "1e5"],
        "rating-text": ["five", "1_0", "\u0665", "0x5", "5 stars", "4,5", "true"],
    }
    for name, values in stamps.items():
        col = "timestamp" if name.startswith("ts") else "rating"
        mutation(name, "interactions")(_set(col, values))
    controls = ["\x00", "\x01", "\x1b", "\x7f", "\x85", "\x08"]
    for target, col in (("items", "item_id"), ("items", "title"), ("interactions", "user_id"),
                        ("interactions", "item_id"), ("tags", "item_id"), ("tags", "tag"), ("items", "brand")):
        mutation(f"control-{target}-{col}", target)(_control(col, controls))
    for target, col in (("items", "item_id"), ("interactions", "user_id"), ("interactions", "item_id")):
        mutation(f"newline-in-{target}-{col}", target)(_control(col, ["\n", "\t", "\r"], inside=True))
        mutation(f"long-id-{target}-{col}", target)(_suffix(col, ["x" * 256, "y" * 5000, "z" * 1_048_576]))
        mutation(f"empty-{target}-{col}", target)(_set(col, ["", "  "]))
    mutation("long-title", "items")(_set("title", ["t" * 2001, "T" * 50_000]))
    mutation("empty-title", "items")(_set("title", ["", "   "]))
    mutation("long-metadata", "items")(_set("brand", ["b" * 100_001]))
    mutation("long-tag-in-items", "items")(_tag_piece(["Office Products > Office & School Supplies > Paper > "
                                                        "Notebooks & Writing Pads", "w" * 65]))
    mutation("bad-tag-in-items", "items")(_tag_piece(["!!!", "---", "\u2022"]))
    mutation("long-tag-in-tags", "tags")(_set("tag", ["Office Products > Office & School Supplies > Paper > "
                                                      "Notebooks & Writing Pads", "w" * 65]))
    mutation("bad-tag-in-tags", "tags")(_set("tag", ["!!!", "", "  ", "---"]))
    mutation("unknown-item-interactions", "interactions")(_set("item_id", ["NOPE", "i1", "I 1", "I7"]))
    mutation("unknown-item-tags", "tags")(_set("item_id", ["NOPE", "i2", "I0"]))
    mutation("latin1-byte-title", "items", ("csv", "tsv", "jsonl"))(_suffix("title", [BAD_BYTE]))
    mutation("latin1-byte-user", "interactions", ("csv", "tsv", "jsonl"))(_suffix("user_id", [BAD_BYTE]))


def _control(col: str, chars: list[str], inside: bool = False) -> Mutation:
    """Insert a control character; ``inside``: not at either end (spaces, tabs and line breaks around a value are
    stripped, as documented)."""
    def mutate(table: Table, rng: random.Random):
        i = _pick(table, rng)
        j = table.columns.index(col)
        text = str(table.rows[i][j])
        at = rng.randrange(1, len(text)) if inside and len(text) > 1 else rng.randrange(len(text) + 1)
        table.rows[i][j] = text[:at] + rng.choice(chars) + text[at:]
        return "refuse", i, col

    return mutate


def _suffix(col: str, suffixes: list[str]) -> Mutation:
    def mutate(table: Table, rng: random.Random):
        i = _pick(table, rng)
        j = table.columns.index(col)
        table.rows[i][j] = f"{table.rows[i][j]}{rng.choice(suffixes)}"
        return "refuse", i, col

    return mutate


def _tag_piece(pieces: list[str]) -> Mutation:
    def mutate(table: Table, rng: random.Random):
        i = _pick(table, rng)
        j = table.columns.index("tags")
        table.rows[i][j] = f"{table.rows[i][j]}|{rng.choice(pieces)}"
        return "refuse", i, "tags"

    return mutate


_register_value_mutations()


@mutation("duplicate-item-id", "items")
def _duplicate_item(table: Table, rng: random.Random):
    i = _pick(table, rng)
    copy = list(table.rows[i])
    copy[1] = copy[1] + " (again)"
    at = rng.randrange(i + 1, len(table.rows) + 1)
    table.rows.insert(at, copy)
    return "refuse", at, "item_id"


@mutation("conflicting-repeat", "interactions")
def _conflicting_repeat(table: Table, rng: random.Random):
    i = _pick(table, rng)
    copy = list(table.rows[i])
    copy[3] = 1 + copy[3] % 5  # another rating
    at = rng.randrange(i + 1, len(table.rows) + 1)
    table.rows.insert(at, copy)
    return "refuse", at, "rating"


@mutation("conflicts-with-stored", "interactions")
def _conflicts_with_stored(table: Table, rng: random.Random):
    i = rng.choice([n for n, r in enumerate(table.rows) if not str(r[0]).startswith("fu")])  # stored already
    table.rows[i][3] = 1 + table.rows[i][3] % 5
    return "refuse", i, "rating"


@mutation("too-many-values", "interactions", ("csv", "tsv"))
def _too_many(table: Table, rng: random.Random):
    i = _pick(table, rng)
    table.rows[i] = table.rows[i] + ["extra"]
    return "refuse", i, None


@mutation("too-few-values", "items", ("csv", "tsv"))
def _too_few(table: Table, rng: random.Random):
    i = _pick(table, rng)
    table.rows[i] = table.rows[i][:-1]
    return "refuse", i, None


@mutation("duplicate-header", "items", ("csv", "tsv", "parquet"))
def _duplicate_header(table: Table, rng: random.Random):
    col = rng.choice(["item_id", "title", "brand"])
    table.columns = table.columns + [col]
    table.rows = [r + [r[table.columns.index(col)]] for r in table.rows]
    return "refuse", -1, col


@mutation("empty-header", "interactions", ("csv", "tsv"))
def _empty_header(table: Table, rng: random.Random):
    table.columns = table.columns + [""]
    table.rows = [r + [""] for r in table.rows]
    return "refuse", -1, "column 5"


@mutation("missing-column", "interactions")
def _missing_column(table: Table, rng: random.Random):
    col = rng.choice(["user_id", "item_id", "timestamp"])
    j = table.columns.index(col)
    table.columns = table.columns[:j] + table.columns[j + 1:]
    table.rows = [r[:j] + r[j + 1:] for r in table.rows]
    return "refuse", None, col


@mutation("json-not-an-object", "interactions", ("jsonl",))
def _json_not_object(table: Table, rng: random.Random):
    i = _pick(table, rng)
    table.raw_lines[i] = rng.choice(["[1, 2, 3]", "42", "null", '"text"', "true", "[]"])
    return "refuse", i, None


@mutation("json-invalid", "interactions", ("jsonl",))
def _json_invalid(table: Table, rng: random.Random):
    i = _pick(table, rng)
    good = json.dumps(dict(zip(table.columns, table.rows[i])))
    table.raw_lines[i] = rng.choice([good[:-1], good + ",", good.replace('"', "'"), "{not json}",
                                     good.replace(str(table.rows[i][2]), "NaN")])
    return "refuse", i, None


@mutation("json-duplicate-key", "interactions", ("jsonl",))
def _json_duplicate_key(table: Table, rng: random.Random):
    i = _pick(table, rng)
    body = ", ".join(f'"{c}": {json.dumps(v)}' for c, v in zip(table.columns, table.rows[i]))
    table.raw_lines[i] = "{" + body + ', "item_id": "I2"}'
    return "refuse", i, "item_id"


@mutation("json-nested-value", "interactions", ("jsonl", "json"))
def _json_nested(table: Table, rng: random.Random):
    i = _pick(table, rng)
    col = rng.choice(["user_id", "item_id", "timestamp", "rating"])
    j = table.columns.index(col)
    table.rows[i][j] = rng.choice([[table.rows[i][j]], {"v": table.rows[i][j]}, [], [1, 2]])
    return "refuse", i, col


@mutation("parquet-binary", "items", ("parquet",))
def _parquet_binary(table: Table, rng: random.Random):
    import pyarrow as pa

    col = rng.choice(["title", "brand", "description"])
    table.parquet_types[col] = lambda values: pa.array([str(v).encode("latin-1", "replace") for v in values],
                                                       pa.binary())
    return "refuse", 0, col


@mutation("parquet-list", "items", ("parquet",))
def _parquet_list(table: Table, rng: random.Random):
    import pyarrow as pa

    col = rng.choice(["title", "tags", "brand"])
    table.parquet_types[col] = lambda values: pa.array([[str(v)] for v in values], pa.list_(pa.string()))
    return "refuse", 0, col


@mutation("unbalanced-quote", "items", ("csv", "tsv"))
def _unbalanced_quote(table: Table, rng: random.Random):
    i = _pick(table, rng)
    table.rows[i][1] = "QUOTEMARK"  # becomes a quote that opens a field and never closes
    table.replace = (b"QUOTEMARK", b'"Unclosed title')
    return "refuse", i, None


@mutation("utf16-file", "tags", ("csv", "tsv"))
def _utf16(table: Table, rng: random.Random):
    table.raw = _csv_bytes(table, ",").decode("utf-8").encode("utf-16")
    return "refuse", None, None


@mutation("garbage-bytes", "tags")
def _garbage(table: Table, rng: random.Random):
    table.raw = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400)))
    return "refuse", "any", None


@mutation("gzip-bytes", "interactions", ("csv", "tsv", "jsonl"))
def _gzip(table: Table, rng: random.Random):
    import gzip

    table.raw = gzip.compress(_csv_bytes(table, ","))
    return "refuse", "any", None


@mutation("empty-file", "tags")
def _empty(table: Table, rng: random.Random):
    table.raw = b""
    return "refuse", None, None


@mutation("header-only", "tags", ("csv", "tsv"))
def _header_only(table: Table, rng: random.Random):
    table.rows, table.fresh_rows = [], set()
    return "refuse", None, None


@mutation("truncated-parquet", "interactions", ("parquet",))
def _truncated(table: Table, rng: random.Random):
    return "truncate", None, None


# --- legitimate variants: must be accepted and store exactly the fresh rows --------------------------------------

@mutation("bom", "items", ("csv", "tsv", "jsonl"))
def _bom(table: Table, rng: random.Random):
    table.bom = True
    return "accept", None, None


@mutation("bom-interactions", "interactions", ("csv", "tsv", "jsonl"))
def _bom_inter(table: Table, rng: random.Random):
    table.bom = True
    return "accept", None, None


@mutation("crlf", "interactions", ("csv", "tsv"))
def _crlf(table: Table, rng: random.Random):
    table.crlf = True
    return "accept", None, None


@mutation("blank-lines", "tags", ("csv", "tsv", "jsonl"))
def _blank(table: Table, rng: random.Random):
    table.blank_lines = True
    return "accept", None, None


@mutation("shuffled-columns", "interactions")
def _shuffled(table: Table, rng: random.Random):
    order = list(range(len(table.columns)))
    rng.shuffle(order)
    table.columns = [table.columns[j] for j in order]
    table.rows = [[r[j] for j in order] for r in table.rows]
    return "accept", None, None


@mutation("iso-timestamps", "interactions")
def _iso(table: Table, rng: random.Random):
    j = table.columns.index("timestamp")
    styles = ["%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S+00:00"]
    for r in table.rows:
        r[j] = datetime.fromtimestamp(float(r[j]), UTC).strftime(rng.choice(styles))
    return "accept", None, None


@mutation("day-month-with-format", "interactions")
def _day_month_format(table: Table, rng: random.Random):
    j = table.columns.index("timestamp")
    for r in table.rows:
        r[j] = datetime.fromtimestamp(float(r[j]), UTC).strftime("%d/%m/%Y %H:%M:%S")
    return "accept-format", None, None


@mutation("padded-ids", "interactions", ("csv", "tsv", "jsonl", "json"))
def _padded(table: Table, rng: random.Random):
    for r in table.rows:
        r[0], r[1] = f"  {r[0]}", f"{r[1]} "
    return "accept", None, None


@mutation("exact-repeat", "interactions")
def _exact_repeat(table: Table, rng: random.Random):
    i = _pick(table, rng)
    table.rows.insert(rng.randrange(i + 1, len(table.rows) + 1), list(table.rows[i]))
    return "accept", None, None


@mutation("tag-spelling-variants", "items")
def _tag_variants(table: Table, rng: random.Random):
    j = table.columns.index("tags")
    for r in table.rows:
        r[j] = "|".join(f" {t.upper()} " for t in str(r[j]).split("|")) + "|"
    return "accept", None, None


# --- writing ----------------------------------------------------------------------------------------------------

def _csv_bytes(table: Table, sep: str) -> bytes:
    buf = io.StringIO(newline="")
    end = "\r\n" if table.crlf else "\n"
    out = csv.writer(buf, delimiter=sep, lineterminator=end)
    quoted = csv.writer(buf, delimiter=sep, lineterminator=end, quoting=csv.QUOTE_ALL)  # a lone \r needs quotes too
    out.writerow(table.columns)
    for row in table.rows:
        if table.blank_lines:
            buf.write(end)
        values = ["" if v is None else v for v in row]
        (quoted if any("\r" in str(v) for v in values) else out).writerow(values)
    text = ("\ufeff" if table.bom else "") + buf.getvalue()
    return text.encode("utf-8", "surrogatepass").replace(BAD_BYTE.encode("utf-8"), b"\xe9")


def _jsonl_bytes(table: Table) -> bytes:
    lines = []
    for i, row in enumerate(table.rows):
        if table.blank_lines:
            lines.append("")
        lines.append(table.raw_lines.get(i) or json.dumps(dict(zip(table.columns, row)), ensure_ascii=False))
    text = ("\ufeff" if table.bom else "") + "\n".join(lines) + "\n"
    return text.encode("utf-8", "surrogatepass").replace(BAD_BYTE.encode("utf-8"), b"\xe9")


def write_table(table: Table, fmt: str, path: Path) -> None:
    _write(table, fmt, path)
    if table.replace is not None:
        path.write_bytes(path.read_bytes().replace(*table.replace))


def _write(table: Table, fmt: str, path: Path) -> None:
    if table.raw is not None:
        path.write_bytes(table.raw)
    elif fmt in ("csv", "tsv"):
        path.write_bytes(_csv_bytes(table, "," if fmt == "csv" else "\t"))
    elif fmt == "jsonl":
        path.write_bytes(_jsonl_bytes(table))
    elif fmt == "json":
        path.write_text(json.dumps([dict(zip(table.columns, r)) for r in table.rows], ensure_ascii=False))
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        arrays = []
        for j, col in enumerate(table.columns):
            values = [r[j] for r in table.rows]
            make = table.parquet_types.get(col)
            arrays.append(make(values) if make else pa.array([None if v is None else str(v) for v in values],
                                                             pa.string()))
        pq.write_table(pa.Table.from_arrays(arrays, names=table.columns), path)


def _position(fmt: str, table: Table, index: int) -> int:
    """The row (line, record) number the importer reports for data row ``index`` of ``table``."""
    if fmt == "jsonl":
        return (2 * index + 2) if table.blank_lines else index + 1
    if fmt == "json":
        return index + 1
    return (2 * index + 3) if table.blank_lines else index + 2


def build_case(number: int, rng: random.Random, folder: Path, kind: str | None = None, fmt: str | None = None
               ) -> Case:
    """Write case ``number``'s three files into ``folder`` and say what a correct import must do."""
    kind = kind or rng.choice(sorted(MUTATIONS))
    target, formats, mutate = MUTATIONS[kind]
    fmt = fmt or rng.choice(formats)
    fresh_items, fresh_inter, fresh_tags = _fresh(number)
    tables = {
        "items": Table("items", list(COLUMNS["items"]), [list(r) for r in BASE_ITEMS + fresh_items]),
        "interactions": Table("interactions", list(COLUMNS["interactions"]),
                              [list(r) for r in BASE_INTERACTIONS + fresh_inter]),
        "tags": Table("tags", list(COLUMNS["tags"]), [list(r) for r in BASE_TAGS + fresh_tags]),
    }
    for t in tables.values():
        order = list(range(len(t.rows)))
        rng.shuffle(order)
        t.rows = [t.rows[j] for j in order]
    before = [list(r) for r in tables[target].rows]
    expect, index, col = mutate(tables[target], rng)
    in_place = isinstance(index, int) and index >= 0 and len(tables[target].rows) == len(before)
    options = {}
    if expect == "accept-format":
        expect, options = "accept", {"timestamp_format": "%d/%m/%Y %H:%M:%S"}
    files = {}
    folder.mkdir(parents=True, exist_ok=True)
    for kind_, table in tables.items():
        file_fmt = fmt if kind_ == target else "csv"
        path = folder / f"{kind_}-{number}.{file_fmt}"
        write_table(table, file_fmt, path)
        files[kind_] = path
    if expect == "truncate":
        data = files[target].read_bytes()
        files[target].write_bytes(data[: len(data) // 2])
        expect = "refuse"
    if kind.startswith("latin1") and fmt == "jsonl":
        col = None  # the line is not UTF-8, so it is not JSON: the line is refused, no field
    row = None
    if isinstance(index, int):
        row = 1 if index == -1 else _position(fmt, tables[target], index)
    elif index == "any":
        row = "any"
    return Case(number, kind, target, fmt, expect, row, col, files, expected_fresh(number), options,
                clean_row=before[index] if in_place else None)


OPTION_ERRORS = [
    (["--map", "item_id"], "write FIELD=COLUMN"),
    (["--map", "tag_separator="], "after '=' is empty"),
    (["--map", "sku=item_id"], "field must be one of"),
    (["--map", "title= "], "title must name a column"),
    (["--native-system", "n" * 100], "native system name too long"),
    (["--native-system", "bad\x00name"], "control character"),
    (["--rating-range", "five"], "--rating-range 'five': write MIN:MAX"),
    (["--rating-range", "5:1"], "rating range must have min <= max"),
    (["--years", "2000"], "--years '2000': write MIN:MAX"),
    (["--years", "2100:1900"], "year range must satisfy"),
    (["--timestamp-format", "dd/mm/yyyy"], "timestamp format must be one of"),
]


def option_cases(start: int, folder: Path) -> list[Case]:
    """CLI option errors: each must exit 2 with a one-line error, no traceback, nothing changed."""
    out = []
    for n, (args, reason) in enumerate(OPTION_ERRORS):
        case = build_case(start + n, random.Random(start + n), folder, kind="bom", fmt="csv")
        out.append(Case(case.number, "option-error", "options", "cli", "refuse", None, reason, case.files,
                        case.fresh, cli=args))
    return out


def build_corpus(count: int, seed: int, folder: Path, accept_share: float = 0.15) -> list[Case]:
    """``count`` malformed cases (every mutation kind in turn, then seeded choices) plus about ``accept_share``
    as many legitimate variants, and the CLI option errors."""
    rng = random.Random(seed)
    refuse_kinds = sorted(k for k, (_t, _f, fn) in MUTATIONS.items() if not _is_accept(k))
    accept_kinds = sorted(k for k in MUTATIONS if _is_accept(k))
    cases: list[Case] = []
    n = 0
    while len(cases) < count:
        kind = refuse_kinds[n] if n < len(refuse_kinds) else rng.choice(refuse_kinds)
        cases.append(build_case(n, rng, folder / f"case-{n:05d}", kind=kind))
        n += 1
    for i in range(max(len(accept_kinds), int(count * accept_share))):
        kind = accept_kinds[i] if i < len(accept_kinds) else rng.choice(accept_kinds)
        cases.append(build_case(n, rng, folder / f"case-{n:05d}", kind=kind))
        n += 1
    return cases + option_cases(n, folder / "options")


_ACCEPT = {"bom", "bom-interactions", "crlf", "blank-lines", "shuffled-columns", "iso-timestamps",
           "day-month-with-format", "padded-ids", "exact-repeat", "tag-spelling-variants"}


def _is_accept(kind: str) -> bool:
    return kind in _ACCEPT
