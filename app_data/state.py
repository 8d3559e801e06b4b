"""What the app keeps in the browser session across pages: the reviewer, the catalog filter, the open item and
the message of the last action."""

from __future__ import annotations

import streamlit as st

from app_data.queries import ItemFilter

REVIEWER_KEY = "reviewer"
FLASH_KEY = "flash"


def reviewer() -> str:
    return (st.session_state.get(REVIEWER_KEY) or "").strip()


def require_reviewer() -> str:
    """The reviewer's name; without one the page explains what to do and stops."""
    name = reviewer()
    if not name:
        st.info("Enter your reviewer name in the sidebar first: it is stored with every decision.")
        st.stop()
    return name


def current_filter() -> ItemFilter:
    """The catalog filter of the sidebar (shared by Catalog, Compare, Review, Bulk and Export)."""
    ss = st.session_state
    return ItemFilter(text=ss.get("f_text", ""), native_tag=ss.get("f_native", ""),
                      review_status=ss.get("f_status", ""), systems=tuple(ss.get("f_systems", ())))


def current_item(filtered: list[int]) -> int | None:
    """The item the user opened last (kept across pages), else the first of ``filtered`` (the filter's ids)."""
    item = st.session_state.get("item_id")
    if item is None and filtered:
        item = st.session_state["item_id"] = filtered[0]
    return item


def open_item(item_id: int | None) -> None:
    if item_id is not None:
        st.session_state["item_id"] = int(item_id)


def set_flash(kind: str, message: str) -> None:
    """A message ("error" or "success") for the next run to show (callbacks run before the page)."""
    st.session_state[FLASH_KEY] = (kind, message)


def pop_flash() -> tuple[str | None, str | None]:
    return st.session_state.pop(FLASH_KEY, (None, None))


PIPELINE_PRESET = "gen_pipeline_preset"  # set by Import: the Generate page opens on a pipeline over that catalog
