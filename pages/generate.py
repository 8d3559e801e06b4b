"""Generate: start tagging, finetuning and evaluation jobs; follow their progress and logs live; cancel them.

Jobs run in a detached worker process, so they survive reruns and reloads; this page reattaches to them from the
jobs table.
"""

import json
from dataclasses import fields

import streamlit as st

from app_data import services, state
from betag_engine.jobs.registry import params_class
from betag_engine.vocabulary import (
    BETAG_JOB,
    EVALUATE,
    FINETUNE,
    JOB_KINDS,
    JOB_PENDING,
    JOB_RESUMABLE,
    JOB_RUNNING,
    TAGGPT_JOB,
)

KINDS = {k.name: k.label for k in JOB_KINDS.values() if k.on_generate_page}


def _selects_items(kind: str) -> bool:
    """Jobs that run an LLM over a choice of items (their parameters have ``model`` and ``limit``)."""
    return {"model", "limit"} <= {f.name for f in fields(params_class(kind))}


def main() -> None:
    st.title("Generate")
    kind = st.selectbox("Job", list(KINDS), format_func=KINDS.get, key="gen_kind")
    params: dict = {}
    if _selects_items(kind):
        model = st.text_input("Model (empty = configured default)", key="gen_model",
                              placeholder=services.settings().llm_model)
        if model.strip():
            params["model"] = model.strip()
        subset = st.radio("Items", ("N most popular", "Items in the current filter", "All items"),
                          key="gen_subset", horizontal=True)
        if subset == "N most popular":
            params["limit"] = int(st.number_input("N", min_value=1, value=50, key="gen_limit"))
        elif subset == "Items in the current filter":
            params["item_ids"] = services.filtered_ids(state.current_filter())
    if kind == TAGGPT_JOB:
        params["samples"] = int(st.number_input("Samples per item", 1, 50, 5, key="gen_samples"))
    if kind == FINETUNE:
        params["epochs"] = int(st.number_input("Epochs", 1, 50, 1, key="gen_epochs"))
    if kind == BETAG_JOB:
        params["m"] = int(st.number_input("Beams per item (m)", 1, 50, 10, key="gen_beams"))
    if kind == EVALUATE:
        params["systems"] = st.multiselect("Systems", services.systems(), key="gen_systems")
    extra = st.text_area("Extra parameters (JSON object, merged in)", value="{}", key="gen_extra")
    try:
        params.update(json.loads(extra or "{}"))
    except json.JSONDecodeError as exc:
        st.error(f"Extra parameters are not valid JSON: {exc}")
        st.stop()
    shown = {k: (f"{len(v)} ids" if k == "item_ids" else v) for k, v in params.items()}
    st.code(json.dumps(shown, indent=1), language="json")
    st.button("Start job", key="gen_start", type="primary", on_click=services.start_job, args=(kind, params))
    monitor()


@st.fragment(run_every=2)
def monitor() -> None:
    st.subheader("Jobs")
    jobs = services.recent_jobs(limit=8)
    if not jobs:
        st.caption("No jobs yet.")
        return
    for i, job in enumerate(jobs):
        active = job["status"] in (JOB_PENDING, JOB_RUNNING)
        # the newest job stays open when it ends, so its outcome (or error) is what the page shows
        with st.expander(f"#{job['id']} {job['name']} · {job['status']}", expanded=active or i == 0):
            total = job["total"] or 1
            st.progress(min(1.0, job["done"] / total), text=f"{job['done']}/{job['total']} · {job['message']}")
            if job["log"]:
                st.code(job["log"][-3000:], language=None)
            if job["error"]:
                st.code(job["error"][-3000:], language=None)
            if active:
                st.button("Cancel", key=f"gen_cancel_{job['id']}", disabled=job["cancel_requested"],
                          on_click=services.cancel_job, args=(job["id"],))
            elif job["status"] in JOB_RESUMABLE:
                st.button("Resume", key=f"gen_resume_{job['id']}", on_click=services.resume_job, args=(job["id"],),
                          help="Run the job again; units it already finished are skipped.")


main()
