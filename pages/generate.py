"""Generate: start tagging, finetuning and evaluation jobs; follow their progress and logs live; cancel them.

Jobs run in a detached worker process, so they survive reruns and reloads; this page reattaches to them from the
jobs table.
"""

import json
from dataclasses import fields
from datetime import UTC, datetime

import streamlit as st

from app_data import services, state, views
from app_data.state import PIPELINE_PRESET
from betag_engine.experiments.profiles import PARALLEL_HELP, PROFILES
from betag_engine.jobs.registry import params_class
from betag_engine.jobs.validation import bounds
from betag_engine.tagging.config import DOMAIN_PRESETS
from betag_engine.vocabulary import (
    BETAG_JOB,
    BUILTIN_DATASETS,
    CURRENT_CATALOG,
    EVALUATE,
    FINETUNE,
    JOB_KINDS,
    JOB_PENDING,
    JOB_RESUMABLE,
    JOB_RUNNING,
    PIPELINE,
    TAGGPT_JOB,
)

KINDS = {k.name: k.label for k in JOB_KINDS.values() if k.on_generate_page}


def _selects_items(kind: str) -> bool:
    """Jobs that run an LLM over a choice of items (their parameters have ``model`` and ``limit``)."""
    return {"model", "limit"} <= {f.name for f in fields(params_class(kind))}


def _number(kind: str, name: str, label: str, default: int, key: str) -> int:
    """A number input whose bounds are the parameter's valid range (``jobs.validation``): one rule for the form
    and the JSON box."""
    low, high = bounds(params_class(kind), name)
    return int(st.number_input(label, min_value=low, max_value=high, value=default, key=key))


def pipeline_form(params: dict) -> None:
    """The pipeline on the catalog in the database (your import) or a built-in one, with its profile and prompt."""
    preset = st.session_state.pop(PIPELINE_PRESET, None)
    choices = [CURRENT_CATALOG, *BUILTIN_DATASETS]
    def label(c: str) -> str:
        return "the catalog in the database" if c == CURRENT_CATALOG else f"built-in {c} (into an empty database)"

    catalog = st.radio("Catalog", choices, index=choices.index(preset) if preset in choices else 0, horizontal=True,
                       key="gen_pipe_catalog", format_func=label)
    params["dataset"] = catalog
    params["profile"] = st.selectbox("Profile", list(PROFILES), key="gen_pipe_profile",
                                     help="quick: the most-interacted items, sized for a 2-core CPU; full: every "
                                          "item and user (docs/JOBS.md lists each stage's parameters).")
    recorded = services.catalog_prompt() if catalog == CURRENT_CATALOG else {"domain": "movies"}
    keep = f"as recorded with the catalog ({recorded.get('domain', 'custom')})" if recorded else "not recorded: choose"
    domain = st.selectbox("Prompt preset", [None, *DOMAIN_PRESETS], key="gen_pipe_domain",
                          format_func=lambda d: keep if d is None else d)
    if domain:
        params["domain"] = domain
    if st.checkbox("Two stages at once", key="gen_pipe_parallel", help=PARALLEL_HELP):
        params["parallel"] = True
    if st.checkbox("Report what has finished so far", key="gen_pipe_interim",
                   help="Run no stage: evaluate the stages this pipeline has finished (for instance while it is "
                        "still running) and add an interim report to Evaluation, naming the stages still to come."):
        params["interim"] = True
    st.caption("Each stage runs as its own job below (items/s and time left on each); the pipeline's report "
               "appears on Evaluation when it ends.")


def main() -> None:
    st.title("Generate")
    kinds = list(KINDS)
    start = kinds.index(PIPELINE) if st.session_state.get(PIPELINE_PRESET) else 0
    kind = st.selectbox("Job", kinds, index=start, format_func=KINDS.get, key="gen_kind")
    params: dict = {}
    if _selects_items(kind):
        model = st.text_input("Model (empty = configured default)", key="gen_model",
                              placeholder=services.settings().llm_model)
        if model.strip():
            params["model"] = model.strip()
        subset = st.radio("Items", ("N most popular", "Items in the current filter", "All items"),
                          key="gen_subset", horizontal=True)
        if subset == "N most popular":
            params["limit"] = _number(kind, "limit", "N", 50, "gen_limit")
        elif subset == "Items in the current filter":
            params["item_ids"] = services.filtered_ids(state.current_filter())
    if kind == TAGGPT_JOB:
        params["samples"] = _number(kind, "samples", "Samples per item", 5, "gen_samples")
    if kind == FINETUNE:
        params["epochs"] = _number(kind, "epochs", "Epochs", 1, "gen_epochs")
    if kind == BETAG_JOB:
        params["m"] = _number(kind, "m", "Beams per item (m)", 10, "gen_beams")
    if kind == PIPELINE:
        pipeline_form(params)
    if kind == EVALUATE:
        params["systems"] = st.multiselect("Systems", services.systems(), key="gen_systems")
    extra = st.text_area("Extra parameters (JSON object, merged in)", value="{}", key="gen_extra",
                         help="Every parameter of the job (docs/JOBS.md); checked with the form's values before the "
                              "job can start.")
    try:
        more = json.loads(extra or "{}")
    except json.JSONDecodeError as exc:
        st.error(f"Extra parameters are not valid JSON: {exc}")
        st.stop()
    if not isinstance(more, dict):
        st.error(f"Extra parameters must be a JSON object such as {{\"batch_size\": 4}}, got {extra.strip()!r}")
        st.stop()
    params.update(more)
    shown = {k: (f"{len(v)} ids" if k == "item_ids" and isinstance(v, list) else v) for k, v in params.items()}
    st.code(json.dumps(shown, indent=1), language="json")
    problem = services.param_problem(kind, params)
    if problem:
        st.error(f"Cannot start: {problem}", icon=":material/block:")
    st.button("Start job", key="gen_start", type="primary", on_click=services.start_job, args=(kind, params),
              disabled=bool(problem))
    monitor()


@st.fragment(run_every=2)
def monitor() -> None:
    st.subheader("Jobs")
    jobs = services.recent_jobs(limit=8)
    if not jobs:
        st.caption("No jobs yet.")
        return
    now = datetime.now(UTC).replace(tzinfo=None)
    for i, job in enumerate(jobs):
        active = job["status"] in (JOB_PENDING, JOB_RUNNING)
        status = views.job_status(job, now)
        # the newest job stays open when it ends, so its outcome (or error) is what the page shows
        with st.expander(f"#{job['id']} {job['name']} · {job['status']}", expanded=active or i == 0):
            if status.fraction is None:
                st.info(status.line, icon=":material/hourglass_top:" if active else None)
            else:
                st.progress(status.fraction, text=status.line)
            if status.cancel_note:
                st.warning(status.cancel_note)
            if job["log"]:
                st.code(job["log"][-3000:], language=None)
            if job["error"]:
                st.code(job["error"][-3000:], language=None)
            if active:
                st.button("Cancel", key=f"gen_cancel_{job['id']}", disabled=job["cancel_requested"],
                          on_click=services.cancel_job, args=(job["id"],),
                          help="The job stops at the end of its current batch (or long step); finished units "
                               "are kept and Resume continues.")
            elif job["status"] in JOB_RESUMABLE:
                st.button("Resume", key=f"gen_resume_{job['id']}", on_click=services.resume_job, args=(job["id"],),
                          help="Run the job again; units it already finished are skipped.")


main()
