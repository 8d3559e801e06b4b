"""Grid search on validation, best configuration on test, for one system and retriever over its tasks.

What it evaluates: every grid point (``protocol.grid``: BM25 k1 x b, BiRank alpha = beta, each user-based one
with both history weightings) on the validation cases, at most ``EvalConfig.max_validation_cases`` of them (a
seeded sample, the same for every system); the best point per task (validation NDCG@k, then HR@k, then grid
order) on every test case. Grid points that share an operator are scored together across tasks, so BiRank
builds one operator per alpha for both tasks, and BM25 one per (k1, b).

Each (grid point, task) is a cell with a stable key: ``done`` skips cells finished earlier and ``on_cell``
hears each new one, which is how the evaluate job checkpoints and resumes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import scipy.sparse as sp

from betag_engine.evaluation.metrics import Metrics, summarize
from betag_engine.evaluation.protocol import CellCallback, EvalConfig, EvalResult, Prepared, align, cell_key, grid
from betag_engine.evaluation.scoring import SystemScorer, index_key
from betag_engine.evaluation.uncertainty import CaseValues
from betag_engine.types import TagMatrix


def _grouped(cells: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    """Cells ordered so that those sharing an operator are adjacent (first appearance order kept)."""
    order: dict[tuple, list] = {}
    for task, params in cells:
        order.setdefault(index_key(params), []).append((task, params))
    return [c for group in order.values() for c in group]


def evaluate_system(
    prepared: Prepared, tag_matrix: TagMatrix | None, retriever: str, tasks: Sequence[str],
    config: EvalConfig = EvalConfig(), system: str = "", done: Mapping[str, dict] | None = None,
    on_cell: CellCallback | None = None, status: Callable[[str], None] | None = None,
) -> dict[str, EvalResult]:
    """Grid-search ``retriever`` for each task on validation, then score each task's best point on test.

    Args:
        prepared: from ``protocol.prepare`` (shared by the systems compared), or a subset of it.
        tag_matrix: the system's A (re-aligned onto ``prepared.item_ids`` if needed); None only for Popular.
        retriever, tasks: "bm25" | "birank" | "popular"; among "user", "item".
        config: protocol settings.
        system: name used in cell keys and results.
        done: cell key -> payload of cells finished earlier (a resumed job skips them).
        on_cell: called with (cell key, payload) after each newly computed cell.
        status: called with a short line before slow steps.

    Returns:
        task -> :class:`EvalResult` with test metrics, their standard errors and per-case values.
    """
    done = dict(done or {})
    if tag_matrix is None:
        tag_matrix = TagMatrix(sp.csr_matrix((len(prepared.item_ids), 0)), prepared.item_ids, [])
    scorer = SystemScorer(prepared, align(tag_matrix, prepared.item_ids), retriever, config, status)
    fingerprint = prepared.fingerprint("test")
    fresh: dict[str, CaseValues] = {}  # this run's per-case test values, in full precision

    def cell(task: str, params: dict, phase: str) -> dict:
        key = cell_key(system, retriever, task, "test" if phase == "test" else params, prepared.label)
        payload = done.get(key)
        if payload is None or (phase == "test" and "test_cases" not in payload):
            hr, ndcg = scorer.case_metrics(params, phase, task, config)
            payload = {"params": params, "phase": phase, **summarize(hr, ndcg, config.k).as_dict()}
            if phase == "test":
                fresh[key] = CaseValues(hr, ndcg, fingerprint)
                payload["test_cases"] = fresh[key].as_dict()
            done[key] = payload
            if on_cell is not None:
                on_cell(key, payload)
        return payload

    grids = {task: grid(retriever, task, config) for task in tasks}
    validation: dict[tuple, dict] = {}
    leader: dict[str, tuple] = {}  # task -> (rank, cell) of its best validation cell so far
    for task, p in _grouped([(t, p) for t in tasks for p in grids[t]]):
        payload = cell(task, p, "validation")
        validation[(task, index_key(p), p.get("weighting"))] = payload
        rank = (payload["ndcg"], payload["hr"], -grids[task].index(p))
        if task not in leader or rank > leader[task][0]:
            leader[task] = (rank, payload)
        scorer.keep({index_key(c["params"]) for _, c in leader.values()})
    best = {task: leader[task][1] for task in tasks}
    scorer.forget_queries("validation")
    tests = {task: cell(task, params, "test") for task, params in _grouped([(t, best[t]["params"]) for t in tasks])}
    out = {}
    for task in tasks:
        cells = [validation[(task, index_key(p), p.get("weighting"))] for p in grids[task]]
        key = cell_key(system, retriever, task, "test", prepared.label)
        out[task] = EvalResult(
            system, retriever, task, dict(best[task]["params"]), Metrics.from_dict(best[task]),
            Metrics.from_dict(tests[task]), [{"params": c["params"], "hr": c["hr"], "ndcg": c["ndcg"]} for c in cells],
            fresh.get(key) or CaseValues.from_dict(tests[task]["test_cases"]))
    return out


def evaluate(
    prepared: Prepared, tag_matrix: TagMatrix | None, retriever: str, task: str,
    config: EvalConfig = EvalConfig(), system: str = "", done: Mapping[str, dict] | None = None,
    on_cell: CellCallback | None = None,
) -> EvalResult:
    """One task of :func:`evaluate_system` (best params by validation NDCG@k, then HR@k, then grid order)."""
    return evaluate_system(prepared, tag_matrix, retriever, [task], config, system, done, on_cell)[task]

