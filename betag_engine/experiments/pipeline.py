"""The whole experiment as one resumable job, on a built-in catalog or on the catalog in the database:
base tags -> TagGPT -> cf-tags -> finetuning -> BETag (+ ablations and beam sweep) -> evaluation -> report
(Markdown + JSON under ``Settings.reports_dir`` and a Report row).

Job kind "pipeline", parameters :class:`PipelineParams`. Each stage runs as its own job (its own checkpoints, so a
rerun skips finished items/epochs); the pipeline checkpoints finished stages (unit ``stage-<name>``) with their
result and run time. The evaluated items, the cold items and the prompt are fixed before the first stage and
recorded in the report, together with the catalog's size and content hash.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import select

from betag_engine.catalog.info import PROMPT_SETTING, CatalogSummary, catalog_summary, get_setting
from betag_engine.catalog.movielens import ensure_builtin
from betag_engine.catalog.store import list_system_names
from betag_engine.code_version import code_version
from betag_engine.experiments import companion
from betag_engine.experiments.diagnosis import diagnose
from betag_engine.experiments.evaluation_plan import cold_items, evaluate_pipeline
from betag_engine.experiments.profiles import (
    COMPANIONS,
    DEFAULT_PROFILE,
    OVERRIDE_STAGES,
    PARALLEL_HELP,
    PROFILES,
    Stage,
    check_profile,
    default_report_name,
    profile_values,
    stage_plan,
)
from betag_engine.experiments.report import ALL_RUNS, pipeline_report, write_report
from betag_engine.jobs.registry import run_kind
from betag_engine.jobs.runner import JobContext, forget_units, job_key, request_cancel
from betag_engine.tagging.betag import BetagParams
from betag_engine.tagging.common import select_items
from betag_engine.tagging.config import DOMAIN_PRESETS, PromptConfig
from betag_engine.tagging.finetune import FinetuneParams
from betag_engine.vocabulary import (
    BASE,
    BETAG,
    BETAG_JOB,
    BETAG_NOFT,
    BETAG_PAPER,
    BUILTIN_DATASETS,
    CURRENT_CATALOG,
    DEFAULT_DATASET,
    FINETUNE,
    JOB_DONE,
    PIPELINE_REPORT,
)
from db.models import Job, Report

CATALOGS = (*BUILTIN_DATASETS, CURRENT_CATALOG)


@dataclass
class PipelineParams:
    dataset: str = field(default=DEFAULT_DATASET, metadata={
        "help": "The catalog: a built-in one (" + " | ".join(BUILTIN_DATASETS) + ", imported into an empty "
                f"database) or {CURRENT_CATALOG} (the catalog already in the database, e.g. your own import)."})
    profile: str = field(default=DEFAULT_PROFILE, metadata={"help": "Stage parameters: " + " | ".join(PROFILES)})
    overrides: dict[str, dict] = field(default_factory=dict, metadata={
        "help": "Changed stage parameters, {section: {param: value}}; sections " + ", ".join(OVERRIDE_STAGES)})
    domain: str | None = field(default=None, metadata={
        "help": "Prompt preset (" + " | ".join(DOMAIN_PRESETS) + "); default: the one recorded with the catalog."})
    prompt: dict | None = field(default=None, metadata={
        "help": "PromptConfig fields (e.g. from your own template file); default: the catalog's recorded prompt."})
    seeds: list[int] = field(default_factory=list, metadata={
        "help": "More finetuning seeds for BETag's best configuration (each a finetune and a BETag stage, system "
                "betag-s<seed>); the report gives BETag's mean and spread over BETAG_SEED and these."})
    report_name: str | None = field(default=None, metadata={
        "help": f"Report file name (default: {default_report_name('<dataset>', '<profile>')})."})
    interim: bool = field(default=False, metadata={
        "help": "Run no stage: evaluate the systems of the stages finished so far (e.g. beside a long run that is "
                "still going) and write the report as <report name>-interim, listing the stages still to come."})
    parallel: bool = field(default=False, metadata={"help": PARALLEL_HELP})

    def __post_init__(self) -> None:
        if self.dataset not in CATALOGS:
            raise ValueError(f"dataset must be one of {', '.join(CATALOGS)}, got {self.dataset!r}")
        if self.domain is not None and self.domain not in DOMAIN_PRESETS:
            raise ValueError(f"domain must be one of {', '.join(DOMAIN_PRESETS)}, got {self.domain!r}")
        if self.prompt is not None:
            PromptConfig.from_dict(self.prompt)  # refuses unknown fields and bad templates now
        check_profile(self.profile, self.overrides)


def resolve_prompt(p: PipelineParams, recorded: dict | None) -> dict:
    """The prompt every LLM stage uses: the explicit prompt, else the domain flag (over what the catalog recorded),
    else the catalog's record. Never guessed: a catalog without one must be given a domain."""
    if p.prompt is not None:
        return {**p.prompt, **({"domain": p.domain} if p.domain else {})}
    if p.domain is not None:
        keep = {k: v for k, v in (recorded or {}).items() if k != "domain"} if (recorded or {}).get(
            "domain") == p.domain else {}
        return {**keep, "domain": p.domain}
    if recorded:
        return dict(recorded)
    raise ValueError("this catalog has no prompt preset recorded; give one: --domain "
                     + " | ".join(DOMAIN_PRESETS) + " (or --prompt-file your.json), or record it at import "
                     "(python -m betag_engine import ... --domain products)")


def _run_stage(ctx: JobContext, stage: Stage) -> dict:
    return run_kind(stage.kind, stage.params, ctx.settings, name=f"pipeline:{stage.name}",
                    progress_bar=ctx.progress_bar)


def pipeline_job(ctx: JobContext, params: dict) -> dict:
    """Job kind "pipeline"."""
    p = PipelineParams(**params)
    code_version()  # taken now, while the checkout is the code this process loaded, and kept for the whole run
    if p.dataset != CURRENT_CATALOG:
        summary = ensure_builtin(ctx.settings.database_url, p.dataset)
        if summary is not None:
            ctx.log(f"imported the built-in {p.dataset}: {summary.items_added} items, "
                    f"{summary.interactions_added} interactions")
    values = profile_values(p.profile, p.overrides)
    with ctx.session() as s:
        catalog = catalog_summary(s)
        if not catalog.items or not catalog.interactions:
            raise ValueError(f"the catalog has {catalog.items} items and {catalog.interactions} interactions; "
                             "import items and interactions first (python -m betag_engine import)")
        prompt = resolve_prompt(p, get_setting(s, PROMPT_SETTING))
        pool = sorted(select_items(s, {"limit": values["limit"]}))
    cold = cold_items(pool, values["cold_share"], ctx.settings.seed)
    plan = stage_plan(p.profile, ctx.settings.seed, p.overrides, item_ids=pool, holdout=cold, prompt=prompt,
                      seeds=p.seeds)
    ctx.log(f"pipeline on {catalog.line()}: {len(pool)} items evaluated, {len(cold)} of them cold; prompt "
            f"{prompt.get('domain')}")
    if p.interim:
        ctx.set_total(len(plan) + 1, f"pipeline {p.profile} (interim report)")
        stages = finished_stages(ctx, plan)
    else:
        stages = _run_stages(ctx, plan, p.profile, p.parallel)
    unfinished = [s for s in plan if s.name not in stages]
    ctx.progress(len(plan), "evaluation")
    start = time.perf_counter()
    evaluation = evaluate_pipeline(ctx, plan, np.array(pool, dtype=np.int64), cold,
                                   exclude=systems_written_by(unfinished))
    diagnosis = _diagnose(ctx, plan, np.array(pool, dtype=np.int64))
    eval_seconds = round(time.perf_counter() - start, 1)
    report = pipeline_report(_label(p, catalog), p.profile, _description(p, values, prompt), stages, evaluation,
                             eval_seconds, catalog=catalog.as_dict())
    report["diagnosis"] = diagnosis
    report["llm"] = llm_settings(ctx.settings)
    report["code"] = code_version()
    name = p.report_name or default_report_name(_label(p, catalog), p.profile)
    if p.interim:
        report["unfinished_stages"] = [s.name for s in unfinished]
        name += "-interim"
    paths = write_report(report, name, ctx.settings.reports_dir)
    with ctx.session() as s:
        row = Report(kind=PIPELINE_REPORT, name=name, dataset=_label(p, catalog), payload=report)
        s.add(row)
        s.flush()
        report_id = row.id
    ctx.progress(len(plan) + 1, "done")
    return {"report_id": report_id, **{k: str(v) for k, v in paths.items()},
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds")}


def finished_stages(ctx: JobContext, plan: list[Stage]) -> dict[str, dict]:
    """The stages whose job (same kind and parameters) has finished, as ``_run_stages`` records them; a stage's
    seconds are its job's runs summed (``Job.run_seconds``)."""
    keys = {job_key(stage.kind, stage.params): stage for stage in plan}
    with ctx.session() as s:
        done = s.scalars(select(Job).where(Job.key.in_(list(keys)), Job.status == JOB_DONE)).all()
        found = {keys[j.key].name: {"kind": j.kind, "params": keys[j.key].params, "result": dict(j.result or {}),
                                    "seconds": _rounded(j.run_seconds), ALL_RUNS: True} for j in done}
    return {stage.name: found[stage.name] for stage in plan if stage.name in found}


def stage_seconds(ctx: JobContext, stage: Stage) -> float | None:
    """The seconds of every run of ``stage``'s job (a stage resumed across pipeline runs: all of them)."""
    with ctx.session() as s:
        job = s.scalars(select(Job).where(Job.key == job_key(stage.kind, stage.params))).first()
        return None if job is None else _rounded(job.run_seconds)


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 1)


def systems_written_by(stages: list[Stage]) -> set[str]:
    """The tagging systems these stages write (a BETag stage's beam-sweep systems included)."""
    out = set()
    for stage in stages:
        if stage.kind == BETAG_JOB:
            out.update(BetagParams(**stage.params).written_systems())
        elif "system" in stage.params:
            out.add(stage.params["system"])
    return out


def llm_settings(settings) -> dict:
    """The settings that decide how the LLM stages computed (the device as configured; ``auto`` = cuda if there)."""
    return {"backend": settings.llm_backend, "model": settings.llm_model, "device": settings.llm_device,
            "quantization": settings.llm_quantization, "training_dtype": settings.llm_training_dtype}


def _label(p: PipelineParams, catalog: CatalogSummary) -> str:
    """The report's dataset label: the built-in name, or "catalog-<hash>" for the current catalog."""
    return p.dataset if p.dataset != CURRENT_CATALOG else f"catalog-{catalog.content_hash[:8]}"


def _run_stages(ctx: JobContext, plan: list[Stage], profile: str, parallel: bool = False) -> dict[str, dict]:
    """Run each stage not finished earlier with the same parameters and inputs; returns stage name -> {kind,
    params, result, seconds}.

    A stage whose parameters changed since it finished (an upgrade changed the profile, another prompt) runs again,
    and so does what reads its output: every stage on its base tags after the base stage, every BETag stage on its
    adapter after a finetuning stage. Such a reader keeps its parameters, so its job's finished units are forgotten
    first and it regenerates everything. With ``parallel``, a stage of ``COMPANIONS`` starts its companion
    in a 1-thread worker and runs itself on one thread; the companion's result is recorded when both are done.
    """
    payloads = ctx.unit_payloads()
    ctx.set_total(len(plan) + 1, f"pipeline {profile}")
    stages: dict[str, dict] = {}
    by_name = {stage.name: stage for stage in plan}
    rerun_base, retrained = False, set()

    def needs_run(stage: Stage) -> bool:
        """False (and its stored record taken) when it finished with these parameters and inputs."""
        unit = f"stage-{stage.name}"
        stale = (rerun_base and "base_system" in stage.params) or (
            stage.kind == BETAG_JOB and stage.params.get("adapter") in retrained)
        if unit in payloads:
            same = payloads[unit].get("params") == json.loads(json.dumps(stage.params, default=str))
            if same and not stale:
                stages[stage.name] = payloads[unit]
                return False
            ctx.log(f"stage {stage.name}: " + ("its input was made again in this run" if same else
                    "its parameters changed since it finished (a new profile or prompt)") + "; running it again")
            if same:
                forget_units(stage.kind, stage.params, ctx.settings.database_url)
        return True

    def record(stage: Stage, result: dict, seconds: float, beside: dict | None = None) -> None:
        nonlocal rerun_base
        unit = f"stage-{stage.name}"
        stages[stage.name] = {"kind": stage.kind, "params": stage.params,
                              "result": json.loads(json.dumps(result, default=str)), "seconds": seconds,
                              "code": code_version(), ALL_RUNS: True, **({"beside": beside} if beside else {})}
        with ctx.session() as s:
            ctx.mark_done(s, {unit: stages[stage.name]})
        if unit in payloads:  # it ran again: what reads its output is stale
            rerun_base = rerun_base or stage.name == BASE
            if stage.kind == FINETUNE:
                retrained.add(stage.params.get("adapter"))

    for n, stage in enumerate(plan):
        if stage.name in stages or not needs_run(stage):
            continue
        beside = by_name.get(COMPANIONS.get(stage.name, "")) if parallel else None
        if beside is not None and (beside.name in stages or not needs_run(beside)):
            beside = None
        running = companion.start(ctx, beside) if beside is not None else None
        ctx.progress(n, f"stage {n + 1}/{len(plan)}: {stage.name}" + (f" (+ {beside.name})" if beside else ""))
        start = time.perf_counter()
        try:
            with companion.one_thread(running, ctx.settings.database_url):
                result = _run_stage(ctx, stage)
        except BaseException:
            if running is not None:
                request_cancel(running.job_id, ctx.settings.database_url)
            raise
        record(stage, result, stage_seconds(ctx, stage) or round(time.perf_counter() - start, 1))
        if running is not None:
            ctx.progress(n, f"stage {n + 1}/{len(plan)}: waiting for {beside.name}")
            result, seconds, waited = companion.wait(ctx, running)
            record(beside, result, seconds, {"stage": stage.name, "waited": waited})
    return stages


def _description(p: PipelineParams, values: dict, prompt: dict) -> str:
    description = values["description"] + f"; prompt preset {prompt.get('domain')}"
    if prompt.get("item_fields"):
        description += f" (item text: {', '.join(prompt['item_fields'])})"
    if p.overrides:
        changed = ", ".join(f"{stage}.{key}={json.dumps(value)}" for stage, kv in sorted(p.overrides.items())
                            for key, value in sorted(kv.items()))
        description += f". This run overrides these profile values (they win over the text above): {changed}"
    return description


def _diagnose(ctx: JobContext, plan: list[Stage], pool: np.ndarray) -> dict:
    """Beam diagnosis of the BETag systems (what their beams reproduce), and the oracle with as many successors
    as BETag has beams."""
    by_name = {s.name: s.params for s in plan}
    finetune, betag = FinetuneParams(**by_name[FINETUNE]), BetagParams(**by_name[BETAG])
    with ctx.session() as s:
        if finetune.base_system not in list_system_names(s):
            return {}
        result = diagnose(s, [BETAG, BETAG_NOFT, BETAG_PAPER], pool, base_system=finetune.base_system,
                          oracle_m=betag.m, max_tags_per_item=finetune.max_tags_per_item, seed=ctx.settings.seed)
    for b in result.beams:
        ctx.log(b.line())
    return result.as_dict()


def report_paths(settings, dataset: str, profile: str, report_name: str | None = None) -> tuple[Path, Path]:
    """Where a pipeline run's report lands (Markdown, JSON)."""
    name = report_name or default_report_name(dataset, profile)
    return settings.reports_dir / f"{name}.md", settings.reports_dir / f"{name}.json"
