"""Stream the rows of an import file (CSV, TSV, JSON Lines, a JSON array, Parquet) or a DataFrame, in chunks.

Each row comes out as ``(row number, {column: cell})``: row numbers are what a spreadsheet shows (header = row 1,
first data row = row 2); for JSON Lines the line number, for a JSON array the record number. Cells are left as the
format gives them (text, numbers, None, datetimes, and for Parquet/JSON possibly bytes, lists or dicts, which the
rules refuse). A file that cannot be read at all refuses the import (``ProblemLog.fail``); a row that cannot be
read (a JSON line that is not an object, a CSV row with a missing value) is a row problem.

Memory stays flat: the readers hold one chunk at a time.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from betag_engine.catalog.problems import ImportProblem, ProblemLog
from betag_engine.catalog.rules import Refused, check_text

SUPPORTED_SUFFIXES = (".csv", ".tsv", ".parquet", ".jsonl", ".json")
CSV_FIELD_LIMIT = 32 * 1024 * 1024  # characters in one CSV cell (Python's default of 128 KiB would stop earlier)

Row = tuple[int, dict[str, Any]]
Progress = Callable[[int, int], None]  # (done, total) in the source's own unit (bytes or rows)


@dataclass(frozen=True)
class Source:
    """One input: a file path, or an in-memory DataFrame (built-in catalogs, API callers), named in messages."""

    name: str
    path: Path | None = None
    frame: Any = None  # a pandas DataFrame

    @classmethod
    def of(cls, value: "str | Path | Source") -> "Source":
        if isinstance(value, Source):
            return value
        return cls(Path(value).name, path=Path(value))

    @property
    def unit(self) -> str:
        suffix = self.path.suffix.lower() if self.path is not None else ""
        if suffix == ".json" and self.path.exists():
            with self.path.open("rb") as fh:
                return "record" if fh.read(64).lstrip(codecs.BOM_UTF8).lstrip().startswith(b"[") else "line"
        return "line" if suffix == ".jsonl" else "row"


class _DuplicateKey(ValueError):
    pass


def read_rows(source: Source, problems: ProblemLog, chunk_rows: int, progress: Progress | None = None
              ) -> Iterator[list[Row]]:
    """Yield the rows of ``source`` in chunks of at most ``chunk_rows``; see the module docstring."""
    note = progress or (lambda _d, _t: None)
    if source.frame is not None:
        yield from _frame_rows(source, problems, chunk_rows, note)
        return
    path = source.path
    if not path.exists():
        raise problems.fail(ImportProblem(source.name, None, None, "file not found"))
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise problems.fail(ImportProblem(source.name, None, None, f"unsupported file type {suffix!r}; use "
                                          f"{', '.join(SUPPORTED_SUFFIXES)}"))
    if path.stat().st_size == 0:
        raise problems.fail(ImportProblem(source.name, None, None, "empty file"))
    reader = {".parquet": _parquet_rows, ".jsonl": _jsonl_rows, ".json": _json_rows}.get(suffix, _csv_rows)
    count = 0
    for chunk in reader(source, problems, chunk_rows, note):
        count += len(chunk)
        yield chunk
    if count == 0 and not problems.refused_rows:
        raise problems.fail(ImportProblem(source.name, None, None, "empty file: no data rows"))


def check_header(names: list[Any], source: Source, problems: ProblemLog) -> list[str]:
    """Column names, stripped; refuses the file for an empty, duplicated or unreadable name."""
    out: list[str] = []
    for n, raw in enumerate(names, start=1):
        try:
            name = check_text(raw if isinstance(raw, str) else str(raw), limit=1000, multiline=False)
        except Refused as exc:
            raise problems.fail(ImportProblem(source.name, 1, f"column {n}", f"bad column name: {exc}")) from None
        if not name:
            raise problems.fail(ImportProblem(source.name, 1, f"column {n}", "column without a name in the header"))
        if name in out:
            raise problems.fail(ImportProblem(source.name, 1, name, f"duplicate column name (columns "
                                              f"{out.index(name) + 1} and {n}); rename one of them"))
        out.append(name)
    return out


def _csv_rows(source: Source, problems: ProblemLog, chunk_rows: int, note: Progress) -> Iterator[list[Row]]:
    path, name = source.path, source.name
    size = path.stat().st_size
    with path.open("rb") as raw:
        head = raw.read(4)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise problems.fail(ImportProblem(name, None, None, "the file is UTF-16; save it as UTF-8"))
    csv.field_size_limit(max(csv.field_size_limit(), CSV_FIELD_LIMIT))
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    with path.open(newline="", encoding="utf-8-sig", errors="surrogateescape") as fh:
        reader = csv.reader(fh, delimiter=delimiter, strict=True)
        record = 1
        try:
            columns = check_header(next(reader), source, problems)
        except StopIteration:
            raise problems.fail(ImportProblem(name, None, None, "empty file")) from None
        except csv.Error as exc:
            raise problems.fail(ImportProblem(name, 1, None, f"cannot be parsed: {exc}")) from None
        chunk: list[Row] = []
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                raise problems.fail(ImportProblem(name, record + 1, None, f"cannot be parsed: {exc}; nothing after "
                                                  "this row can be read")) from None
            record += 1
            if not cells:
                continue  # a blank line
            if len(cells) != len(columns):
                problems.add(ImportProblem(name, record, None, f"{len(cells)} values where the header has "
                                           f"{len(columns)} columns"), dict(enumerate(cells)))
                continue
            chunk.append((record, dict(zip(columns, cells))))
            if len(chunk) >= chunk_rows:
                note(fh.buffer.tell(), size)
                yield chunk
                chunk = []
        if chunk:
            yield chunk
        note(size, size)


def _no_duplicates(pairs):
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen[key] = value
    return seen


def _no_constant(word):
    raise ValueError(f"{word} is not a JSON number")


def _parse_json(text: bytes | str) -> Any:
    """json.loads that refuses duplicate keys (they would silently keep the last) and NaN/Infinity."""
    return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)


def _as_object(value: Any, name: str, number: int, unit: str, problems: ProblemLog) -> dict | None:
    if isinstance(value, dict):
        return value
    kind = {list: "a list", str: "a string", int: "a number", float: "a number", bool: "a boolean"}.get(
        type(value), "null")
    problems.add(ImportProblem(name, number, None, f"must be a JSON object ({{...}}), not {kind}", unit))
    return None


def _json_object(text: bytes, name: str, number: int, unit: str, problems: ProblemLog) -> dict | None:
    try:
        value = _parse_json(text)
    except _DuplicateKey as exc:
        problems.add(ImportProblem(name, number, str(exc), "the key appears twice in this object", unit))
        return None
    except UnicodeDecodeError as exc:
        problems.add(ImportProblem(name, number, None, f"not UTF-8 (byte {exc.object[exc.start]:#04x})", unit))
        return None
    except ValueError as exc:
        problems.add(ImportProblem(name, number, None, f"not valid JSON: {exc}", unit))
        return None
    return _as_object(value, name, number, unit, problems)


def _jsonl_rows(source: Source, problems: ProblemLog, chunk_rows: int, note: Progress) -> Iterator[list[Row]]:
    size = source.path.stat().st_size
    chunk: list[Row] = []
    with source.path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if number == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8):]
            if not raw.strip():
                continue
            value = _json_object(raw, source.name, number, "line", problems)
            if value is not None:
                chunk.append((number, value))
            if len(chunk) >= chunk_rows:
                note(fh.tell(), size)
                yield chunk
                chunk = []
    if chunk:
        yield chunk
    note(size, size)


def _json_rows(source: Source, problems: ProblemLog, chunk_rows: int, note: Progress) -> Iterator[list[Row]]:
    """A ``.json`` file: a JSON array of objects (read whole), or JSON Lines when it does not start with '['."""
    with source.path.open("rb") as fh:
        start = fh.read(64).lstrip(codecs.BOM_UTF8).lstrip()
    if not start.startswith(b"["):
        yield from _jsonl_rows(source, problems, chunk_rows, note)
        return
    try:
        records = _parse_json(source.path.read_bytes().removeprefix(codecs.BOM_UTF8))
    except _DuplicateKey as exc:
        raise problems.fail(ImportProblem(source.name, None, str(exc), "a key appears twice in one object")) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise problems.fail(ImportProblem(source.name, None, None, f"not valid JSON: {exc}")) from None
    if not isinstance(records, list):
        raise problems.fail(ImportProblem(source.name, None, None, "a .json file must hold an array of objects"))
    chunk: list[Row] = []
    for number, record in enumerate(records, start=1):
        value = _as_object(record, source.name, number, "record", problems)
        if value is not None:
            chunk.append((number, value))
        if len(chunk) >= chunk_rows:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _parquet_rows(source: Source, problems: ProblemLog, chunk_rows: int, note: Progress) -> Iterator[list[Row]]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(source.path)
        names = pf.schema_arrow.names
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a file that is not Parquet
        raise problems.fail(ImportProblem(source.name, None, None, f"not a readable Parquet file: {exc}")) from None
    columns = check_header(names, source, problems)
    total, done = pf.metadata.num_rows, 0
    try:
        for batch in pf.iter_batches(batch_size=chunk_rows):
            records = batch.to_pylist()
            yield [(done + i + 2, dict(zip(columns, rec.values()))) for i, rec in enumerate(records)]
            done += len(records)
            note(done, total)
    except Exception as exc:  # noqa: BLE001 - a corrupt page surfaces as one of several pyarrow errors
        raise problems.fail(ImportProblem(source.name, done + 2, None, f"cannot be read from here on: {exc}")) from None


def _frame_rows(source: Source, problems: ProblemLog, chunk_rows: int, note: Progress) -> Iterator[list[Row]]:
    frame = source.frame
    columns = check_header(list(frame.columns), source, problems)
    total = len(frame)
    for start in range(0, total, chunk_rows):
        part = frame.iloc[start:start + chunk_rows]
        yield [(start + i + 2, dict(zip(columns, values)))
               for i, values in enumerate(part.itertuples(index=False, name=None))]
        note(min(total, start + chunk_rows), total)
