"""Compare: one item's tags in every system side by side, shared tags marked, its text and co-consumed items."""

import pandas as pd
import streamlit as st

from app_data import queries, services, state, views
from betag_engine.curation.state import tag_states

PER_ROW = 3  # tables side by side; more systems wrap onto further rows so tags and their numbers fit


def main() -> None:
    st.title("Compare tagging systems")
    item_id = services.current_item()
    if item_id is None:
        st.info("No item matches the filter (sidebar).")
        st.stop()
    where = services.position(state.current_filter(), item_id)
    c1, c2, c3 = st.columns([1, 4, 1])
    c1.button("◀ Previous", key="compare_prev", disabled=where.prev_id is None, on_click=state.open_item,
              args=(where.prev_id,))
    c3.button("Next ▶", key="compare_next", disabled=where.next_id is None, on_click=state.open_item,
              args=(where.next_id,))
    position = f"{where.index:,} of {where.total:,}" if where.index else "not in the current filter"
    c2.caption(f"Item {position} in the current filter")

    detail = services.read(queries.item_detail, item_id)
    states = services.read(tag_states, item_id)
    st.subheader(views.md(detail.title))
    st.text(f"Item text: {detail.title}" + (f". {detail.description}" if detail.description else "")
            + f"\nid {detail.external_id} · {detail.interactions} interactions · review: {detail.review_status}")

    names = list(detail.tags)
    shown = st.multiselect("Systems", names, default=views.default_compare_systems(names), key="compare_systems",
                           help="Ablation and beam-sweep systems (betag-noft, betag-m2, ...) can be added here.")
    rows = views.compare_rows(detail, states, shown)
    shared = {r["tag"] for r in rows if r["shared"]}
    for first in range(0, len(shown), PER_ROW):
        for col, name in zip(st.columns(PER_ROW), shown[first : first + PER_ROW]):
            system_table(col, name, detail.tags[name], shared)
    st.caption("★ = proposed by more than one of the systems shown")

    with st.expander("All tags in one table", expanded=False):
        st.dataframe(pd.DataFrame(rows).map(views.blank), hide_index=True, key="compare_all")

    st.subheader("Most often consumed next to it")
    co = services.co_items(item_id)
    if co:
        st.dataframe(pd.DataFrame([{"item_id": c.external_id, "title": c.title, "times adjacent": c.times}
                                   for c in co]), hide_index=True, key="compare_co")
    else:
        st.caption("No behaviour recorded for this item.")
    st.page_link("pages/review.py", label="Review this item", icon=":material/fact_check:")


def system_table(col, name: str, tags: list, shared: set[str]) -> None:
    col.markdown(f"**{views.md(name)}**")
    if not tags:
        col.caption("no tags")
        return
    frame = pd.DataFrame([{"": "★" if t.tag in shared else "", "tag": t.tag, "count": t.count,
                           "conf": t.confidence} for t in tags])
    # only the numbers that say something, in narrow columns: every row fits the column without scrolling
    if (frame["count"] == 1).all():
        frame = frame.drop(columns="count")
    if frame["conf"].isna().all():
        frame = frame.drop(columns="conf")
    col.dataframe(frame, hide_index=True, key=f"compare_sys_{name}", use_container_width=True,
                  column_config={"": st.column_config.TextColumn(width=20),
                                 "tag": st.column_config.TextColumn(width="small"),
                                 "count": st.column_config.NumberColumn(width=50, format="%g"),
                                 "conf": st.column_config.NumberColumn(width=50, format="%.2f")})


main()
