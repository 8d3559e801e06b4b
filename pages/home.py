"""Home: catalog figures, tagging-system coverage, review progress, recent jobs and what to do next."""

from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from app_data import queries, services, views
from betag_engine.vocabulary import IN_REVIEW, REVIEWED


def main() -> None:
    st.title("BETag Studio")
    st.caption("Generate, compare, approve and test item tags.")
    counts = services.counts()
    c1, c2, c3 = st.columns(3)
    c1.metric("Items", f"{counts.items:,}")
    c2.metric("Users", f"{counts.users:,}")
    c3.metric("Interactions", f"{counts.interactions:,}")

    st.subheader("Tagging systems")
    stats = services.stats()
    table = pd.DataFrame([
        {"system": s.name, "kind": s.kind, "model": s.model, "items tagged": s.items_tagged,
         "coverage": s.items_tagged / counts.items if counts.items else 0.0, "tags assigned": s.tag_assignments,
         "distinct tags": s.distinct_tags}
        for s in stats
    ])
    st.dataframe(table, hide_index=True, key="home_systems",
                 column_config={"coverage": st.column_config.ProgressColumn("coverage", format="percent")})

    progress = services.read(queries.review_progress)
    jobs = services.read(queries.recent_jobs, 8)
    st.subheader("Review progress")
    r1, r2, r3, r4 = st.columns(4)
    r1.metric("Reviewed items", progress.by_status.get(REVIEWED, 0))
    r2.metric("In review", progress.by_status.get(IN_REVIEW, 0))
    r3.metric("Curated tags", progress.curated_tags)
    r4.metric("Decisions", progress.decisions, help=f"by {progress.reviewers} reviewer(s)")

    st.subheader("Recent jobs")
    if jobs:
        now = datetime.now(UTC).replace(tzinfo=None)
        st.dataframe(pd.DataFrame([{"id": j["id"], "job": j["name"], "status": j["status"],
                                    "progress": views.job_status(j, now).line, "created": j["created"]}
                                   for j in jobs]), hide_index=True, key="home_jobs")
    else:
        st.caption("No jobs yet.")

    st.subheader("What to do next")
    for step in views.next_steps({s.name: s for s in stats}, progress, jobs):
        st.markdown(f"- {step}")


main()
