"""Catalog: the filtered, paginated item table (filter in the sidebar) and the detail of one item."""

import pandas as pd
import streamlit as st

from app_data import queries, services, state, views


def main() -> None:
    st.title("Catalog")
    size = st.session_state.get("catalog_size", 25)
    result = services.read(queries.search_items, state.current_filter(),
                           page=st.session_state.get("catalog_page", 1), page_size=size)
    st.session_state["catalog_page"] = result.page  # clamped when the filter shrank the result
    st.caption(f"{result.total:,} items match the filter (sidebar). Page {result.page} of {result.pages}.")
    c1, c2 = st.columns([1, 1])
    c1.number_input("Page", min_value=1, max_value=result.pages, step=1, key="catalog_page")
    c2.selectbox("Rows per page", (10, 25, 50, 100), index=1, key="catalog_size")
    if not result.rows:
        st.info("No item matches the filter.")
        st.stop()
    frame = pd.DataFrame(result.rows)
    event = st.dataframe(frame, hide_index=True, key="catalog_table", on_select="rerun",
                         selection_mode="single-row", column_order=["item_id", "title", "review_status",
                                                                   "native_tags", "systems"])
    ids = [r["id"] for r in result.rows]
    picked = tuple(event.selection.rows) if hasattr(event, "selection") else ()
    if picked and picked != st.session_state.get("catalog_last_pick"):
        st.session_state["catalog_item"] = ids[picked[0]]  # a newly clicked row wins over the selectbox
    st.session_state["catalog_last_pick"] = picked
    if st.session_state.get("catalog_item") not in ids:
        current = st.session_state.get("item_id")
        st.session_state["catalog_item"] = current if current in ids else ids[0]
    labels = {r["id"]: f"{r['item_id']} · {r['title']}" for r in result.rows}
    choice = st.selectbox("Open item", ids, format_func=labels.get, key="catalog_item")
    state.open_item(choice)
    show_detail(st.session_state["item_id"])


def show_detail(item_id: int) -> None:
    detail = services.read(queries.item_detail, item_id)
    st.subheader(views.md(detail.title))
    st.text(f"id {detail.external_id} · {detail.interactions} interactions · review: {detail.review_status}")
    if detail.description:
        st.text(detail.description)
    if detail.metadata:
        st.text("Details: " + " · ".join(f"{k}: {v}" for k, v in detail.metadata.items()))
    rows = [{"system": name, "tags": ", ".join(t.tag for t in tags)} for name, tags in detail.tags.items() if tags]
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True, key="catalog_detail_tags")
    missing = [name for name, tags in detail.tags.items() if not tags]
    if missing:
        st.caption("No tags for this item from: " + ", ".join(missing))
    st.page_link("pages/compare.py", label="Compare this item's tags", icon=":material/compare:")


main()
