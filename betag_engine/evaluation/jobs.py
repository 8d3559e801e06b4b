"""The resumable "evaluate" job: every grid cell is a checkpoint unit; the final table becomes a Report row."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, fields

from betag_engine.evaluation.data import load_inputs, save_report
from betag_engine.evaluation.protocol import EvalConfig
from betag_engine.evaluation.stats import tag_stats
from betag_engine.evaluation.table import Table, evaluate_table, format_table
from betag_engine.jobs.runner import JobContext
from betag_engine.vocabulary import TAG_RETRIEVERS, TASKS

PROGRESS_EVERY_S = 0.5


@dataclass(frozen=True)
class EvaluateParams(EvalConfig):
    """The protocol's settings (:class:`EvalConfig`) plus what to evaluate and how to name the report."""

    systems: list[str] | None = field(default=None, metadata={"help": "Tagging systems (default: every system "
                                                                        "with at least one tag)."})
    retrievers: list[str] | None = field(default=None, metadata={"help": "Among " + ", ".join(TAG_RETRIEVERS)
                                                                           + " (default: both)."})
    tasks: list[str] | None = field(default=None, metadata={"help": "Among " + ", ".join(TASKS)
                                                                      + " (default: both)."})
    include_popular: bool = field(default=True, metadata={"help": "Add the Popular baseline's row."})
    name: str = field(default="", metadata={"help": "Report name."})
    dataset: str = field(default="", metadata={"help": "Dataset label of the report (default: the native "
                                                         "system's params['dataset'], else the database name)."})

    def __post_init__(self) -> None:
        super().__post_init__()
        bad = [r for r in self.retrievers or () if r not in TAG_RETRIEVERS]
        if bad:
            raise ValueError(f"retrievers must be among {', '.join(TAG_RETRIEVERS)}, got {bad}")
        bad = [t for t in self.tasks or () if t not in TASKS]
        if bad:
            raise ValueError(f"tasks must be among {', '.join(TASKS)}, got {bad}")


def config_from_params(params: dict) -> EvalConfig:
    """EvalConfig from job/CLI params (unknown keys are ignored here; lists become tuples)."""
    known = {f.name for f in fields(EvalConfig)}
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items() if k in known and v is not None}
    return EvalConfig(**values)


def evaluation_payload(table: Table, stats: dict) -> dict:
    """What a Report stores: the table (rows, chosen params, grid, metadata) and tag statistics per system."""
    return {**table.as_dict(), "tag_stats": stats, "text": format_table(table)}


def evaluate_job(ctx: JobContext, params: dict) -> dict:
    """Job kind "evaluate" (parameters :class:`EvaluateParams`): run the evaluation table as a job.

    Returns:
        {"report_id", "dataset", "rows": [{system, retriever, task metrics and params}], "elapsed_s"}.
    """
    EvaluateParams(**params)  # refuses unknown or bad parameters before any work
    config = config_from_params(params)
    with ctx.session() as s:
        inputs = load_inputs(s, params.get("systems"))
    inputs.dataset = params.get("dataset") or inputs.dataset
    done = ctx.unit_payloads()
    ctx.log(f"evaluating {', '.join(inputs.systems) or 'no system'}; {len(done)} cells done earlier")
    last = {"t": 0.0}

    def on_cell(unit: str, payload: dict) -> None:
        with ctx.session() as s:
            ctx.commit_units(s, [unit], payload)

    def progress(n: int, total: int, message: str) -> None:
        if last["t"] == 0.0:
            ctx.set_total(total, "evaluate")
        now = time.monotonic()
        if now - last["t"] >= PROGRESS_EVERY_S or n >= total:
            last["t"] = now
            ctx.progress(n, message)

    table = evaluate_table(
        inputs.systems, inputs.sequences, params.get("retrievers") or TAG_RETRIEVERS,
        params.get("tasks") or TASKS, config, bool(params.get("include_popular", True)), inputs.dataset,
        item_ids=inputs.item_ids, done=done, on_cell=on_cell, progress=progress,
    )
    stats = {name: tag_stats(tm).as_dict() for name, tm in inputs.systems.items()}
    with ctx.session() as s:
        report_id = save_report(s, evaluation_payload(table, stats), params.get("name", ""), inputs.dataset)
        s.commit()
    ctx.log(format_table(table))
    return {"report_id": report_id, "dataset": inputs.dataset, "elapsed_s": table.meta["elapsed_s"],
            "rows": [{"system": r.system, "retriever": r.retriever,
                      **{f"{t}_{m}": r.metric(t, m) for t in r.results for m in ("hr", "ndcg")},
                      **{f"{t}_params": r.results[t].params for t in r.results}} for r in table.rows]}
