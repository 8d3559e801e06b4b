"""Bulk review over the current filter (top-k tags by count or confidence) and export of curated tags."""

import streamlit as st

from app_data import queries, services, state
from betag_engine import curation
from betag_engine.curation.decisions import BULK_ACTIONS, BULK_ORDERS
from betag_engine.curation.export import export_curated
from betag_engine.vocabulary import CURATED

BULK_BATCH = 1000  # items one bulk action decides (a larger filter goes a batch at a time)
PREVIEW_ITEMS = 50  # items shown in the export preview


def main() -> None:
    st.title("Bulk review & export")
    who = state.require_reviewer()
    f = state.current_filter()
    total = services.filter_count(f)
    st.caption(f"{total:,} items match the current filter (sidebar).")
    sources = [n for n in services.systems() if n != CURATED]
    if not sources or not total:
        st.info("Nothing to review: no tagging system or no item in the filter.")
        st.stop()

    st.subheader("Bulk decision")
    c1, c2, c3, c4 = st.columns(4)
    source = c1.selectbox("Tags of", sources, key="bulk_source")
    action = c2.selectbox("Action", BULK_ACTIONS, key="bulk_action")
    order = c3.selectbox("Top tags by", BULK_ORDERS, key="bulk_order")
    top_k = c4.number_input("Top k per item (0 = all)", min_value=0, max_value=50, value=3, key="bulk_k")
    # what the reviewer sees now, checked again on submit; one batch is at most BULK_BATCH items
    versions = services.read(queries.filtered_versions, f, BULK_BATCH)
    if total > len(versions):
        st.caption(f"One action decides the first {len(versions):,} of the {total:,} items; filter by review "
                   "status 'unreviewed' to go through a large catalog a batch at a time.")
    ids = list(versions)
    st.caption("Only pending tags are decided: a tag a person already approved, rejected, edited or removed keeps "
               "that decision, and the message after the action lists each one with who decided it.")
    done = {"approve": "approved", "reject": "rejected"}[action]
    st.button(f"{action.capitalize()} the top {top_k or 'all'} {source} tags of {len(ids):,} items",
              key="bulk_apply", type="primary", on_click=services.run_action,
              args=(curation.bulk_decide, action, versions, source, who),
              kwargs={"top_k": int(top_k) or None, "order_by": order,
                      "success": f"Bulk {action}: {{n}} tag(s) {done} on {len(ids):,} item(s), one batch "
                                 "(undo it from Review or Audit)."})

    st.subheader("Export curated tags")
    st.caption("Exports the curated tags of the items in the current filter. In the CSV, cells that a spreadsheet "
               "would run as a formula (= + - @ tab CR) are prefixed with a quote; the JSON holds the tags as stored.")
    rows = services.read(queries.curated_count, f)
    c1, c2 = st.columns(2)  # the files are built when a button is pressed, from the whole filter
    c1.download_button(f"Download CSV ({rows:,} tags)", services.export_filter("csv", f),
                       file_name="curated_tags.csv", mime="text/csv", key="export_csv")
    c2.download_button("Download JSON", services.export_filter("json", f), file_name="curated_tags.json",
                       mime="application/json", key="export_json")
    with st.expander("Preview", expanded=False):
        preview = services.read(export_curated, "csv", services.read(queries.filtered_item_ids, f, PREVIEW_ITEMS))
        st.code(preview[:3000] if rows else "(no curated tags in the filter)", language=None)


main()
