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
    show_counts = any(t.count != 1 for t in proposed)  # native and base tags are all count 1: no "(count 1)" noise
    for i, t in enumerate(proposed):
        c1, c2, c3, c4 = st.columns([4, 2, 1, 1])
        c1.text(views.tag_line(t, show_counts))
        c2.text(views.state_label(states.get(t.tag, PENDING)))
        # a per-tag button is a decision on that one tag, seen with its state: it may overrule an earlier one
        c3.button("Approve", key=f"review_approve_{i}", on_click=services.run_action,
                  args=(curation.approve_tags, item_id, [t.tag], source, who, version),
                  kwargs={"overrule": True, "success": f"Approved '{t.tag}'"})
        c4.button("Reject", key=f"review_reject_{i}", on_click=services.run_action,
                  args=(curation.reject_tags, item_id, [t.tag], source, who, version),
                  kwargs={"overrule": True, "success": f"Rejected '{t.tag}'"})
    if not proposed:
        st.caption(f"{source} has no tags for this item.")
    else:
        pending = [t.tag for t in proposed if states.get(t.tag, PENDING) == PENDING]
        st.button(f"Approve the {len(pending)} pending {source} tags of this item", key="review_approve_all",
                  disabled=not pending, on_click=services.run_action,
                  args=(curation.approve_tags, item_id, [t.tag for t in proposed], source, who, version),
                  kwargs={"success": "Approved {n} tag(s) of the item."},
                  help="Tags a person already approved, rejected or edited are left as they are.")

    st.markdown("**Curated tags:** " + (views.md(", ".join(sorted(curated))) if curated else "none yet"))
    editable = sorted(curated | {t.tag for t in proposed})
    c1, c2 = st.columns(2)
    c1.selectbox("Edit tag", editable, key="review_edit_tag")
    c2.text_input("New text", key="review_edit_new", help="Press Enter to see how it will be saved.")
    preview_typed("review_edit_new")
    st.button("Save edit", key="review_edit_save", on_click=submit_edit, args=(item_id, source, who, version))
    st.text_input("Add a tag of your own", key="review_add_text", help="Press Enter to see how it will be saved.")
    preview_typed("review_add_text")
    st.button("Add tag", key="review_add_save", on_click=submit_add, args=(item_id, who, version))
    undo_panel(who, item_id)


def preview_typed(key: str) -> None:
    """Show the stored form of the tag typed in ``key`` when it differs, and note that the reviewer has seen it."""
    preview = views.tag_preview(st.session_state.get(key, ""))
    if preview.message:
        (st.warning if preview.rewritten or not preview.stored else st.caption)(preview.message)
    st.session_state[f"{key}_seen"] = st.session_state.get(key, "").strip()


def _confirmed(key: str) -> views.TagPreview | None:
    """The typed tag's preview if it may be saved now: a rewrite must have been shown before saving."""
    typed = st.session_state.get(key, "").strip()
    preview = views.tag_preview(typed)
    if not typed:
        return None
    if not preview.stored:
        state.set_flash("error", preview.message)
        return None
    if preview.rewritten and st.session_state.get(f"{key}_seen") != typed:
        state.set_flash("warning", f"'{typed}' will be saved as '{preview.stored}'. Nothing was saved yet: "
                                   "press the button again to save it as shown, or change the text.")
        return None
    return preview


def submit_edit(item_id: int, source: str, who: str, version: int) -> None:
    old = st.session_state.get("review_edit_tag")
    preview = _confirmed("review_edit_new")
    if old and preview:
        services.run_action(curation.edit_tag, item_id, old, preview.stored, source, who, version,
                            success=f"Edited '{old}' to '{preview.stored}'.")
        st.session_state["review_edit_new"] = ""


def submit_add(item_id: int, who: str, version: int) -> None:
    preview = _confirmed("review_add_text")
    if preview:
        services.run_action(curation.add_tag, item_id, preview.stored, who, version,
                            success=f"Added '{preview.stored}'.")
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
