"""The pipeline's evaluation: which systems, on which test cases, compared how.

One split and one negative sample serve three tables: every test case, the cases whose target is warm, and the
cases whose target is cold (a seeded share of the evaluated items whose interactions every behaviour stage and
Popular's counts left out). BETag's wins are paired differences over the same cases: a difference within two
standard errors is a tie (``evaluation.uncertainty``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from betag_engine.catalog.store import list_system_names, tag_matrix, user_sequences
from betag_engine.evaluation.protocol import EvalConfig, prepare
from betag_engine.evaluation.stats import tag_stats
from betag_engine.evaluation.table import Table, evaluate_table
from betag_engine.experiments.profiles import Stage
from betag_engine.jobs.runner import JobContext
from betag_engine.retrieval.popular import popularity
from betag_engine.tagging.betag import BetagParams
from betag_engine.vocabulary import (
    ABLATION_SYSTEMS,
    BETAG,
    BETAG_JOB,
    NO_SYSTEM,
    POPULAR,
    POPULAR_LABEL,
    TABLE2_SYSTEMS,
    TAG_RETRIEVERS,
    TASKS,
)

ALL_CASES, WARM_CASES, COLD_CASES = "all", "warm", "cold"
METRICS = ("hr", "ndcg")


def cold_items(pool: Sequence[int], share: float, seed: int) -> list[int]:
    """A seeded ``share`` of the pool (sorted ids), the same for every run with the same pool and seed."""
    pool = sorted(int(i) for i in pool)
    n = int(round(share * len(pool)))
    if n <= 0:
        return []
    rng = np.random.default_rng([seed, 7])  # 7: a stream of its own, apart from the negatives' draws
    return sorted(int(i) for i in rng.choice(pool, size=n, replace=False))


def evaluated_systems(plan: list[Stage]) -> list[str]:
    """Table 2, the ablations (with the one-beam system of the sweep) and the beam sweep's systems, in order."""
    betag = BetagParams(**{s.name: s.params for s in plan}[BETAG])
    sweep = [betag.sweep_system(m) for m in betag.sweep]
    seeds = [s.name for s in plan if s.kind == BETAG_JOB and s.name.startswith(f"{BETAG}-s")]
    return list(dict.fromkeys([*TABLE2_SYSTEMS, *ABLATION_SYSTEMS, betag.sweep_system(1), *sweep, *seeds]))


def evaluate_pipeline(ctx: JobContext, plan: list[Stage], pool: np.ndarray, cold: Sequence[int],
                      exclude: set[str] = frozenset()) -> dict:
    """Tables (all / warm / cold targets), tag statistics and BETag's paired comparisons; ``exclude``: systems
    left out (those of stages not finished, whose tags may be partial)."""
    with ctx.session() as s:
        known = set(list_system_names(s)) - set(exclude)
        systems = {n: tag_matrix(s, n, item_ids=pool) for n in evaluated_systems(plan) if n in known}
        sequences = user_sequences(s)
    systems = {n: tm for n, tm in systems.items() if tm.matrix.nnz}  # a catalog without native tags: no row
    config = EvalConfig(seed=ctx.settings.seed)
    prepared = prepare(pool, sequences, config)
    if cold:
        held = set(int(i) for i in cold)
        train = {u: [i for i in seq if i not in held] for u, seq in prepared.split.train.items()}
        prepared = prepared.with_popularity(popularity(train, pool))

    def progress(done: int, total: int, msg: str) -> None:
        if done % 25 == 0 or done == total:
            ctx.log(f"evaluation {done}/{total} {msg}")

    tables = {ALL_CASES: evaluate_table(systems, None, config=config, prepared=prepared, progress=progress)}
    if cold:
        tables[WARM_CASES] = evaluate_table(systems, None, config=config, progress=progress,
                                            prepared=prepared.by_target(cold, complement=True, label=WARM_CASES))
        tables[COLD_CASES] = evaluate_table(systems, None, config=config, progress=progress,
                                            prepared=prepared.by_target(cold, label=COLD_CASES))
    coverage = {n: float((np.diff(tm.matrix.indptr) > 0).mean()) for n, tm in systems.items()}
    return {"tables": tables, "stats": {n: tag_stats(tm).as_dict(top=10) for n, tm in systems.items()},
            "coverage": coverage, "cold_items": [int(i) for i in cold],
            "comparisons": {k: comparisons(t) for k, t in tables.items()}}


def comparisons(table: Table, system: str = BETAG, baselines: Sequence[str] | None = None) -> list[dict]:
    """``system`` against each baseline, per retriever, task and metric, as paired differences on the same cases.

    Tag baselines are compared with the same retriever; Popular with each of the system's retrievers. Each entry:
    baseline, retriever, task, metric, mean, se, n, and verdict (win / tie / loss beyond two standard errors).
    """
    have = {(r.system, r.retriever) for r in table.rows}
    baselines = [b for b in (baselines or (POPULAR_LABEL, *TABLE2_SYSTEMS)) if b != system]
    out = []
    for retriever in TAG_RETRIEVERS:
        if (system, retriever) not in have:
            continue
        for base in baselines:
            other = (NO_SYSTEM, POPULAR) if base == POPULAR_LABEL else (base, retriever)
            if other not in have:
                continue
            for task in TASKS:
                for metric in METRICS:
                    d = table.difference((system, retriever), other, task, metric)
                    verdict = "tie" if d.is_tie() else ("win" if d.mean > 0 else "loss")
                    out.append({"system": system, "baseline": base, "retriever": retriever, "task": task,
                                **d.as_dict(), "verdict": verdict})
    return out
