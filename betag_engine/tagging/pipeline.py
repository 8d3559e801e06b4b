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

from betag_engine.jobs.runner import JobContext, run_job
from betag_engine.tagging.profiles import (
    DEFAULT_PROFILE,
    OVERRIDE_STAGES,
    PROFILES,
    default_report_name,
    stage_plan,
)
from betag_engine.tagging.report import build_report, write_report
from betag_engine.vocabulary import (
    ABLATION_SYSTEMS,
    BEAM_SWEEP_PREFIX,
    BETAG,
    BETAG_NOFT,
    BUILTIN_DATASETS,
    DEFAULT_DATASET,
    FINETUNE,
    PIPELINE_REPORT,
    TABLE2_SYSTEMS,
)


@dataclass
class PipelineParams:
    dataset: str = field(default=DEFAULT_DATASET, metadata={"help": "Built-in catalog imported into an empty "
                                                                    "database: " + " | ".join(BUILTIN_DATASETS)})
    profile: str = field(default=DEFAULT_PROFILE, metadata={"help": "Stage parameters: " + " | ".join(PROFILES)})
    overrides: dict[str, dict] = field(default_factory=dict, metadata={
        "help": "Changed stage parameters, {stage: {param: value}}; stages " + ", ".join(OVERRIDE_STAGES)})
    report_name: str | None = field(default=None, metadata={
        "help": f"Report file name (default: {default_report_name('<dataset>', '<profile>')})."})

    def __post_init__(self) -> None:
        if self.dataset not in BUILTIN_DATASETS:
            raise ValueError(f"dataset must be one of {', '.join(BUILTIN_DATASETS)}, got {self.dataset!r}")
        stage_plan(self.profile, self.overrides)  # refuses an unknown profile or stage


def _run_stage(ctx: JobContext, kind: str, params: dict) -> dict:
    from betag_engine.jobs.registry import handler_for

    fn = handler_for(kind)
    return run_job(kind, params, lambda c: fn(c, params), name=f"pipeline:{params.get('system', kind)}",
                   url=ctx.url, progress_bar=ctx._progress_bar)


def pipeline_job(ctx: JobContext, params: dict) -> dict:
    """Job kind "pipeline"."""
    p = PipelineParams(**params)
    dataset, profile = p.dataset, p.profile
    plan = stage_plan(profile, p.overrides)
    from betag_engine.catalog.movielens import ensure_builtin

    with ctx.session() as s:  # no ctx.log inside: it writes through another connection while this one holds
        summary = ensure_builtin(s, dataset)  # SQLite's write lock
    if summary is not None:
        ctx.log(f"imported the built-in {dataset}: {summary.items_added} items, "
                f"{summary.interactions_added} interactions")
    payloads = ctx.unit_payloads()
    ctx.set_total(len(plan) + 1, f"pipeline {profile}")
    stages: dict[str, dict] = {}
    for n, (name, kind, stage_params) in enumerate(plan):
        unit = f"stage-{name}"
        if unit in payloads:
            stages[name] = payloads[unit]
            continue
        ctx.progress(n, f"stage {name}")
        start = time.perf_counter()
        result = _run_stage(ctx, kind, stage_params)
        stages[name] = {"kind": kind, "params": stage_params, "result": json.loads(json.dumps(result, default=str)),
                        "seconds": round(time.perf_counter() - start, 1)}
        with ctx.session() as s:
            ctx.commit_units(s, [unit], stages[name])
    ctx.progress(len(plan), "evaluation")
    start = time.perf_counter()
    table, stats, pool = _evaluate(ctx, profile, plan)
    diagnosis = _diagnose(ctx, plan, pool)
    eval_seconds = round(time.perf_counter() - start, 1)
    description = PROFILES[profile]["description"]
    if p.overrides:
        changed = ", ".join(f"{stage}.{key}={json.dumps(value)}" for stage, kv in sorted(p.overrides.items())
                            for key, value in sorted(kv.items()))
        description += f". This run overrides these profile values (they win over the text above): {changed}"
    report = build_report(dataset, profile, description, plan, stages, table, stats, eval_seconds, n_pool=len(pool))
    report["diagnosis"] = diagnosis
    name = p.report_name or default_report_name(dataset, profile)
    paths = write_report(report, name)
    with ctx.session() as s:
        from db.models import Report

        row = Report(kind=PIPELINE_REPORT, name=name, dataset=dataset, payload=report)
        s.add(row)
        s.commit()
        report_id = row.id
    ctx.progress(len(plan) + 1, "done")
    return {"report_id": report_id, **{k: str(v) for k, v in paths.items()},
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds")}


def _evaluate(ctx: JobContext, profile: str, plan):
    from betag_engine.catalog.store import all_item_ids, list_system_names, tag_matrix, user_sequences
    from betag_engine.evaluation.stats import tag_stats
    from betag_engine.evaluation.table import evaluate_table
    from betag_engine.tagging.common import select_items

    limit = PROFILES[profile]["limit"]
    with ctx.session() as s:
        pool = np.array(sorted(select_items(s, {"limit": limit})), dtype=np.int64) if limit else all_item_ids(s)
        betag = {name: p for name, _kind, p in plan}[BETAG]
        prefix = betag.get("sweep_prefix", BEAM_SWEEP_PREFIX)
        sweep = [f"{prefix}{m}" for m in betag.get("sweep", [])]
        wanted = list(dict.fromkeys([*TABLE2_SYSTEMS, *ABLATION_SYSTEMS, f"{prefix}1", *sweep]))
        known = set(list_system_names(s))
        systems = {n: tag_matrix(s, n, item_ids=pool) for n in wanted if n in known}
        sequences = user_sequences(s)

    def progress(done: int, total: int, msg: str) -> None:
        if done % 10 == 0 or done == total:
            ctx.log(f"evaluation {done}/{total} {msg}")

    table = evaluate_table(systems, sequences, item_ids=pool, progress=progress, dataset=profile)
    stats = {n: tag_stats(tm).as_dict(top=10) for n, tm in systems.items()}
    return table, stats, pool


def _diagnose(ctx: JobContext, plan, pool) -> dict:
    """Beam diagnosis of betag and betag-noft, and oracle BETags with as many successors as BETag has beams."""
    from betag_engine.catalog.store import list_system_names
    from betag_engine.tagging.diagnosis import diagnose

    params = {name: p for name, _kind, p in plan}
    with ctx.session() as s:
        if params[FINETUNE]["base_system"] not in list_system_names(s):
            return {}
        result = diagnose(s, [BETAG, BETAG_NOFT], pool, base_system=params[FINETUNE]["base_system"],
                          oracle_m=int(params[BETAG].get("m", 10)),
                          max_tags_per_item=int(params[FINETUNE].get("max_tags_per_item", 8)))
    for b in result.beams:
        ctx.log(b.line())
    return result.as_dict()
