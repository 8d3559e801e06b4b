"""Import items, behaviour logs and native tags from CSV, TSV, Parquet or JSONL, in one unit of work.

Every row is validated first; if any row is bad, an :class:`ImportValidationError` lists every problem
(file, row, field, reason) and nothing is written. Re-importing is idempotent: items upsert by external id,
interactions are unique per (user, item, timestamp), and an item's native tags are replaced.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from betag_engine.catalog.normalize import normalize_tags
from betag_engine.catalog.store import ensure_system, set_item_tags
from betag_engine.errors import ImportValidationError
from betag_engine.vocabulary import NATIVE
from db.models import Interaction, Item, User

SUPPORTED_SUFFIXES = (".csv", ".tsv", ".parquet", ".jsonl", ".json")


@dataclass(frozen=True)
class ImportProblem:
    file: str
    row: int | None  # 1-based data row (header not counted); None for file-level problems
    field: str | None
    reason: str

    def __str__(self) -> str:
        where = self.file + (f", row {self.row}" if self.row is not None else "")
        where += f", field {self.field!r}" if self.field else ""
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class ColumnMapping:
    """Which column of the user's files holds what (defaults follow the documented schema)."""

    item_id: str = field(default="item_id", metadata={"help": "Items and tags files: the item's external id."})
    title: str = field(default="title", metadata={"help": "Items file: item title (required, non-empty)."})
    description: str = field(default="description", metadata={"help": "Items file: optional description."})
    tags: str = field(default="tags", metadata={"help": "Items file: optional native tags, joined by tag_separator."})
    user_id: str = field(default="user_id", metadata={"help": "Interactions file: user or session id."})
    timestamp: str = field(default="timestamp", metadata={"help": "Epoch seconds or ISO 8601."})
    rating: str = field(default="rating", metadata={"help": "Interactions file: optional numeric rating."})
    tag: str = field(default="tag", metadata={"help": "Tags file (long form): one tag per row."})
    tag_separator: str = field(default="|", metadata={"help": "Separator of the items file's tags column."})


@dataclass
class ImportSummary:
    items_added: int = 0
    items_updated: int = 0
    users_added: int = 0
    interactions_added: int = 0
    interactions_skipped: int = 0
    items_tagged: int = 0


def read_table(path: str | Path) -> pd.DataFrame:
    """Read one file into a string-typed DataFrame; raise ImportValidationError for unreadable files."""
    path = Path(path)
    name = path.name
    if not path.exists():
        raise ImportValidationError([ImportProblem(name, None, None, "file not found")])
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise ImportValidationError(
            [ImportProblem(name, None, None, f"unsupported file type {suffix!r}; use {', '.join(SUPPORTED_SUFFIXES)}")]
        )
    if path.stat().st_size == 0:
        raise ImportValidationError([ImportProblem(name, None, None, "empty file")])
    try:
        if suffix == ".parquet":
            df = pd.read_parquet(path)
        elif suffix in (".jsonl", ".json"):
            df = pd.read_json(path, lines=suffix == ".jsonl", dtype=False, encoding="utf-8")
        else:
            df = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", dtype=str, keep_default_na=False,
                             encoding="utf-8", encoding_errors="strict")
    except UnicodeDecodeError as exc:
        reason = f"wrong encoding: not UTF-8 (byte {exc.object[exc.start]:#04x} at offset {exc.start})"
        raise ImportValidationError([ImportProblem(name, None, None, reason)]) from exc
    except (ValueError, OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ImportValidationError([ImportProblem(name, None, None, f"cannot be parsed: {exc}")]) from exc
    if df.empty:
        raise ImportValidationError([ImportProblem(name, None, None, "empty file: no data rows")])
    df.columns = [str(c).strip() for c in df.columns]
    return df


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def _require(df: pd.DataFrame, name: str, columns: list[str], problems: list[ImportProblem]) -> bool:
    missing = [c for c in columns if c not in df.columns]
    for col in missing:
        problems.append(ImportProblem(name, None, col, f"missing column (found: {', '.join(df.columns)})"))
    return not missing


def parse_timestamp(text: str) -> float | None:
    """Epoch seconds, or an ISO 8601 date/time (UTC if no zone); None if neither."""
    try:
        value = float(text)
        return value if math.isfinite(value) else None
    except ValueError:
        pass
    try:
        ts = pd.Timestamp(text)
    except (ValueError, TypeError):
        return None
    if pd.isna(ts):
        return None
    if ts.tzinfo is None:
        ts = ts.tz_localize("UTC")
    return ts.timestamp()


@dataclass
class _Parsed:
    items: dict[str, dict] = field(default_factory=dict)  # external id -> fields
    item_tags: dict[str, list[str]] = field(default_factory=dict)
    interactions: list[tuple[str, str, float, float | None, int]] = field(default_factory=list)


def _validate_items(df: pd.DataFrame, name: str, m: ColumnMapping, out: _Parsed, problems: list) -> None:
    if not _require(df, name, [m.item_id, m.title], problems):
        return
    known = {m.item_id, m.title, m.description, m.tags}
    extra = [c for c in df.columns if c not in known]
    for row, rec in enumerate(df.to_dict("records"), start=1):
        ext = _cell(rec.get(m.item_id))
        title = _cell(rec.get(m.title))
        if not ext:
            problems.append(ImportProblem(name, row, m.item_id, "empty item id"))
            continue
        if ext in out.items:
            problems.append(ImportProblem(name, row, m.item_id, f"duplicate id {ext!r} (first at row "
                                          f"{out.items[ext]['_row']})"))
            continue
        if not title:
            problems.append(ImportProblem(name, row, m.title, "empty title"))
        meta = {c: _cell(rec.get(c)) for c in extra if _cell(rec.get(c))}
        out.items[ext] = {"title": title, "description": _cell(rec.get(m.description)), "metadata": meta, "_row": row}
        if m.tags in df.columns:
            out.item_tags[ext] = normalize_tags(_cell(rec.get(m.tags)).split(m.tag_separator))


def _validate_interactions(df, name, m: ColumnMapping, known_items: set[str], out: _Parsed, problems) -> None:
    if not _require(df, name, [m.user_id, m.item_id, m.timestamp], problems):
        return
    has_rating = m.rating in df.columns
    for row, rec in enumerate(df.to_dict("records"), start=1):
        user, ext, ts_text = _cell(rec.get(m.user_id)), _cell(rec.get(m.item_id)), _cell(rec.get(m.timestamp))
        bad = False
        if not user:
            problems.append(ImportProblem(name, row, m.user_id, "empty user id"))
            bad = True
        if not ext:
            problems.append(ImportProblem(name, row, m.item_id, "empty item id"))
            bad = True
        elif ext not in known_items:
            problems.append(ImportProblem(name, row, m.item_id, f"unknown item {ext!r}"))
            bad = True
        ts = parse_timestamp(ts_text)
        if ts is None:
            problems.append(ImportProblem(name, row, m.timestamp, f"bad timestamp {ts_text!r} (epoch or ISO 8601)"))
            bad = True
        rating = None
        if has_rating and _cell(rec.get(m.rating)):
            try:
                rating = float(_cell(rec.get(m.rating)))
            except ValueError:
                problems.append(ImportProblem(name, row, m.rating, f"not a number: {_cell(rec.get(m.rating))!r}"))
                bad = True
        if not bad:
            out.interactions.append((user, ext, ts, rating, row))


def _validate_tags(df, name, m: ColumnMapping, known_items: set[str], out: _Parsed, problems) -> None:
    if not _require(df, name, [m.item_id, m.tag], problems):
        return
    for row, rec in enumerate(df.to_dict("records"), start=1):
        ext, raw = _cell(rec.get(m.item_id)), _cell(rec.get(m.tag))
        if ext not in known_items:
            problems.append(ImportProblem(name, row, m.item_id, f"unknown item {ext!r}" if ext else "empty item id"))
            continue
        tags = normalize_tags([raw])
        if not tags:
            problems.append(ImportProblem(name, row, m.tag, f"empty or invalid tag {raw!r}"))
            continue
        out.item_tags.setdefault(ext, [])
        if tags[0] not in out.item_tags[ext]:
            out.item_tags[ext].append(tags[0])


def validate(
    session: Session,
    items: pd.DataFrame | None,
    interactions: pd.DataFrame | None,
    tags: pd.DataFrame | None,
    mapping: ColumnMapping,
    names: tuple[str, str, str] = ("items", "interactions", "tags"),
) -> _Parsed:
    """Check every row of every table; raise ImportValidationError listing all problems."""
    problems: list[ImportProblem] = []
    out = _Parsed()
    if items is None and interactions is None and tags is None:
        raise ImportValidationError([ImportProblem("(none)", None, None, "no file given")])
    if items is not None:
        _validate_items(items, names[0], mapping, out, problems)
    known = set(out.items) | set(session.scalars(select(Item.external_id)))
    if interactions is not None:
        _validate_interactions(interactions, names[1], mapping, known, out, problems)
    if tags is not None:
        _validate_tags(tags, names[2], mapping, known, out, problems)
    if problems:
        raise ImportValidationError(problems)
    return out


def write(session: Session, parsed: _Parsed, native_system: str = NATIVE,
          progress: Callable[[str], None] | None = None) -> ImportSummary:
    """Upsert validated data in the caller's unit of work."""
    summary = ImportSummary()
    note = progress or (lambda _msg: None)
    existing = dict(session.execute(select(Item.external_id, Item.id)).all())
    new_rows, updates = [], []
    for ext, fields_ in parsed.items.items():
        values = {"title": fields_["title"], "description": fields_["description"],
                  "metadata_json": fields_["metadata"]}
        if ext in existing:
            updates.append({"id": existing[ext], **values})
        else:
            new_rows.append({"external_id": ext, **values})
    if new_rows:
        session.execute(insert(Item), new_rows)
    if updates:
        session.execute(update(Item), updates)
    summary.items_added, summary.items_updated = len(new_rows), len(updates)
    session.flush()
    note(f"items: {summary.items_added} added, {summary.items_updated} updated")
    item_id = dict(session.execute(select(Item.external_id, Item.id)).all())
    if parsed.interactions:
        _write_interactions(session, parsed, item_id, summary)
        note(f"interactions: {summary.interactions_added} added, {summary.interactions_skipped} already present")
    if parsed.item_tags:
        system = ensure_system(session, native_system, NATIVE, model="catalog")
        for ext, tag_list in parsed.item_tags.items():
            set_item_tags(session, system, item_id[ext], {t: 1.0 for t in tag_list})
            summary.items_tagged += 1
        note(f"native tags: {summary.items_tagged} items")
    return summary


def _write_interactions(session: Session, parsed: _Parsed, item_id: dict[str, int], summary: ImportSummary) -> None:
    users = {u for u, *_ in parsed.interactions}
    known_users = dict(session.execute(select(User.external_id, User.id)).all())
    new_users = [{"external_id": u} for u in sorted(users - set(known_users))]
    if new_users:
        session.execute(insert(User), new_users)
        summary.users_added = len(new_users)
        known_users = dict(session.execute(select(User.external_id, User.id)).all())
    seen = set(session.execute(select(Interaction.user_id, Interaction.item_id, Interaction.timestamp)).all())
    rows = []
    for user, ext, ts, rating, row in parsed.interactions:
        key = (known_users[user], item_id[ext], ts)
        if key in seen:
            summary.interactions_skipped += 1
            continue
        seen.add(key)
        rows.append({"user_id": key[0], "item_id": key[1], "timestamp": ts, "position": row, "rating": rating})
    for start in range(0, len(rows), 20000):
        session.execute(insert(Interaction), rows[start:start + 20000])
    summary.interactions_added = len(rows)


def import_files(
    session: Session,
    items: str | Path | None = None,
    interactions: str | Path | None = None,
    tags: str | Path | None = None,
    mapping: ColumnMapping | None = None,
    native_system: str = NATIVE,
    progress: Callable[[str], None] | None = None,
) -> ImportSummary:
    """Validate then import the given files in the caller's unit of work; nothing is written if any row is bad
    (ImportValidationError is raised before the first write)."""
    mapping = mapping or ColumnMapping()
    frames = [read_table(p) if p is not None else None for p in (items, interactions, tags)]
    names = tuple(Path(p).name if p is not None else "" for p in (items, interactions, tags))
    parsed = validate(session, *frames, mapping=mapping, names=names)
    return write(session, parsed, native_system=native_system, progress=progress)
