"""The app's service layer: the only door from the pages to the database and the engine's writes.

The app is an entry point: :func:`settings` reads the settings once per process. Reads run in their own unit of
work (:func:`read`); the frequent ones are cached with ``st.cache_data`` (:func:`_cached`, keyed by the database
URL) and :func:`changed` forgets all of them after any write. Writes (review decisions, imports, jobs) run here,
so a page only lays out widgets and calls these functions.
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import streamlit as st

from app_data import queries
from app_data.state import current_filter, set_flash
from app_data.state import current_item as current_item_of
from app_data.views import decision_message
from betag_engine.catalog.importer import ColumnMapping, ImportOptions, ImportProgress, ImportSummary, import_files
from betag_engine.catalog.info import PROMPT_SETTING, SOURCE_SETTING, get_setting, set_setting
from betag_engine.catalog.store import SystemStats, interaction_counts, system_stats
from betag_engine.catalog.store import tag_matrix as load_tag_matrix
from betag_engine.curation import retry_busy
from betag_engine.curation.preview import RankRow, preview
from betag_engine.errors import BetagError
from betag_engine.jobs.registry import check_params
from betag_engine.jobs.runner import create_job, mark_dead_workers, mark_pending, request_cancel
from betag_engine.jobs.worker import spawn_worker
from betag_engine.settings import Settings, get_settings
from betag_engine.types import TagMatrix
from betag_engine.vocabulary import JOB_KINDS, POPULAR
from db.session import session_scope

T = TypeVar("T")


def settings() -> Settings:
    """The app's settings (read from the environment once per process)."""
    return get_settings()


def url() -> str:
    return settings().database_url


def read(fn: Callable[..., T], *args, **kwargs) -> T:
    """``fn(session, *args, **kwargs)`` in a unit of work of its own: a read query of ``app_data.queries`` or the
    engine."""
    with session_scope(url()) as s:
        return fn(s, *args, **kwargs)


# --- first start ----------------------------------------------------------------------------------------------

@st.cache_resource(show_spinner="Preparing the database...")
def _migrated(db_url: str) -> bool:
    from db.migrate import upgrade_head

    upgrade_head(db_url)
    return True


def catalog_is_empty() -> bool:
    """Create or upgrade the schema (once per process and URL); True when the catalog holds no item yet."""
    _migrated(url())
    return read(queries.catalog_counts).items == 0


def import_builtin_catalog(progress: Callable[[ImportProgress], None]) -> ImportSummary:
    """Import the built-in MovieLens-100k catalog (the first start), reporting each step to ``progress``."""
    from betag_engine.catalog.movielens import import_builtin

    summary = import_builtin(url(), progress=progress)
    changed()
    return summary


# --- cached reads ---------------------------------------------------------------------------------------------

def _cached(ttl: int, spinner: str | bool = False):
    """Cache a query ``fn(db_url, ...)``; the pages call it without the URL (the app's own fills it in and keys
    the cache, so two databases never share results)."""

    def wrap(fn: Callable[..., T]) -> Callable[..., T]:
        cached = st.cache_data(ttl=ttl, show_spinner=spinner)(fn)

        @functools.wraps(fn)
        def call(*args, **kwargs) -> T:
            return cached(url(), *args, **kwargs)

        return call

    return wrap


@_cached(ttl=60)
def counts(db_url: str) -> queries.CatalogCounts:
    with session_scope(db_url) as s:
        return queries.catalog_counts(s)


@_cached(ttl=30)
def systems(db_url: str) -> list[str]:
    with session_scope(db_url) as s:
        return queries.system_names(s)


@_cached(ttl=30)
def stats(db_url: str) -> list[SystemStats]:
    with session_scope(db_url) as s:
        return system_stats(s)


@_cached(ttl=300)
def native_tags(db_url: str) -> list[str]:
    with session_scope(db_url) as s:
        return queries.native_tag_choices(s)


@_cached(ttl=600)
def co_items(db_url: str, item_id: int, k: int = 10) -> list[queries.CoItem]:
    with session_scope(db_url) as s:
        return queries.co_consumed(s, item_id, k)


@_cached(ttl=30)
def filtered_ids(db_url: str, f: queries.ItemFilter) -> list[int]:
    """Every id the filter matches (a job over the filter's items); pages use the counts and positions below."""
    with session_scope(db_url) as s:
        return queries.filtered_item_ids(s, f)


@_cached(ttl=30)
def filter_count(db_url: str, f: queries.ItemFilter) -> int:
    with session_scope(db_url) as s:
        return queries.filtered_count(s, f)


@_cached(ttl=30)
def first_id(db_url: str, f: queries.ItemFilter) -> int | None:
    with session_scope(db_url) as s:
        ids = queries.filtered_item_ids(s, f, limit=1)
        return ids[0] if ids else None


@_cached(ttl=30)
def position(db_url: str, f: queries.ItemFilter, item_id: int) -> queries.Position:
    with session_scope(db_url) as s:
        return queries.position(s, f, item_id)


def export_filter(fmt: str, f: queries.ItemFilter) -> Callable[[], str]:
    """The export of the filter's curated tags as a callable: the download button runs it when pressed, so the
    page never builds a file it may not be asked for."""
    from betag_engine.curation.export import export_curated

    def build() -> str:
        with session_scope(url()) as s:
            return export_curated(s, fmt, queries.filtered_select(s, f))

    return build


@_cached(ttl=300, spinner="Loading tags...")
def tag_matrix(db_url: str, system: str) -> TagMatrix:
    """One system's item x tag matrix (the retrieval preview ranks against it)."""
    with session_scope(db_url) as s:
        return load_tag_matrix(s, system)


@_cached(ttl=600)
def popularity(db_url: str, system: str):
    """Interaction counts aligned with :func:`tag_matrix`'s rows (Popular's scores)."""
    with session_scope(db_url) as s:
        return interaction_counts(s, tag_matrix(system).item_ids)


def changed() -> None:
    """Forget every cached query result after a write (all of them: a partial list let Popular's cached counts
    outlive the tag matrix they must align with)."""
    st.cache_data.clear()


def preview_draft(system: str, retriever: str, query, item_id: int, draft: dict[str, float],
                  k: int) -> tuple[list[RankRow], list[RankRow]]:
    """Rankings with the stored tags of ``system`` and with ``item_id``'s tags replaced by ``draft``."""
    pop = popularity(system) if retriever == POPULAR else None
    return preview(tag_matrix(system), retriever, query, item_id, draft, k=k, popularity=pop)


# --- writes: decisions run in callbacks, errors become a message shown on the next run -----------------------

def run_action(fn: Callable, *args, success: str = "", **kwargs) -> Any:
    """Run ``fn(session, *args, **kwargs)`` as one unit of work (retried while SQLite is busy).

    Conflicts and other domain errors are stored as the flash message instead of raising, so the page shows
    them and the reviewer can reload; nothing is saved in that case. ``success`` may hold ``{n}`` (the number of
    decisions made); tags a decision left as a person decided them are added to the message, as a warning.
    """
    try:
        result = retry_busy(lambda: read(fn, *args, **kwargs))
    except (BetagError, ValueError) as exc:
        set_flash("error", str(exc))
        return None
    changed()
    if success:
        set_flash(*decision_message(success, result if hasattr(result, "skip_summary") else None))
    return result


def import_uploads(uploads: Sequence[Any], mapping: ColumnMapping, options: dict[str, Any] | None = None,
                   progress: Callable[[ImportProgress], None] | None = None,
                   domain: str | None = None) -> ImportSummary:
    """Import uploaded items / interactions / tags files (None where not given): all or nothing unless
    ``options["skip_invalid"]``, whose report of refused rows goes to DATA_DIR/import-reports/.

    Raises:
        ImportValidationError: every bad row; nothing was changed. ValueError: an option is wrong.
    """
    values = dict(options or {})
    if values.get("skip_invalid"):
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        values["report_path"] = str(settings().data_dir / "import-reports" / f"refused-{stamp}.csv")
    checked = ImportOptions(**values)
    with tempfile.TemporaryDirectory() as tmp:
        paths = [_save(tmp, f) for f in uploads]
        summary = import_files(url(), *paths, mapping=mapping, options=checked, progress=progress)
    if domain:  # what the catalog's items are: the prompt preset every later run reads
        with session_scope(url()) as s:
            set_setting(s, PROMPT_SETTING, {"domain": domain})
            set_setting(s, SOURCE_SETTING, "import")
    changed()
    return summary


@_cached(ttl=30)
def catalog_prompt(db_url: str) -> dict | None:
    """The prompt preset recorded with the catalog (None: not recorded; a pipeline run must be given one)."""
    with session_scope(db_url) as s:
        return get_setting(s, PROMPT_SETTING)


def import_outcome(summary: ImportSummary) -> str:
    """One line for people: what an import added, updated and skipped."""
    text = (f"{summary.items_added:,} items added, {summary.items_updated:,} updated; {summary.users_added:,} users "
            f"added; {summary.interactions_added:,} interactions added ({summary.interactions_skipped:,} already "
            f"there); native tags set on {summary.items_tagged:,} items")
    if summary.tags_rewritten:
        text += (f"; {summary.tags_rewritten:,} tag(s) stored in normalised form, e.g. "
                 + ", ".join(summary.rewritten_examples))
    return text


def read_bytes(path: str) -> bytes:
    return Path(path).read_bytes() if path else b""


def _save(folder: str, upload) -> str | None:
    if upload is None:
        return None
    path = Path(folder) / Path(upload.name).name
    path.write_bytes(upload.getvalue())
    return str(path)


# --- jobs -----------------------------------------------------------------------------------------------------

def param_problem(kind: str, params: Any) -> str:
    """Why ``params`` cannot start a ``kind`` job ("" when they can): the one check every launch path runs."""
    try:
        check_params(kind, params)
    except ValueError as exc:
        return str(exc)
    return ""


def start_job(kind: str, params: dict) -> None:
    """Record a job and start a worker process for it (a button callback: the outcome is the flash message)."""
    problem = param_problem(kind, params)
    if problem:
        set_flash("error", f"Not started: {problem}")
        return
    job_id = create_job(kind, params, url(), name=JOB_KINDS[kind].label)
    _spawn(job_id)
    set_flash("success", f"Started job {job_id} ({kind}); it keeps running if you leave. A first job may spend "
                         "a minute converting and loading the model: its line below says so.")


def resume_job(job_id: int) -> None:
    mark_pending(job_id, url())
    _spawn(job_id)
    set_flash("success", f"Resumed job {job_id}: finished units are skipped.")


def cancel_job(job_id: int) -> None:
    request_cancel(job_id, url())


def _spawn(job_id: int) -> None:
    logs = settings().data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    spawn_worker(job_id, settings(), str(logs / f"job-{job_id}.log"))


def recent_jobs(limit: int = 8) -> list[dict]:
    """The newest jobs, after marking those whose worker died as failed (they can be resumed)."""
    mark_dead_workers(url())
    return read(queries.recent_jobs, limit)


def current_item() -> int | None:
    """The item the user opened last, else the first item of the sidebar's filter."""
    first = first_id(current_filter())
    return current_item_of([] if first is None else [first])
