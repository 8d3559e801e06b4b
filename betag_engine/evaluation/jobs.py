"""The resumable "evaluate" job: every grid cell is a checkpoint unit; the final table becomes a Report row."""

from __future__ import annotations

import time
from dataclasses import fields

from betag_engine.evaluation.data import load_inputs, save_report
from betag_engine.evaluation.protocol import TASKS, EvalConfig
from betag_engine.evaluation.stats import tag_stats
from betag_engine.evaluation.table import Table, evaluate_table, format_table
from betag_engine.jobs.runner import JobContext

PROGRESS_EVERY_S = 0.5


def config_from_params(params: dict) -> EvalConfig:
    """EvalConfig from job/CLI params (unknown keys are ignored here; lists become tuples)."""
    known = {f.name for f in fields(EvalConfig)}
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items() if k in known and v is not None}
    return EvalConfig(**values)


def evaluation_payload(table: Table, stats: dict) -> dict:
    """What a Report stores: the table (rows, chosen params, grid, metadata) and tag statistics per system."""
    return {**table.as_dict(), "tag_stats": stats, "text": format_table(table)}


def evaluate_job(ctx: JobContext, params: dict) -> dict:
    """Run the evaluation table as a job.

    Params (all optional): systems (list of names; default every system with tags), retrievers
    (default ["bm25", "birank"]), tasks (default ["user", "item"]), include_popular (default true), name,
    dataset (label; default from the database), and
    any :class:`EvalConfig` field (k, n_negatives, seed, ties, bm25_k1, bm25_b, birank_values, weightings).

    Returns:
        {"report_id", "dataset", "rows": [{system, retriever, task metrics and params}], "elapsed_s"}.
    """
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
        inputs.systems, inputs.sequences, params.get("retrievers") or ("bm25", "birank"),
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
