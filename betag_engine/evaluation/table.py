"""The paper's Table 2: rows = tagging system x retriever (plus Popular), columns user / item H@10 and N@10."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from betag_engine.evaluation.grid_search import evaluate_system
from betag_engine.evaluation.protocol import (
    CellCallback,
    EvalConfig,
    EvalResult,
    Prepared,
    cell_label,
    count_cells,
    prepare,
)
from betag_engine.evaluation.uncertainty import Difference, paired_difference
from betag_engine.retrieval.config import check_retriever
from betag_engine.types import TagMatrix
from betag_engine.vocabulary import NO_SYSTEM, POPULAR, POPULAR_LABEL, TAG_RETRIEVERS, TASKS

Progress = Callable[[int, int, str], None]


@dataclass
class TableRow:
    """One row: a system with a retriever, and its result per task (None where the task was not run)."""

    system: str
    retriever: str
    results: dict[str, EvalResult] = field(default_factory=dict)

    def metric(self, task: str, name: str) -> float | None:
        r = self.results.get(task)
        return None if r is None else getattr(r.test, name)


@dataclass
class Table:
    rows: list[TableRow]
    meta: dict

    def as_dict(self) -> dict:
        return {
            "meta": self.meta,
            "rows": [
                {"system": r.system, "retriever": r.retriever,
                 "results": {t: res.as_dict() for t, res in r.results.items()}}
                for r in self.rows
            ],
        }

    def row(self, system: str, retriever: str) -> TableRow:
        """The row of (system, retriever); Popular's row is (``NO_SYSTEM``, "popular")."""
        for r in self.rows:
            if r.system == system and r.retriever == retriever:
                return r
        known = ", ".join(f"{r.system}/{r.retriever}" for r in self.rows)
        raise KeyError(f"no row {system}/{retriever} (rows: {known})")

    def difference(self, a: tuple[str, str], b: tuple[str, str], task: str, metric: str = "ndcg") -> Difference:
        """Paired test difference row a - row b on ``task`` (rows as (system, retriever)), with its standard
        error: ``table.difference(("betag", "bm25"), ("-", "popular"), "user").describe("BETag", "Popular")``."""
        return paired_difference(self.row(*a).results[task], self.row(*b).results[task], metric)


def evaluate_table(
    systems: Mapping[str, TagMatrix],
    sequences: Mapping[int, list[int]] | None,
    retrievers: Sequence[str] = TAG_RETRIEVERS,
    tasks: Sequence[str] = TASKS,
    config: EvalConfig = EvalConfig(),
    include_popular: bool = True,
    dataset: str = "",
    item_ids: np.ndarray | None = None,
    done: Mapping[str, dict] | None = None,
    on_cell: CellCallback | None = None,
    progress: Progress | None = None,
    prepared: Prepared | None = None,
    popularity: np.ndarray | None = None,
) -> Table:
    """Evaluate every system with every retriever on every task, on one shared split and negative sample.

    Args:
        systems: name -> TagMatrix (each re-aligned onto the pool).
        sequences: user -> item ids, oldest first (ignored, may be None, when ``prepared`` is given).
        retrievers: among "bm25", "birank" ("popular" here is the same as include_popular).
        tasks: among "user", "item".
        config: protocol settings (seed, negatives, grids, ties, validation sample size).
        include_popular: add the Popular row (system "-").
        dataset: a label stored in the metadata.
        item_ids: the candidate pool; default the first system's rows (every catalog item for store matrices).
        done / on_cell: resume support, see :func:`grid_search.evaluate_system`.
        progress: called with (cells done, cells total, message), from before the first case is prepared.
        prepared: a split with its candidates from ``protocol.prepare`` to reuse, or a subset of one
            (``Prepared.by_target``): tables over a subset and its complement then share split and negatives.
        popularity: Popular's scores per pool item instead of the split's train counts (when ``prepared`` is
            given, use ``prepared.with_popularity``).

    Returns:
        :class:`Table` with rows in the order systems x retrievers, then Popular, and metadata.
    """
    for r in retrievers:
        check_retriever(r)
    bad = [t for t in tasks if t not in TASKS]
    if bad:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, got {bad}")
    include_popular = include_popular or POPULAR in retrievers
    retrievers = [r for r in retrievers if r != POPULAR]
    started = time.perf_counter()
    total = count_cells(len(systems), retrievers, list(tasks), config, include_popular)
    done_cells = dict(done or {})
    counter = {"n": 0}
    say = (lambda msg: progress(min(len(done_cells), total), total, msg)) if progress else (lambda _msg: None)
    if prepared is None:
        if item_ids is None:
            if not systems:
                raise ValueError("evaluate_table needs item_ids when no system is given")
            item_ids = next(iter(systems.values())).item_ids
        say("preparing the split")
        prepared = prepare(item_ids, sequences, config, popularity=popularity, progress=say)
    elif popularity is not None:
        prepared = prepared.with_popularity(popularity)

    def track(key: str, payload: dict) -> None:
        done_cells[key] = payload
        if on_cell is not None:
            on_cell(key, payload)
        counter["n"] += 1
        say(cell_label(key))

    plan = [(name, tm, r) for name, tm in systems.items() for r in retrievers]
    if include_popular:
        plan.append((NO_SYSTEM, None, POPULAR))
    rows = []
    for name, tm, retriever in plan:
        say(cell_label(f"{name}|{retriever}"))
        results = evaluate_system(prepared, tm, retriever, list(tasks), config, name, done_cells, track, say)
        rows.append(TableRow(name, retriever, results))
    meta = {
        "dataset": dataset, "config": asdict(config), "seed": config.seed,
        "n_items": int(len(prepared.item_ids)), "n_users": prepared.n_users,
        "n_interactions": prepared.n_interactions, "n_validation_cases": prepared.n_cases("validation"),
        "n_test_cases": prepared.n_cases("test"), "n_short_users": len(prepared.split.short_users),
        "n_grid_cases": int(len(prepared.grid_rows(config))), "subset": prepared.label,
        "cases_fingerprint": prepared.fingerprint("test"),
        "systems": list(systems), "retrievers": list(retrievers) + ([POPULAR] if include_popular else []),
        "tasks": list(tasks), "cells_computed": counter["n"], "elapsed_s": round(time.perf_counter() - started, 3),
    }
    return Table(rows, meta)


def _fmt(v: float | None) -> str:
    return "   -  " if v is None else f"{v:.4f}"


def _params_label(params: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in params.items()) or "-"


def format_table(table: Table) -> str:
    """Plain-text table shaped like the paper's Table 2 (test metrics; chosen params after the columns)."""
    k = table.meta.get("config", {}).get("k", 10)
    name_w = max([len(f"{r.system} / {r.retriever}") for r in table.rows] + [16])
    head = (f"{'system / retriever':<{name_w}}  {'user H@' + str(k):>8} {'user N@' + str(k):>8}  "
            f"{'item H@' + str(k):>8} {'item N@' + str(k):>8}  chosen params (user | item)")
    lines = [head, "-" * len(head)]
    for r in table.rows:
        label = POPULAR_LABEL if r.retriever == POPULAR else f"{r.system} / {r.retriever}"
        params = " | ".join(_params_label(r.results[t].params) if t in r.results else "-" for t in TASKS)
        lines.append(
            f"{label:<{name_w}}  {_fmt(r.metric('user', 'hr')):>8} {_fmt(r.metric('user', 'ndcg')):>8}  "
            f"{_fmt(r.metric('item', 'hr')):>8} {_fmt(r.metric('item', 'ndcg')):>8}  {params}"
        )
    m = table.meta
    lines.append(
        f"dataset={m.get('dataset') or '?'} items={m['n_items']} users={m['n_users']} "
        f"test cases={m['n_test_cases']} negatives={m['config']['n_negatives']} seed={m['seed']} "
        f"ties={m['config']['ties']} time={m['elapsed_s']}s"
    )
    return "\n".join(lines)
