"""The whole experiment as one resumable job: import -> base -> TagGPT -> finetune -> BETag (+ ablations and
beam sweep) -> evaluation -> report (markdown + JSON under ``Settings.reports_dir`` and a Report row).

Job kind "pipeline", parameters :class:`PipelineParams`. Each stage runs as its own job (its own checkpoints, so a
rerun skips finished items/epochs); the pipeline checkpoints finished stages (unit ``stage-<name>``) with their
result and run time.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from betag_engine.catalog.movielens import ensure_builtin
from betag_engine.catalog.store import all_item_ids, list_system_names, tag_matrix, user_sequences
from betag_engine.evaluation.protocol import EvalConfig
from betag_engine.evaluation.stats import tag_stats
from betag_engine.evaluation.table import Table, evaluate_table
from betag_engine.experiments.diagnosis import diagnose
from betag_engine.experiments.profiles import (
    DEFAULT_PROFILE,
    OVERRIDE_STAGES,
    PROFILES,
    Stage,
    check_profile,
    default_report_name,
    stage_plan,
)
from betag_engine.experiments.report import pipeline_report, write_report
from betag_engine.jobs.registry import run_kind
from betag_engine.jobs.runner import JobContext
from betag_engine.tagging.betag import BetagParams
from betag_engine.tagging.common import select_items
from betag_engine.tagging.finetune import FinetuneParams
from betag_engine.vocabulary import (
    ABLATION_SYSTEMS,
    BETAG,
    BETAG_NOFT,
    BUILTIN_DATASETS,
    DEFAULT_DATASET,
    FINETUNE,
    PIPELINE_REPORT,
    TABLE2_SYSTEMS,
)
from db.models import Report


@dataclass
class PipelineParams:
    dataset: str = field(default=DEFAULT_DATASET, metadata={"help": "Built-in catalog imported into an empty "
                                                                    "database: " + " | ".join(BUILTIN_DATASETS)})
    profile: str = field(default=DEFAULT_PROFILE, metadata={"help": "Stage parameters: " + " | ".join(PROFILES)})
    overrides: dict[str, dict] = field(default_factory=dict, metadata={
        "help": "Changed stage parameters, {section: {param: value}}; sections " + ", ".join(OVERRIDE_STAGES)})
    report_name: str | None = field(default=None, metadata={
        "help": f"Report file name (default: {default_report_name('<dataset>', '<profile>')})."})

    def __post_init__(self) -> None:
        if self.dataset not in BUILTIN_DATASETS:
            raise ValueError(f"dataset must be one of {', '.join(BUILTIN_DATASETS)}, got {self.dataset!r}")
        check_profile(self.profile, self.overrides)


def _run_stage(ctx: JobContext, stage: Stage) -> dict:
    return run_kind(stage.kind, stage.params, ctx.settings, name=f"pipeline:{stage.params.get('system', stage.kind)}",
                    progress_bar=ctx.progress_bar)


def pipeline_job(ctx: JobContext, params: dict) -> dict:
    """Job kind "pipeline"."""
    p = PipelineParams(**params)
    plan = stage_plan(p.profile, ctx.settings.seed, p.overrides)
    summary = ensure_builtin(ctx.url, p.dataset)  # the import commits its own (short) transactions
    if summary is not None:
        ctx.log(f"imported the built-in {p.dataset}: {summary.items_added} items, "
                f"{summary.interactions_added} interactions")
    stages = _run_stages(ctx, plan, p.profile)
    ctx.progress(len(plan), "evaluation")
    start = time.perf_counter()
    table, stats, pool = _evaluate(ctx, p.profile, plan)
    diagnosis = _diagnose(ctx, plan, pool)
    eval_seconds = round(time.perf_counter() - start, 1)
    report = pipeline_report(p.dataset, p.profile, _description(p), stages, table, stats, eval_seconds,
                             n_pool=len(pool))
    report["diagnosis"] = diagnosis
    name = p.report_name or default_report_name(p.dataset, p.profile)
    paths = write_report(report, name, ctx.settings.reports_dir)
    with ctx.session() as s:
        row = Report(kind=PIPELINE_REPORT, name=name, dataset=p.dataset, payload=report)
        s.add(row)
        s.flush()
        report_id = row.id
    ctx.progress(len(plan) + 1, "done")
    return {"report_id": report_id, **{k: str(v) for k, v in paths.items()},
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds")}


def _run_stages(ctx: JobContext, plan: list[Stage], profile: str) -> dict[str, dict]:
    """Run each stage not finished earlier; returns stage name -> {kind, params, result, seconds}."""
    payloads = ctx.unit_payloads()
    ctx.set_total(len(plan) + 1, f"pipeline {profile}")
    stages: dict[str, dict] = {}
    for n, stage in enumerate(plan):
        unit = f"stage-{stage.name}"
        if unit in payloads:
            stages[stage.name] = payloads[unit]
            continue
        ctx.progress(n, f"stage {stage.name}")
        start = time.perf_counter()
        result = _run_stage(ctx, stage)
        stages[stage.name] = {"kind": stage.kind, "params": stage.params,
                              "result": json.loads(json.dumps(result, default=str)),
                              "seconds": round(time.perf_counter() - start, 1)}
        with ctx.session() as s:
            ctx.mark_done(s, {unit: stages[stage.name]})
    return stages


def _description(p: PipelineParams) -> str:
    description = PROFILES[p.profile]["description"]
    if p.overrides:
        changed = ", ".join(f"{stage}.{key}={json.dumps(value)}" for stage, kv in sorted(p.overrides.items())
                            for key, value in sorted(kv.items()))
        description += f". This run overrides these profile values (they win over the text above): {changed}"
    return description


def _evaluated_systems(plan: list[Stage]) -> list[str]:
    """Table 2, the ablations (with the one-beam system of the sweep) and the beam sweep's systems, in that order."""
    betag = BetagParams(**{s.name: s.params for s in plan}[BETAG])
    sweep = [f"{betag.sweep_prefix}{m}" for m in betag.sweep]
    return list(dict.fromkeys([*TABLE2_SYSTEMS, *ABLATION_SYSTEMS, f"{betag.sweep_prefix}1", *sweep]))


def _evaluate(ctx: JobContext, profile: str, plan: list[Stage]) -> tuple[Table, dict, np.ndarray]:
    limit = PROFILES[profile]["limit"]
    with ctx.session() as s:
        pool = np.array(sorted(select_items(s, {"limit": limit})), dtype=np.int64) if limit else all_item_ids(s)
        known = set(list_system_names(s))
        systems = {n: tag_matrix(s, n, item_ids=pool) for n in _evaluated_systems(plan) if n in known}
        sequences = user_sequences(s)

    def progress(done: int, total: int, msg: str) -> None:
        if done % 10 == 0 or done == total:
            ctx.log(f"evaluation {done}/{total} {msg}")

    table = evaluate_table(systems, sequences, config=EvalConfig(seed=ctx.settings.seed), item_ids=pool,
                           progress=progress, dataset=profile)
    stats = {n: tag_stats(tm).as_dict(top=10) for n, tm in systems.items()}
    return table, stats, pool


def _diagnose(ctx: JobContext, plan: list[Stage], pool: np.ndarray) -> dict:
    """Beam diagnosis of betag and betag-noft, and oracle BETags with as many successors as BETag has beams."""
    by_name = {s.name: s.params for s in plan}
    finetune, betag = FinetuneParams(**by_name[FINETUNE]), BetagParams(**by_name[BETAG])
    with ctx.session() as s:
        if finetune.base_system not in list_system_names(s):
            return {}
        result = diagnose(s, [BETAG, BETAG_NOFT], pool, base_system=finetune.base_system, oracle_m=betag.m,
                          max_tags_per_item=finetune.max_tags_per_item, seed=ctx.settings.seed)
    for b in result.beams:
        ctx.log(b.line())
    return result.as_dict()
