"""Home: catalog figures, tagging-system coverage, review progress, recent jobs and what to do next."""

import pandas as pd
import streamlit as st

from betag_engine.catalog import browse
from betag_engine.vocabulary import BASE, BETAG, IN_REVIEW, JOB_PENDING, JOB_RUNNING, REVIEWED
from pages import services


def main() -> None:
    services.shell()
    st.title("BETag Studio")
    st.caption("Generate, compare, approve and test item tags.")
    counts = services.counts(services.url())
    c1, c2, c3 = st.columns(3)
    c1.metric("Items", f"{counts.items:,}")
    c2.metric("Users", f"{counts.users:,}")
    c3.metric("Interactions", f"{counts.interactions:,}")

    st.subheader("Tagging systems")
    stats = services.stats(services.url())
    table = pd.DataFrame([
        {"system": s.name, "kind": s.kind, "model": s.model, "items tagged": s.items_tagged,
         "coverage": s.items_tagged / counts.items if counts.items else 0.0, "tags assigned": s.tag_assignments,
         "distinct tags": s.distinct_tags}
        for s in stats
    ])
    st.dataframe(table, hide_index=True, key="home_systems",
                 column_config={"coverage": st.column_config.ProgressColumn("coverage", format="percent")})

    with services.db() as s:
        progress = browse.review_progress(s)
        jobs = browse.recent_jobs(s, 8)
    st.subheader("Review progress")
    r1, r2, r3, r4 = st.columns(4)
    r1.metric("Reviewed items", progress.by_status.get(REVIEWED, 0))
    r2.metric("In review", progress.by_status.get(IN_REVIEW, 0))
    r3.metric("Curated tags", progress.curated_tags)
    r4.metric("Decisions", progress.decisions, help=f"by {progress.reviewers} reviewer(s)")

    st.subheader("Recent jobs")
    if jobs:
        st.dataframe(pd.DataFrame(jobs).drop(columns=["log", "error", "cancel_requested"]), hide_index=True,
                     key="home_jobs")
    else:
        st.caption("No jobs yet.")

    st.subheader("What to do next")
    for step in next_steps({s.name: s for s in stats}, progress, jobs):
        st.markdown(f"- {step}")


def next_steps(by_name: dict, progress: browse.ReviewProgress, jobs: list[dict]) -> list[str]:
    steps = []
    if any(j["status"] in (JOB_PENDING, JOB_RUNNING) for j in jobs):
        steps.append("A job is running: follow it on **Generate**.")
    if not by_name.get(BASE) or not by_name[BASE].items_tagged:
        steps.append("Generate **base tags** (one LLM prompt per item) on **Generate**.")
    elif not by_name.get(BETAG) or not by_name[BETAG].items_tagged:
        steps.append("Finetune on behaviour and generate **BETag** tags on **Generate**.")
    if progress.curated_tags == 0:
        steps.append("Approve tags on **Review** (one item) or **Bulk review & export** (many items).")
    else:
        steps.append("Check what approved tags change in **Retrieval preview**, then run an evaluation.")
    steps.append("Bring your own catalog on **Import** (or `python -m betag_engine import`).")
    return steps


main()
