"""Retrieval preview: rank items for an item, a user's history or typed tags; try a draft of one item's tags and
see the rankings before and after, side by side, before approving the draft."""

import pandas as pd
import streamlit as st

from app_data import queries, services, state, views
from betag_engine import curation
from betag_engine.curation import preview as pv
from betag_engine.errors import BetagError
from betag_engine.vocabulary import CURATED, RETRIEVERS


def main() -> None:
    st.title("Retrieval preview")
    item_id = services.current_item()
    c1, c2, c3, c4 = st.columns(4)
    qtype = c1.radio("Query", ("item", "user history", "tags"), key="rp_qtype")
    system = c2.selectbox("Tagging system", services.systems(), key="rp_system")
    retriever = c3.selectbox("Retriever", RETRIEVERS, key="rp_retriever")
    k = c4.slider("Top k", 5, 50, 10, key="rp_k")
    try:
        query = build_query(qtype, item_id)
        detail = services.read(queries.item_detail, item_id)
    except BetagError as exc:
        st.error(str(exc))
        st.stop()

    stored = {t.tag: t.count for t in detail.tags.get(system, [])}
    st.markdown(f"**Draft of the tags of** {views.md(detail.title)} **in** `{system}` (unsaved)")
    text = st.text_input("Comma-separated tags", value=", ".join(stored), key=f"rp_draft_{item_id}_{system}")
    draft = pv.draft_tags(text, stored)
    typed = [t.strip() for t in text.split(",") if t.strip()]
    changed = [f"'{t}' -> '{s}'" for t, s in ((t, views.tag_preview(t).stored) for t in typed)
               if s and views.tag_preview(t).rewritten]
    if changed:
        st.caption("The draft will be saved as: " + ", ".join(draft) + " (" + "; ".join(changed) + ").")
    try:
        before, after = services.preview_draft(system, retriever, query, item_id, draft, k)
    except (BetagError, ValueError) as exc:
        st.error(str(exc))
        st.stop()
    names = services.read(pv.titles, [r.item_id for r in before + after])
    left, right = st.columns(2)
    left.markdown("**Before** (stored tags)")
    left.dataframe(frame(before, names, item_id), hide_index=True, key="rp_before",
                   column_config=COLUMNS)
    right.markdown("**After** (with the draft)")
    right.dataframe(frame(after, names, item_id), hide_index=True, key="rp_after",
                    column_config=COLUMNS)
    moved = sum(r.change != "=" for r in after)
    st.caption(f"{moved} of {len(after)} positions change with the draft." if draft != stored
               else "Edit the draft to see what changes.")
    who = state.reviewer()
    st.button("Approve the draft as this item's curated tags", key="rp_approve", disabled=not who or draft == {},
              on_click=services.run_action,
              args=(curation.save_draft, item_id, draft, system if system != CURATED else "", who,
                    detail.review_version),
              kwargs={"success": "Draft saved as curated tags"})


def build_query(qtype: str, item_id: int):
    if qtype == "item":
        st.caption("Items similar to the current item (open another one on Catalog or Compare).")
        return item_id
    if qtype == "user history":
        user = st.text_input("User id", value="1", key="rp_user")
        return services.read(queries.user_history, user.strip())
    tags = st.text_input("Tags", value="comedy, romance", key="rp_tags")
    return [t.strip() for t in tags.split(",") if t.strip()]


# narrow fixed columns, the numbers first and the long text last: the side-by-side tables show rank, change and
# score without scrolling; the matched tags (a long list) are cut at the right edge, their full text on hover
COLUMNS = {"rank": st.column_config.NumberColumn(width=40), "title": st.column_config.TextColumn(width=140),
           "change": st.column_config.TextColumn(width=55, help="How the item's rank moves with the draft"),
           "score": st.column_config.NumberColumn(width=55, format="%.3f"),
           "matched tags": st.column_config.TextColumn(width="medium")}


def frame(rows, names: dict, edited: int) -> pd.DataFrame:
    return pd.DataFrame([{"rank": r.rank,
                          "title": ("✎ " if r.item_id == edited else "") + names.get(r.item_id, ("", ""))[1],
                          "change": r.change, "score": r.score, "matched tags": r.matched} for r in rows])


main()
