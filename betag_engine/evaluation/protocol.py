"""Evaluate one (tagging system, retriever, task): grid search on validation, best configuration on test.

Works on plain data (a TagMatrix and user sequences), so a caller can evaluate any subset of items or users.
All cases' queries form one sparse matrix and only the 1 + n_negatives candidate scores per case are kept.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from betag_engine.evaluation.metrics import TIE_POLICIES, Metrics, evaluate_scores
from betag_engine.evaluation.negatives import sample_negatives
from betag_engine.retrieval.birank import birank_basis
from betag_engine.retrieval.config import WEIGHTINGS, check_retriever
from betag_engine.retrieval.popular import popularity
from betag_engine.retrieval.queries import item_queries, user_queries
from betag_engine.retrieval.search import build_index, score_candidates
from betag_engine.settings import DEFAULT_SEED
from betag_engine.split import Split, leave_one_last, restrict_sequences
from betag_engine.types import TagMatrix
from betag_engine.vocabulary import BIRANK, BM25, ITEM_TASK, POPULAR, TASKS, USER_TASK

PHASES = ("validation", "test")


@dataclass(frozen=True)
class EvalConfig:
    """The protocol's knobs (BETag §4.1-4.2); saved with every result."""

    k: int = field(default=10, metadata={"help": "Cut-off of HR@k and NDCG@k."})
    n_negatives: int = field(default=100, metadata={"help": "Sampled negatives per case."})
    seed: int = field(default=DEFAULT_SEED, metadata={"help": "Seed of the negative sampling (the evaluate "
                                                              "command and job use BETAG_SEED unless given)."})
    ties: str = field(default="expected", metadata={"help": "Tie policy: expected | pessimistic | optimistic."})
    bm25_k1: tuple[float, ...] = field(default=(0.0, 0.5, 1.0, 1.5, 2.0),
                                       metadata={"help": "BM25 k1 values of the validation grid."})
    bm25_b: tuple[float, ...] = field(default=(0.0, 0.25, 0.5, 0.75),
                                      metadata={"help": "BM25 b values of the validation grid."})
    birank_values: tuple[float, ...] = field(default=tuple(round(float(v), 4) for v in np.linspace(0.1, 0.9, 10)),
                                             metadata={"help": "BiRank alpha = beta values of the validation grid."})
    weightings: tuple[str, ...] = field(default=WEIGHTINGS, metadata={"help": "History weightings tried for "
                                                                               "user-based retrieval (eqs. 7-8)."})

    def __post_init__(self) -> None:
        if self.k < 1 or self.n_negatives < 1:
            raise ValueError(f"k and n_negatives must be >= 1, got k={self.k}, n_negatives={self.n_negatives}")
        if self.ties not in TIE_POLICIES:
            raise ValueError(f"ties must be one of {', '.join(TIE_POLICIES)}, got {self.ties!r}")
        bad = [w for w in self.weightings if w not in WEIGHTINGS]
        if bad or not self.weightings:
            raise ValueError(f"weightings must be among {', '.join(WEIGHTINGS)}, got {list(self.weightings)}")


@dataclass
class Prepared:
    """Everything shared by every system evaluated on one item pool: split, candidates, queries' rows."""

    item_ids: np.ndarray
    split: Split
    candidates: dict[str, np.ndarray]  # phase -> rows, (n_cases, 1 + n_neg), column 0 the target
    histories: dict[str, list[np.ndarray]]  # phase -> history rows per case, oldest first
    popularity: np.ndarray  # train interaction counts per row
    n_users: int
    n_interactions: int


def prepare(item_ids: np.ndarray, sequences: Mapping[int, list[int]], config: EvalConfig) -> Prepared:
    """Restrict sequences to the pool, split them, sample negatives and map everything to row indices."""
    item_ids = np.asarray(item_ids, dtype=np.int64)
    if len(item_ids) and np.any(np.diff(item_ids) <= 0):
        raise ValueError("item_ids must be strictly ascending (TagMatrix row order)")
    seqs = restrict_sequences(sequences, item_ids)
    split = leave_one_last(seqs)
    candidates, histories = {}, {}
    for phase in PHASES:
        cases = split.cases(phase)
        neg = sample_negatives(cases, seqs, item_ids, config.n_negatives, config.seed, phase)
        ids = np.column_stack([np.array([c.target for c in cases], dtype=np.int64).reshape(-1, 1), neg])
        candidates[phase] = np.searchsorted(item_ids, ids)
        histories[phase] = [np.searchsorted(item_ids, np.asarray(c.history, dtype=np.int64)) for c in cases]
    pop = popularity(split.train, item_ids)
    return Prepared(item_ids, split, candidates, histories, pop, len(seqs), sum(len(s) for s in seqs.values()))


def align(tag_matrix: TagMatrix, item_ids: np.ndarray) -> TagMatrix:
    """Re-index a TagMatrix onto ``item_ids`` (missing items get empty rows, extra items are dropped)."""
    item_ids = np.asarray(item_ids, dtype=np.int64)
    if np.array_equal(tag_matrix.item_ids, item_ids):
        return tag_matrix
    src = {int(i): r for r, i in enumerate(tag_matrix.item_ids)}
    pairs = [(r, src[int(i)]) for r, i in enumerate(item_ids) if int(i) in src]
    sel = sp.csr_matrix((np.ones(len(pairs)), ([p[0] for p in pairs], [p[1] for p in pairs])),
                        shape=(len(item_ids), len(tag_matrix.item_ids)))
    return TagMatrix(sp.csr_matrix(sel @ tag_matrix.matrix), item_ids, list(tag_matrix.tags))


def grid(retriever: str, task: str, config: EvalConfig) -> list[dict]:
    """The validation grid: BM25 k1 x b, BiRank alpha = beta, times weightings for user-based BM25/BiRank."""
    check_retriever(retriever)
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    if retriever == POPULAR:
        return [{}]
    if retriever == BM25:
        base = [{"k1": float(k1), "b": float(b)} for k1 in config.bm25_k1 for b in config.bm25_b]
    else:
        base = [{"alpha": float(v), "beta": float(v)} for v in config.birank_values]
    if task == ITEM_TASK:
        return base
    return [{**p, "weighting": w} for p in base for w in config.weightings]


def cell_key(system: str, retriever: str, task: str, params: Mapping | str) -> str:
    """A stable unit name for one grid cell (or 'test') of one evaluation."""
    label = params if isinstance(params, str) else ",".join(f"{k}={v}" for k, v in sorted(params.items()))
    return f"{system}|{retriever}|{task}|{label or 'default'}"


class _Scorer:
    """Caches indexes (per retriever params) and query matrices (per phase and weighting) for one evaluation."""

    def __init__(self, prepared: Prepared, tm: TagMatrix, retriever: str, task: str):
        self.p, self.tm, self.retriever, self.task = prepared, tm, retriever, task
        self._basis = birank_basis(tm.matrix) if retriever == BIRANK else None
        self._indexes: dict[tuple, object] = {}
        self._queries: dict[tuple, sp.csr_matrix] = {}

    def queries(self, phase: str, weighting: str) -> sp.csr_matrix:
        key = (phase, weighting if self.task == USER_TASK else "")
        if key not in self._queries:
            hist = self.p.histories[phase]
            if self.task == ITEM_TASK:
                rows = np.array([h[-1] for h in hist], dtype=np.int64)
                self._queries[key] = item_queries(self.tm.matrix, rows)
            else:
                self._queries[key] = user_queries(self.tm.matrix, hist, weighting)
        return self._queries[key]

    def metrics(self, params: Mapping, phase: str, config: EvalConfig) -> Metrics:
        rparams = {k: v for k, v in params.items() if k != "weighting"}
        key = tuple(sorted(rparams.items()))
        if key not in self._indexes:
            self._indexes = {key: build_index(self.tm, self.retriever, rparams, popularity=self.p.popularity,
                                              basis=self._basis, method="dense")}
        q = self.queries(phase, params.get("weighting", "uniform"))
        scores = score_candidates(self._indexes[key], q, self.p.candidates[phase])
        return evaluate_scores(scores, config.k, config.ties)


@dataclass
class EvalResult:
    """Best validation configuration of one (system, retriever, task) and its test metrics."""

    system: str
    retriever: str
    task: str
    params: dict
    validation: Metrics
    test: Metrics
    grid: list[dict]

    def as_dict(self) -> dict:
        return {"system": self.system, "retriever": self.retriever, "task": self.task, "params": self.params,
                "validation": self.validation.as_dict(), "test": self.test.as_dict(), "grid": self.grid}


CellCallback = Callable[[str, dict], None]


def evaluate(
    prepared: Prepared, tag_matrix: TagMatrix | None, retriever: str, task: str,
    config: EvalConfig = EvalConfig(), system: str = "", done: Mapping[str, dict] | None = None,
    on_cell: CellCallback | None = None,
) -> EvalResult:
    """Grid-search ``retriever`` on validation, then score the best configuration on test.

    Args:
        prepared: from :func:`prepare` (shared by the systems compared).
        tag_matrix: the system's A on ``prepared.item_ids`` rows (re-aligned if not); None only for Popular.
        retriever, task: "bm25" | "birank" | "popular", "user" | "item".
        config: protocol settings.
        system: name used in unit keys and results.
        done: unit key -> payload of cells finished earlier (a resumed job skips them).
        on_cell: called with (unit key, payload) after each newly computed cell.

    Returns:
        :class:`EvalResult` (best params chosen by validation NDCG@k, then HR@k, then grid order).
    """
    done = dict(done or {})
    if tag_matrix is None:
        tag_matrix = TagMatrix(sp.csr_matrix((len(prepared.item_ids), 0)), prepared.item_ids, [])
    scorer = _Scorer(prepared, align(tag_matrix, prepared.item_ids), retriever, task)

    def cell(key: str, params: dict, phase: str) -> dict:
        if key not in done:
            m = scorer.metrics(params, phase, config)
            done[key] = {"params": params, "phase": phase, **m.as_dict()}
            if on_cell is not None:
                on_cell(key, done[key])
        return done[key]

    cells = [cell(cell_key(system, retriever, task, p), p, "validation") for p in grid(retriever, task, config)]
    best = max(enumerate(cells), key=lambda ic: (ic[1]["ndcg"], ic[1]["hr"], -ic[0]))[1]
    test = cell(cell_key(system, retriever, task, "test"), best["params"], "test")
    as_metrics = lambda c: Metrics(c["hr"], c["ndcg"], c["n_cases"], c["k"])  # noqa: E731
    return EvalResult(system, retriever, task, dict(best["params"]), as_metrics(best), as_metrics(test),
                      [{"params": c["params"], "hr": c["hr"], "ndcg": c["ndcg"]} for c in cells])


def count_cells(systems: int, retrievers: list[str], tasks: list[str], config: EvalConfig, popular: bool) -> int:
    """How many units :func:`evaluate_table` computes (for progress totals)."""
    per_system = sum(len(grid(r, t, config)) + 1 for r in retrievers if r != POPULAR for t in tasks)
    return systems * per_system + (sum(len(grid(POPULAR, t, config)) + 1 for t in tasks) if popular else 0)
