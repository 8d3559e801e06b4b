"""The app's service layer: database bootstrap, cached engine queries, decision calls and shared UI state.

Pages import from here and stay thin; no SQL lives in pages. ``st.cache_resource`` / ``st.cache_data`` decorate
these functions (keyed by the database URL) and :func:`changed` clears the data caches after every write.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import streamlit as st

from betag_engine.catalog import browse
from betag_engine.catalog.store import system_stats
from betag_engine.errors import BetagError
from betag_engine.experiments.report import beam_rows, metric_rows, popularity_rows  # noqa: F401 - for the pages
from betag_engine.settings import get_settings
from betag_engine.vocabulary import REVIEW_STATUSES
from db.session import session_scope

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def url() -> str:
    return get_settings().database_url


@contextmanager
def db() -> Iterator:
    with session_scope(url()) as s:
        yield s


def md(text: Any) -> str:
    """Escape untrusted text for st.markdown/st.subheader (markdown specials and angle brackets)."""
    return _MD_SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")


# --- first start -------------------------------------------------------------------------------------------

@st.cache_resource(show_spinner="Preparing the database...")
def migrated(db_url: str) -> bool:
    """Create or upgrade the schema once per process and URL."""
    from db.migrate import upgrade_head

    upgrade_head(db_url)
    return True


def bootstrap() -> None:
    """First start: migrate, and import the built-in MovieLens-100k catalog into an empty database with progress."""
    migrated(url())
    with db() as s:
        if browse.catalog_counts(s).items:
            return
    from betag_engine.catalog.movielens import import_builtin

    expected_steps = 3  # import_builtin reports items, interactions, then native tags
    with st.status("First start: importing the built-in MovieLens-100k catalog", expanded=True) as status:
        bar = st.progress(0.0, text="reading the data files")
        done: list[str] = []

        def note(message: str) -> None:
            done.append(message)
            st.text(message)
            bar.progress(min(1.0, len(done) / expected_steps), text=message)

        try:
            with db() as s:
                summary = import_builtin(s, "ml-100k", progress=note)
        except BetagError as exc:
            status.update(label="Import failed", state="error")
            st.error(str(exc))
            st.stop()
        bar.progress(1.0, text="done")
        status.update(label=f"Imported {summary.items_added} items and {summary.interactions_added} interactions",
                      state="complete", expanded=False)
    changed()


# --- cached reads ---------------------------------------------------------------------------------------------

@st.cache_data(ttl=60, show_spinner=False)
def counts(db_url: str) -> browse.CatalogCounts:
    with session_scope(db_url) as s:
        return browse.catalog_counts(s)


@st.cache_data(ttl=30, show_spinner=False)
def systems(db_url: str) -> list[str]:
    with session_scope(db_url) as s:
        return browse.system_names(s)


@st.cache_data(ttl=30, show_spinner=False)
def stats(db_url: str) -> list:
    with session_scope(db_url) as s:
        return system_stats(s)


@st.cache_data(ttl=300, show_spinner=False)
def native_tags(db_url: str) -> list[str]:
    with session_scope(db_url) as s:
        return browse.native_tag_choices(s)


@st.cache_data(ttl=600, show_spinner=False)
def co_items(db_url: str, item_id: int, k: int = 10) -> list:
    with session_scope(db_url) as s:
        return browse.co_consumed(s, item_id, k)


@st.cache_data(ttl=30, show_spinner=False)
def filtered_ids(db_url: str, f: browse.ItemFilter) -> list[int]:
    with session_scope(db_url) as s:
        return browse.filtered_item_ids(s, f)


@st.cache_data(ttl=30, show_spinner="Loading tags...")
def tag_matrix(db_url: str, system: str):
    """One system's item x tag matrix (the retrieval preview ranks against it)."""
    from betag_engine.catalog.store import tag_matrix as build

    with session_scope(db_url) as s:
        return build(s, system)


@st.cache_data(ttl=600, show_spinner=False)
def popularity(db_url: str, system: str):
    """Interaction counts aligned with :func:`tag_matrix`'s rows (Popular's scores)."""
    from betag_engine.catalog.store import user_sequences
    from betag_engine.retrieval import popularity as counts_of

    with session_scope(db_url) as s:
        return counts_of(user_sequences(s), tag_matrix(db_url, system).item_ids)


def changed() -> None:
    """Forget every cached query result after a write (all of them: a partial list let Popular's cached counts
    outlive the tag matrix they must align with)."""
    st.cache_data.clear()


# --- writes: decisions run in callbacks, errors become a message shown on the next run -----------------------

def run_action(fn: Callable, *args, success: str = "", **kwargs) -> Any:
    """Run ``fn(session, *args, **kwargs)`` as one transaction (retried while SQLite is busy).

    Conflicts and other domain errors are stored as the flash message instead of raising, so the page shows
    them and the reviewer can reload; nothing is saved in that case.
    """
    from betag_engine.curation import retry_busy

    def tx():
        with db() as s:
            return fn(s, *args, **kwargs)

    try:
        result = retry_busy(tx)
    except (BetagError, ValueError) as exc:
        st.session_state["flash"] = ("error", str(exc))
        return None
    changed()
    if success:
        st.session_state["flash"] = ("success", success)
    return result


def show_flash() -> None:
    kind, message = st.session_state.pop("flash", (None, None))
    if kind == "error":
        st.error(message, icon=":material/error:")
    elif kind == "success":
        st.success(message, icon=":material/check:")


# --- shared sidebar state --------------------------------------------------------------------------------------

def reviewer() -> str:
    return (st.session_state.get("reviewer") or "").strip()


def require_reviewer() -> str:
    name = reviewer()
    if not name:
        st.info("Enter your reviewer name in the sidebar first: it is stored with every decision.")
        st.stop()
    return name


def sidebar() -> None:
    """Reviewer name and the catalog filter (shared by Catalog, Compare, Review, Bulk and Export)."""
    st.sidebar.text_input("Reviewer", value=get_settings().reviewer, key="reviewer")
    with st.sidebar.expander("Catalog filter", expanded=False):
        st.text_input("Search title or id", key="f_text")
        st.selectbox("Native tag", [""] + native_tags(url()), key="f_native", format_func=lambda t: t or "any")
        st.selectbox("Review status", ("",) + REVIEW_STATUSES, key="f_status", format_func=lambda t: t or "any")
        st.multiselect("Tagged by every one of", systems(url()), key="f_systems")


def shell() -> None:
    """Bootstrap, sidebar and flash message: app.py renders them before ``page.run()``.

    A page can also run on its own: Streamlit (and AppTest) execute a file under ``pages/`` directly in its
    legacy multipage mode before ``st.navigation`` has been seen in the process. The flag that app.py sets around
    ``page.run()`` tells the two cases apart, so the shell is rendered exactly once per run.
    """
    if st.session_state.get("_routed"):
        return
    bootstrap()
    sidebar()
    show_flash()


def current_filter() -> browse.ItemFilter:
    ss = st.session_state
    return browse.ItemFilter(text=ss.get("f_text", ""), native_tag=ss.get("f_native", ""),
                             review_status=ss.get("f_status", ""), systems=tuple(ss.get("f_systems", ())))


def current_item() -> int | None:
    """The item the user opened last (kept across pages), else the first item of the filter."""
    ids = filtered_ids(url(), current_filter())
    item = st.session_state.get("item_id")
    if item is None and ids:
        item = st.session_state["item_id"] = ids[0]
    return item


def open_item(item_id: int | None) -> None:
    if item_id is not None:
        st.session_state["item_id"] = int(item_id)
