"""Import items, behaviour logs and native tags from CSV, TSV, Parquet, JSON Lines or DataFrames.

Public API (the CLI, the Import page, the built-in catalogs and ``bench scale`` call it)::

    summary = import_files(url, items="items.csv", interactions="events.parquet", tags=None,
                           mapping=ColumnMapping(item_id="sku"), options=ImportOptions(), progress=print)

How it works: the files stream by in chunks of ``options.chunk_rows`` rows; every value is checked by the rules of
:mod:`betag_engine.catalog.rules` (the same for every format and every path a tag can come from); valid rows are
staged in temporary tables, chunk by chunk (:mod:`betag_engine.catalog.staging`); duplicates and conflicts across
rows and with the stored catalog are then checked; and only then is everything published in one short transaction
of set-based upserts. All or nothing: if any row is refused, :class:`ImportValidationError` lists every problem
(file, row as a spreadsheet shows it, field, reason) and nothing is changed. With ``skip_invalid`` the valid rows
are imported and every refused row is written with its reason to ``report_path``.

Re-importing is idempotent, also when two imports run at once: items upsert by external id, users and
interactions are inserted unless present (interactions are unique per user, item and timestamp), and an item named
by the import's tags gets exactly those native tags.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from betag_engine.catalog import staging
from betag_engine.catalog.checks import InteractionKeys, RowChecker
from betag_engine.catalog.problems import ImportProblem, ProblemLog
from betag_engine.catalog.readers import SUPPORTED_SUFFIXES, Source, read_rows
from betag_engine.catalog.rules import Refused, TimestampRule, check_name
from betag_engine.vocabulary import CURATED, NATIVE
from db.models import Item
from db.session import RETRY_ATTEMPTS, get_engine, is_transient

__all__ = ["ColumnMapping", "ImportOptions", "ImportProgress", "ImportSummary", "Source", "SUPPORTED_SUFFIXES",
           "import_files"]


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

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"column mapping: {f.name} must name a column (a non-empty text), got {value!r}")
            if any(ord(c) < 32 and c != "\t" for c in value):
                raise ValueError(f"column mapping: {f.name} contains a control character: {value!r}")

    @classmethod
    def from_pairs(cls, pairs: Sequence[str]) -> "ColumnMapping":
        """Parse ``FIELD=COLUMN`` pairs (the CLI's ``--map``); ValueError names the bad pair and the valid fields."""
        known = [f.name for f in fields(cls)]
        values: dict[str, str] = {}
        for pair in pairs:
            name, sep, column = pair.partition("=")
            if not sep:
                raise ValueError(f"--map {pair!r}: write FIELD=COLUMN, e.g. item_id=sku (fields: {', '.join(known)})")
            if name.strip() not in known:
                raise ValueError(f"--map {pair!r}: field must be one of {', '.join(known)}, got {name.strip()!r}")
            if not column:
                raise ValueError(f"--map {pair!r}: the column (or separator) after '=' is empty")
            values[name.strip()] = column
        return cls(**values)


@dataclass(frozen=True)
class ImportOptions:
    """How strict an import is and what it writes (the CLI's flags; the Import page's options)."""

    native_system: str = field(default=NATIVE, metadata={"help": "Tagging system that receives the files' tags."})
    timestamp_format: str = field(default="auto", metadata={
        "help": "auto (epoch seconds or ISO 8601) | epoch | iso | a strptime pattern such as %d/%m/%Y."})
    min_year: int = field(default=1900, metadata={"help": "Timestamps before this year are refused."})
    max_year: int = field(default=2100, metadata={"help": "Timestamps after this year are refused."})
    rating_min: float = field(default=0.0, metadata={"help": "Smallest allowed rating."})
    rating_max: float = field(default=10.0, metadata={"help": "Largest allowed rating."})
    skip_invalid: bool = field(default=False, metadata={
        "help": "Import the valid rows and write every refused row to report_path (default: all or nothing)."})
    report_path: str | None = field(default=None, metadata={"help": "CSV of refused rows (with skip_invalid)."})
    chunk_rows: int = field(default=50_000, metadata={"help": "Rows read, checked and staged at a time."})

    def __post_init__(self) -> None:
        try:
            check_name(self.native_system, "native system name")
        except Refused as exc:
            raise ValueError(f"native_system: {exc}") from None
        if self.native_system == CURATED:
            raise ValueError(f"native_system: {CURATED!r} holds the reviewers' decisions and is written only by them; "
                             "name another system")
        TimestampRule(self.timestamp_format, self.min_year, self.max_year)  # raises ValueError naming the problem
        if not (self.rating_min <= self.rating_max) or any(v != v for v in (self.rating_min, self.rating_max)):
            raise ValueError(f"rating range must have min <= max, got {self.rating_min}..{self.rating_max}")
        if self.skip_invalid and not self.report_path:
            raise ValueError("skip_invalid needs report_path: the file that lists every refused row")
        if self.chunk_rows < 1:
            raise ValueError(f"chunk_rows must be >= 1, got {self.chunk_rows}")

    @property
    def timestamp_rule(self) -> TimestampRule:
        return TimestampRule(self.timestamp_format, self.min_year, self.max_year)


@dataclass
class ImportSummary:
    items_added: int = 0
    items_updated: int = 0
    users_added: int = 0
    interactions_added: int = 0
    interactions_skipped: int = 0  # already stored, or repeated in the file with the same rating
    items_tagged: int = 0
    rows_refused: int = 0  # with skip_invalid: rows left out (listed in report_path)
    tags_rewritten: int = 0  # tags stored in another form than typed, beyond case and spacing ("=1+1" -> "1+1")
    rewritten_examples: list[str] = field(default_factory=list)  # the first few, "'raw' -> 'stored'"
    report_path: str = ""
    seconds: float = 0.0
    publish_seconds: float = 0.0  # how long the publishing transaction held the write lock


@dataclass(frozen=True)
class ImportProgress:
    """One progress report: ``phase`` is read, check, publish or done; done/total in the phase's unit."""

    phase: str
    message: str
    done: int = 0
    total: int = 0

    def __str__(self) -> str:
        return self.message


FileArg = str | Path | Source | None


def import_files(url: str, items: FileArg = None, interactions: FileArg = None, tags: FileArg = None, *,
                 mapping: ColumnMapping | None = None, options: ImportOptions | None = None,
                 progress: Callable[[ImportProgress], None] | None = None,
                 native_model: str = "catalog", native_params: dict | None = None) -> ImportSummary:
    """Check then import the given files into the database at ``url``; the import owns its transactions.

    Args:
        items, interactions, tags: a path, a :class:`Source` (a DataFrame), or None.
        native_model, native_params: recorded on the native tagging system.
    Returns:
        What was added, updated and refused.
    Raises:
        ImportValidationError: a refused file or row (all of them, up to 10,000 listed); nothing was changed.
    """
    start = time.perf_counter()
    mapping, options = mapping or ColumnMapping(), options or ImportOptions()
    sources = {kind: Source.of(value) for kind, value in (("items", items), ("tags", tags),
                                                          ("interactions", interactions)) if value is not None}
    report = Path(options.report_path) if options.skip_invalid else None
    problems = ProblemLog(report)
    if not sources:
        raise problems.fail(ImportProblem("(no file)", None, None, "no file given"))
    run = _Run(url, mapping, options, problems, progress, native_model, native_params)
    try:
        summary = run.execute(sources)
    finally:
        problems.close()
    summary.seconds = round(time.perf_counter() - start, 2)
    run.note("done", f"import done in {summary.seconds:.1f} s: {_describe(summary)}")
    return summary


def _describe(summary: ImportSummary) -> str:
    parts = [f"{k.replace('_', ' ')} {v:,}" for k, v in asdict(summary).items()
             if isinstance(v, int) and v and k != "seconds"]
    if summary.rewritten_examples:
        parts.append("e.g. " + ", ".join(summary.rewritten_examples))
    return ", ".join(parts) or "nothing to change"


class _Run:
    """One import: a connection of its own for the staging tables, the checks, and the publishing transaction."""

    def __init__(self, url: str, mapping: ColumnMapping, options: ImportOptions, problems: ProblemLog,
                 progress: Callable[[ImportProgress], None] | None, native_model: str, native_params: dict | None):
        self.url, self.mapping, self.options, self.problems = url, mapping, options, problems
        self.progress = progress
        self.native_model, self.native_params = native_model, native_params
        self._last_note = 0.0

    def note(self, phase: str, message: str, done: int = 0, total: int = 0, force: bool = True) -> None:
        now = time.monotonic()
        if self.progress is None or (not force and now - self._last_note < 0.5):
            return
        self._last_note = now
        self.progress(ImportProgress(phase, message, done, total))

    def execute(self, sources: dict[str, Source]) -> ImportSummary:
        with get_engine(self.url).connect() as conn:
            staging.create(conn)
            staging.large_cache(conn, True)
            try:
                return self._execute(conn, sources)
            finally:
                conn.rollback()
                staging.drop(conn)
                staging.large_cache(conn, False)

    def _execute(self, conn, sources: dict[str, Source]) -> ImportSummary:
        with conn.begin():
            stored = set(conn.scalars(select(Item.external_id)))
        checker = RowChecker(self.mapping, self.options.timestamp_rule, self.options.rating_min,
                             self.options.rating_max, self.problems, stored)
        keys = InteractionKeys()
        for kind, source in sources.items():
            self._stage(conn, kind, source, checker, keys)
        staging.analyze(conn)
        self._check_duplicates(conn, keys, sources.get("interactions"))
        if self.problems.total and not self.options.skip_invalid:
            raise self.problems.error()
        published, seconds = self._publish(conn, sources.get("interactions"))
        summary = ImportSummary(**asdict(published), rows_refused=self.problems.rows_refused,
                                tags_rewritten=checker.rewritten, rewritten_examples=checker.rewrite_examples,
                                report_path=str(self.problems.report_path or ""), publish_seconds=round(seconds, 2))
        return summary

    def _stage(self, conn, kind: str, source: Source, checker: RowChecker, keys: InteractionKeys) -> None:
        check = {"items": checker.items, "tags": checker.tags, "interactions": checker.interactions}[kind]
        table = {"items": staging.stage_items, "tags": staging.stage_tags,
                 "interactions": staging.stage_interactions}[kind]
        unit = source.unit
        rows_seen = 0

        def moved(done: int, total: int) -> None:
            share = f"{100 * done / total:.0f}%" if total else ""
            self.note("read", f"reading {source.name}: {share} ({rows_seen:,} rows)", done, total, force=False)

        self.note("read", f"reading {source.name}")
        first = True
        for chunk in read_rows(source, self.problems, self.options.chunk_rows, moved):
            if first and chunk:
                checker.require_columns(kind, source, chunk)
                first = False
            rows_seen += len(chunk)
            staged = check(source, unit, chunk)
            if kind == "items":
                staging.insert_rows(conn, table, staged[0])
                staging.insert_rows(conn, staging.stage_tags, staged[1])
            else:
                staging.insert_rows(conn, table, staged)
                if kind == "interactions":
                    keys.add(staged)

    def _check_duplicates(self, conn, keys: InteractionKeys, source: Source | None) -> None:
        if source is None:
            return
        self.note("check", "checking repeated interactions")
        candidates = keys.candidate_rows()
        refused = set()
        if candidates:
            with conn.begin():
                rows = staging.staged_interactions(conn, candidates)
            refused |= keys.conflicts(rows, source, self.mapping.rating, self.problems, self.options.skip_invalid)
        staging.analyze(conn)
        with conn.begin():
            stored = staging.stored_conflicts(conn)
        for src_row, rating, stored_rating in stored:
            self.problems.add(ImportProblem(
                source.name, src_row, self.mapping.rating,
                f"the catalog already holds this user, item and timestamp with rating {_rating(stored_rating)}, "
                f"this row says {_rating(rating)}", source.unit))
            refused.add(src_row)
        if refused and self.options.skip_invalid:
            staging.delete_rows(conn, staging.stage_interactions, refused)

    def _publish(self, conn, interactions: Source | None) -> tuple[staging.Published, float]:
        self.note("publish", "publishing (one transaction)")
        for attempt in range(RETRY_ATTEMPTS):
            started = time.perf_counter()
            try:
                with conn.begin():
                    published = staging.publish(conn, self.options.native_system, NATIVE, self.native_model,
                                                self.native_params)
                return published, time.perf_counter() - started
            except staging.ConflictingInteractions as exc:
                name = interactions.name if interactions else "(interactions)"
                for src_row, rating, stored_rating in exc.conflicts:
                    self.problems.add(ImportProblem(
                        name, src_row, self.mapping.rating, "another import stored this user, item and timestamp "
                        f"with rating {_rating(stored_rating)} meanwhile, this row says {_rating(rating)}",
                        interactions.unit if interactions else "row"))
                raise self.problems.error() from None
            except DBAPIError as exc:
                if not is_transient(exc) or attempt == RETRY_ATTEMPTS - 1:
                    raise
                self.note("publish", f"the database is busy ({exc.orig}); trying again")
                time.sleep(0.5 * (attempt + 1))
        raise AssertionError("unreachable")


def _rating(value: Any) -> str:
    return "none" if value is None else f"{value:g}"


def import_frames(url: str, items: Any = None, interactions: Any = None, tags: Any = None, *,
                  names: tuple[str, str, str] = ("items", "interactions", "tags"), **kwargs) -> ImportSummary:
    """:func:`import_files` for pandas DataFrames (the built-in catalogs); ``names`` name them in messages."""
    sources = [Source(name, frame=frame) if frame is not None else None
               for name, frame in zip(names, (items, interactions, tags))]
    return import_files(url, *sources, **kwargs)
