"""Generate: start tagging, finetuning and evaluation jobs; follow their progress and logs live; cancel them.

Jobs run in a detached worker process (spawn_worker), so they survive reruns and reloads; this page reattaches to
them from the jobs table.
"""

import json

import streamlit as st

from betag_engine.catalog import browse
from betag_engine.jobs.registry import check_params
from betag_engine.jobs.runner import create_job, mark_dead_workers, mark_pending, request_cancel
from betag_engine.jobs.worker import spawn_worker
from betag_engine.settings import get_settings
from betag_engine.vocabulary import (
    BETAG_JOB,
    EVALUATE,
    FINETUNE,
    IMPORT_BUILTIN,
    JOB_CANCELLED,
    JOB_FAILED,
    JOB_KINDS,
    JOB_PENDING,
    JOB_RUNNING,
    TAGGPT_JOB,
)
from pages import services

KINDS = {k.name: k.label for k in JOB_KINDS.values() if k.on_generate_page}
LLM_KINDS = [k for k in KINDS if k not in (EVALUATE, IMPORT_BUILTIN)]


def main() -> None:
    services.shell()
    st.title("Generate")
    kind = st.selectbox("Job", list(KINDS), format_func=KINDS.get, key="gen_kind")
    params: dict = {}
    if kind in LLM_KINDS:
        model = st.text_input("Model (empty = configured default)", key="gen_model",
                              placeholder=get_settings().llm_model)
        if model.strip():
            params["model"] = model.strip()
        subset = st.radio("Items", ("N most popular", "Items in the current filter", "All items"),
                          key="gen_subset", horizontal=True)
        if subset == "N most popular":
            params["limit"] = int(st.number_input("N", min_value=1, value=50, key="gen_limit"))
        elif subset == "Items in the current filter":
            params["item_ids"] = services.filtered_ids(services.url(), services.current_filter())
    if kind == TAGGPT_JOB:
        params["samples"] = int(st.number_input("Samples per item", 1, 50, 5, key="gen_samples"))
    if kind == FINETUNE:
        params["epochs"] = int(st.number_input("Epochs", 1, 50, 1, key="gen_epochs"))
    if kind == BETAG_JOB:
        params["m"] = int(st.number_input("Beams per item (m)", 1, 50, 10, key="gen_beams"))
    if kind == EVALUATE:
        params["systems"] = st.multiselect("Systems", services.systems(services.url()), key="gen_systems")
    extra = st.text_area("Extra parameters (JSON object, merged in)", value="{}", key="gen_extra")
    try:
        params.update(json.loads(extra or "{}"))
    except json.JSONDecodeError as exc:
        st.error(f"Extra parameters are not valid JSON: {exc}")
        st.stop()
    shown = {k: (f"{len(v)} ids" if k == "item_ids" else v) for k, v in params.items()}
    st.code(json.dumps(shown, indent=1), language="json")
    st.button("Start job", key="gen_start", type="primary", on_click=start, args=(kind, params))
    monitor()


def start(kind: str, params: dict) -> None:
    try:
        check_params(kind, params)
    except ValueError as exc:
        st.session_state["flash"] = ("error", f"Not started: {exc}")
        return
    job_id = create_job(kind, params, services.url(), name=KINDS[kind])
    _spawn(job_id)
    st.session_state["flash"] = ("success", f"Started job {job_id} ({kind}); it keeps running if you leave.")


def resume(job_id: int) -> None:
    mark_pending(job_id, services.url())
    _spawn(job_id)
    st.session_state["flash"] = ("success", f"Resumed job {job_id}: finished units are skipped.")


def _spawn(job_id: int) -> None:
    logs = get_settings().data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    spawn_worker(job_id, get_settings(), str(logs / f"job-{job_id}.log"))


@st.fragment(run_every=2)
def monitor() -> None:
    st.subheader("Jobs")
    mark_dead_workers(services.url())
    with services.db() as s:
        jobs = browse.recent_jobs(s, limit=8)
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
                          on_click=request_cancel, args=(job["id"], services.url()))
            elif job["status"] in (JOB_FAILED, JOB_CANCELLED):
                st.button("Resume", key=f"gen_resume_{job['id']}", on_click=resume, args=(job["id"],),
                          help="Run the job again; units it already finished are skipped.")


main()
