"""Bulk review over the current filter (top-k tags by count or confidence) and export of curated tags."""

import streamlit as st

from app_data import queries, services, state
from betag_engine import curation
from betag_engine.curation.decisions import BULK_ACTIONS, BULK_ORDERS
from betag_engine.curation.export import export_curated
from betag_engine.vocabulary import CURATED


def main() -> None:
    st.title("Bulk review & export")
    who = state.require_reviewer()
    ids = services.filtered_ids(state.current_filter())
    st.caption(f"{len(ids):,} items match the current filter (sidebar).")
    sources = [n for n in services.systems() if n != CURATED]
    if not sources or not ids:
        st.info("Nothing to review: no tagging system or no item in the filter.")
        st.stop()

    st.subheader("Bulk decision")
    c1, c2, c3, c4 = st.columns(4)
    source = c1.selectbox("Tags of", sources, key="bulk_source")
    action = c2.selectbox("Action", BULK_ACTIONS, key="bulk_action")
    order = c3.selectbox("Top tags by", BULK_ORDERS, key="bulk_order")
    top_k = c4.number_input("Top k per item (0 = all)", min_value=0, max_value=50, value=3, key="bulk_k")
    versions = services.read(queries.item_versions, ids)  # what the reviewer sees now; checked again on submit
    st.button(f"{action.capitalize()} the top {top_k or 'all'} {source} tags of {len(ids):,} items",
              key="bulk_apply", type="primary", on_click=services.run_action,
              args=(curation.bulk_decide, action, versions, source, who),
              kwargs={"top_k": int(top_k) or None, "order_by": order,
                      "success": f"Bulk {action} done for {len(ids)} items (undo it from Review or Audit)"})

    st.subheader("Export curated tags")
    st.caption("Exports the curated tags of the items in the current filter. Cells that a spreadsheet would run "
               "as a formula (= + - @ tab CR) are prefixed with a quote.")
    csv_text = services.read(export_curated, "csv", ids)
    json_text = services.read(export_curated, "json", ids)
    rows = csv_text.count("\n") - 1
    c1, c2 = st.columns(2)
    c1.download_button(f"Download CSV ({rows} tags)", csv_text, file_name="curated_tags.csv", mime="text/csv",
                       key="export_csv")
    c2.download_button("Download JSON", json_text, file_name="curated_tags.json", mime="application/json",
                       key="export_json")
    with st.expander("Preview", expanded=False):
        st.code(csv_text[:3000] or "(no curated tags in the filter)", language=None)


main()
