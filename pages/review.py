"""Review: the approval queue and single-tag decisions (approve, reject, edit, add, remove) with undo."""

import pandas as pd
import streamlit as st

from app_data import queries, services, state, views
from betag_engine import curation
from betag_engine.curation.audit import AuditFilter, audit_rows
from betag_engine.curation.state import tag_states
from betag_engine.vocabulary import CURATED, PENDING


def main() -> None:
    st.title("Review")
    who = state.require_reviewer()
    sources = [n for n in services.systems() if n != CURATED]
    if not sources:
        st.info("No tagging system yet: import a catalog or generate tags first.")
        st.stop()
    source = st.selectbox("Proposals from", sources, key="review_source")
    queue = services.read(queries.review_queue, state.current_filter(), source, limit=20)
    with st.expander(f"Approval queue ({len(queue)}{'+' if len(queue) == 20 else ''} items with pending tags)",
                     expanded=False):
        st.dataframe(pd.DataFrame([{"item_id": q.external_id, "title": q.title, "pending": len(q.pending)}
                                   for q in queue]), hide_index=True, key="review_queue_table")
        if queue:
            st.button("Open next item in the queue", key="review_next", on_click=state.open_item,
                      args=(queue[0].item_id,))
    item_id = services.current_item()
    if item_id is None:
        st.stop()
    detail = services.read(queries.item_detail, item_id)
    states = services.read(tag_states, item_id)
    st.subheader(views.md(detail.title))
    st.caption(f"id {detail.external_id} · review {detail.review_status} · version {detail.review_version}")
    version = detail.review_version  # bound into every callback: the optimistic-concurrency token

    proposed = detail.tags.get(source, [])
    curated = {t.tag for t in detail.tags.get(CURATED, [])}
    for i, t in enumerate(proposed):
        c1, c2, c3, c4 = st.columns([4, 2, 1, 1])
        conf = f" · conf {t.confidence:.2f}" if t.confidence is not None else ""
        c1.text(f"{t.tag}  (count {t.count:g}{conf})")
        c2.text(views.state_label(states.get(t.tag, PENDING)))
        c3.button("Approve", key=f"review_approve_{i}", on_click=services.run_action,
                  args=(curation.approve_tags, item_id, [t.tag], source, who, version),
                  kwargs={"success": f"Approved '{t.tag}'"})
        c4.button("Reject", key=f"review_reject_{i}", on_click=services.run_action,
                  args=(curation.reject_tags, item_id, [t.tag], source, who, version),
                  kwargs={"success": f"Rejected '{t.tag}'"})
    if not proposed:
        st.caption(f"{source} has no tags for this item.")
    else:
        st.button(f"Approve all {len(proposed)} {source} tags of this item", key="review_approve_all",
                  on_click=services.run_action,
                  args=(curation.approve_tags, item_id, [t.tag for t in proposed], source, who, version),
                  kwargs={"success": "Approved all tags of the item"})

    st.markdown("**Curated tags:** " + (views.md(", ".join(sorted(curated))) if curated else "none yet"))
    editable = sorted(curated | {t.tag for t in proposed})
    with st.form("review_edit_form"):
        c1, c2 = st.columns(2)
        c1.selectbox("Edit tag", editable, key="review_edit_tag")
        c2.text_input("New text", key="review_edit_new")
        st.form_submit_button("Save edit", key="review_edit_save", on_click=submit_edit,
                              args=(item_id, source, who, version))
    with st.form("review_add_form"):
        st.text_input("Add a tag of your own", key="review_add_text")
        st.form_submit_button("Add tag", key="review_add_save", on_click=submit_add, args=(item_id, who, version))
    undo_panel(who, item_id)


def submit_edit(item_id: int, source: str, who: str, version: int) -> None:
    old, new = st.session_state.get("review_edit_tag"), st.session_state.get("review_edit_new", "").strip()
    if old and new:
        services.run_action(curation.edit_tag, item_id, old, new, source, who, version, success=f"Edited '{old}'")
        st.session_state["review_edit_new"] = ""


def submit_add(item_id: int, who: str, version: int) -> None:
    text = st.session_state.get("review_add_text", "").strip()
    if text:
        services.run_action(curation.add_tag, item_id, text, who, version, success=f"Added '{text}'")
        st.session_state["review_add_text"] = ""


def undo_panel(who: str, item_id: int) -> None:
    recent = services.read(audit_rows, AuditFilter(reviewer=who, live_only=True), limit=1)
    if recent:
        last = recent[0]
        what = f"batch {last['batch']}" if last["batch"] else f"{last['action']} '{last['tag']}'"
        kwargs = {"batch_id": last["batch"]} if last["batch"] else {"decision_id": last["id"]}
        st.button(f"Undo my last decision ({what}, {last['title']})", key="review_undo",
                  on_click=services.run_action, args=(curation.undo, who), kwargs={**kwargs, "success": "Undone"})


main()
