"""Row checks of an import: each chunk of rows becomes staged tuples, each bad row one or more problems.

Items are checked first (so interactions and tags can name the items of the same import), then tags, then
interactions. Repeated interactions (same user, item and timestamp) are found after staging from 64-bit keys kept
per row (flat numpy arrays, not the rows), and confirmed on the staged rows themselves.
"""

from __future__ import annotations

from array import array
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np

from betag_engine.catalog.normalize import is_rewritten, normalize_tag
from betag_engine.catalog.problems import ImportProblem, ProblemLog
from betag_engine.catalog.readers import Row, Source
from betag_engine.catalog.rules import (
    MAX_TITLE_CHARS,
    Refused,
    TimestampRule,
    as_text,
    check_id,
    check_rating,
    check_tag,
    check_tag_list,
    check_text,
    check_timestamp,
)

_MISSING = object()
REWRITE_EXAMPLES = 5  # rewritten tags quoted in the import summary


class RowChecker:
    """The checks of one import: column mapping, timestamp rule, rating range; known and refused item ids."""

    def __init__(self, mapping, rule: TimestampRule, rating_min: float, rating_max: float, problems: ProblemLog,
                 stored_items: set[str]):
        self.m = mapping
        self.rule, self.rating_range = rule, (rating_min, rating_max)
        self.problems = problems
        self.known = stored_items  # grows with the valid rows of the items file
        self.first_row: dict[str, int] = {}  # items file: id -> the row where it first appeared
        self.refused_items: dict[str, str] = {}  # id -> where its row was refused ("items.csv row 5")
        self.position = 0  # staged tags keep the files' order
        self._ts_cache: dict[str, float] = {}
        self.rewritten = 0  # accepted tags that normalisation changed beyond case and spacing
        self.rewrite_examples: list[str] = []  # the first few, "'raw' -> 'stored'"

    def _note_rewrites(self, raws: list[str]) -> None:
        """Count the accepted tags that are stored in another form than typed (the import summary reports it)."""
        for raw in raws:
            tag = normalize_tag(raw)
            if is_rewritten(raw, tag):
                self.rewritten += 1
                example = f"{raw.strip()!r} -> {tag!r}"
                if len(self.rewrite_examples) < REWRITE_EXAMPLES and example not in self.rewrite_examples:
                    self.rewrite_examples.append(example)  # different rewrites, not one repeated

    def require_columns(self, kind: str, source: Source, chunk: list[Row]) -> None:
        """A table file (CSV, TSV, Parquet) must have the required columns; JSON rows are checked one by one."""
        if source.unit != "row" or not chunk:
            return
        m = self.m
        required = {"items": [m.item_id, m.title], "interactions": [m.user_id, m.item_id, m.timestamp],
                    "tags": [m.item_id, m.tag]}[kind]
        columns = list(chunk[0][1])
        missing = [c for c in required if c not in columns]
        for col in missing:
            self.problems.add(ImportProblem(source.name, None, col, f"missing column (found: {', '.join(columns)})"))
        if missing:
            raise self.problems.error()

    def _refuse(self, source: Source, unit: str, row: int, errors: list[tuple[str, str]], cells: dict) -> None:
        for col, reason in errors:
            self.problems.add(ImportProblem(source.name, row, col, reason, unit), cells)

    def _unknown(self, ext: str) -> str:
        where = self.refused_items.get(ext)
        if where:
            return f"item {ext!r} was refused ({where})"
        return f"unknown item {ext!r} (neither in the catalog nor in the items file)"

    def items(self, source: Source, unit: str, chunk: list[Row]) -> tuple[list[tuple], list[tuple]]:
        """Staged item rows (src_row, id, title, description, metadata, replace_tags) and tag rows."""
        m = self.m
        mapped = {m.item_id, m.title, m.description, m.tags}
        items, tags = [], []
        for row, cells in chunk:
            errors: list[tuple[str, str]] = []
            ext = _value(cells, m.item_id, errors, check_id, "item id")
            title = _value(cells, m.title, errors, check_text, MAX_TITLE_CHARS, False)
            if title == "":
                errors.append((m.title, "empty title"))
            description = _optional(cells, m.description, errors, check_text)
            tag_list = _optional(cells, m.tags, errors, check_tag_list, m.tag_separator, default=None)
            meta = {}
            for col in cells:
                if col not in mapped:
                    text = _value(cells, col, errors, _metadata_text)
                    if text:
                        meta[col] = text
            first = self.first_row.get(ext) if ext is not None else None
            if first is not None:
                errors.append((m.item_id, f"duplicate id {ext!r} (first at {unit} {first})"))
            elif ext is not None:
                self.first_row[ext] = row
            if errors:
                self._refuse(source, unit, row, errors, cells)
                if ext is not None and first is None:
                    self.refused_items[ext] = f"{source.name} {unit} {row}"
                continue
            self.known.add(ext)
            items.append((row, ext, title, description or "", meta, tag_list is not None))
            if tag_list:
                self._note_rewrites([p for p in as_text(cells.get(m.tags)).split(m.tag_separator) if p.strip()])
            for tag in tag_list or ():
                self.position += 1
                tags.append((self.position, ext, tag))
        return items, tags

    def tags(self, source: Source, unit: str, chunk: list[Row]) -> list[tuple]:
        """Staged tag rows (position, item id, tag) of a long-form tags file (one tag per row)."""
        m = self.m
        out = []
        for row, cells in chunk:
            errors: list[tuple[str, str]] = []
            ext = _value(cells, m.item_id, errors, check_id, "item id")
            tag = _value(cells, m.tag, errors, check_tag)
            if ext is not None and (ext not in self.known or ext in self.refused_items):
                errors.append((m.item_id, self._unknown(ext)))
            if errors:
                self._refuse(source, unit, row, errors, cells)
                continue
            self.position += 1
            out.append((self.position, ext, tag))
            self._note_rewrites([as_text(cells.get(m.tag))])
        return out

    def interactions(self, source: Source, unit: str, chunk: list[Row]) -> list[tuple]:
        """Staged interaction rows (src_row, user id, item id, timestamp, rating)."""
        m = self.m
        low, high = self.rating_range
        out = []
        for row, cells in chunk:
            errors: list[tuple[str, str]] = []
            user = _value(cells, m.user_id, errors, check_id, "user id")
            ext = _value(cells, m.item_id, errors, check_id, "item id")
            if ext is not None and (ext not in self.known or ext in self.refused_items):
                errors.append((m.item_id, self._unknown(ext)))
            ts = _value(cells, m.timestamp, errors, check_timestamp, self.rule, self._ts_cache)
            rating = _optional(cells, m.rating, errors, check_rating, low, high, default=None)
            if errors:
                self._refuse(source, unit, row, errors, cells)
                continue
            out.append((row, user, ext, ts, rating))
        return out


def _metadata_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return check_text(value)


def _value(cells: dict, col: str, errors: list, fn: Callable, *args) -> Any:
    """``fn(cell, *args)`` for a required field; None (and a problem in ``errors``) when it is refused."""
    value = cells.get(col, _MISSING)
    if value is _MISSING:
        errors.append((col, "missing field"))
        return None
    try:
        return fn(value, *args)
    except Refused as exc:
        errors.append((col, str(exc)))
        return None


def _optional(cells: dict, col: str, errors: list, fn: Callable, *args, default: Any = "") -> Any:
    value = cells.get(col, _MISSING)
    if value is _MISSING:
        return default
    try:
        return fn(value, *args)
    except Refused as exc:
        errors.append((col, str(exc)))
        return default


class InteractionKeys:
    """A 64-bit key per staged interaction (user, item, timestamp) to find repeats without keeping the rows."""

    def __init__(self) -> None:
        self._keys = array("q")
        self._rows = array("q")

    def add(self, rows: list[tuple]) -> None:
        self._keys.extend(hash((user, item, ts)) for _row, user, item, ts, _rating in rows)
        self._rows.extend(row for row, *_ in rows)

    def candidate_rows(self) -> list[int]:
        """Staged rows whose key is shared by another row (to be confirmed on the rows themselves)."""
        keys = np.frombuffer(self._keys, dtype=np.int64) if len(self._keys) else np.empty(0, np.int64)
        if keys.size < 2:
            return []
        order = np.argsort(keys, kind="stable")
        same = np.nonzero(keys[order][1:] == keys[order][:-1])[0]
        positions = np.union1d(order[same], order[same + 1])
        return np.frombuffer(self._rows, dtype=np.int64)[positions].tolist()

    @staticmethod
    def conflicts(rows: list[tuple], source: Source, rating_field: str, problems: ProblemLog, skip: bool
                  ) -> set[int]:
        """Report repeats with different ratings; exact repeats are imported once. Returns the rows to unstage
        (with ``skip``: every row of a conflicting group, since which rating is right is unknown)."""
        groups: dict[tuple, list[tuple[int, Any]]] = defaultdict(list)
        for src_row, user, item, ts, rating in rows:
            groups[(user, item, ts)].append((src_row, rating))
        unstage: set[int] = set()
        unit = source.unit
        for members in groups.values():
            members.sort()
            first_row, first_rating = members[0]
            if len(members) < 2 or all(r == first_rating for _, r in members):
                continue
            for src_row, rating in members[1:]:
                if rating == first_rating:
                    continue
                problems.add(ImportProblem(source.name, src_row, rating_field,
                                           f"same user, item and timestamp as {unit} {first_row} with another "
                                           f"rating ({_shown(rating)} here, {_shown(first_rating)} there)", unit))
            if skip:
                problems.add(ImportProblem(source.name, first_row, rating_field, "same user, item and timestamp "
                                           "as a later row with another rating; both are left out", unit))
                unstage |= {r for r, _ in members}
        return unstage


def _shown(rating: Any) -> str:
    return "none" if rating is None else f"{rating:g}"
