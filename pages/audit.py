"""Audit: every review decision with reviewer, time and before/after, filterable; undo by decision or batch."""

import pandas as pd
import streamlit as st

from app_data import services, state
from betag_engine import curation
from betag_engine.curation.audit import AuditFilter, audit_rows, reviewers
from betag_engine.vocabulary import REVIEW_ACTIONS


def main() -> None:
    st.title("Audit log")
    names = services.read(reviewers)
    c1, c2, c3, c4 = st.columns(4)
    who = c1.selectbox("Reviewer", [""] + names, key="audit_reviewer", format_func=lambda v: v or "anyone")
    action = c2.selectbox("Action", ("",) + REVIEW_ACTIONS, key="audit_action", format_func=lambda v: v or "any")
    item = c3.text_input("Item id or title", key="audit_item")
    tag = c4.text_input("Tag", key="audit_tag")
    live = st.toggle("Hide undone decisions and undos", key="audit_live")
    rows = services.read(audit_rows, AuditFilter(reviewer=who, action=action, item=item.strip(), tag=tag.strip(),
                                                 live_only=live))
    st.caption(f"{len(rows)} decision(s), newest first (at most 500).")
    if not rows:
        st.info("No decision matches.")
        st.stop()
    top = rows[0]
    st.text(f"Latest: #{top['id']} {top['reviewer']} {top['action']} '{top['tag']}' on {top['title']} "
            f"({top['item_id']}) at {top['time (UTC)']:%Y-%m-%d %H:%M:%S} UTC")
    frame = pd.DataFrame(rows).drop(columns=["item"])
    st.dataframe(frame, hide_index=True, key="audit_table")

    st.subheader("Undo")
    me = state.require_reviewer()
    c1, c2 = st.columns(2)
    decision = c1.number_input("Decision id", min_value=1, value=int(rows[0]["id"]), key="audit_undo_id")
    c1.button("Undo this decision", key="audit_undo", on_click=services.run_action,
              args=(curation.undo, me), kwargs={"decision_id": int(decision), "success": f"Undid decision {decision}"})
    batches = sorted({r["batch"] for r in rows if r["batch"]}, reverse=True)
    if batches:
        batch = c2.selectbox("Batch", batches, key="audit_undo_batch")
        c2.button("Undo the whole batch", key="audit_undo_batch_btn", on_click=services.run_action,
                  args=(curation.undo, me), kwargs={"batch_id": batch, "success": f"Undid batch {batch}"})


main()
