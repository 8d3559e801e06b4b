"""Score one system's cases against their sampled candidates, one retriever configuration at a time.

Only the 1 + n_negatives candidates of each case are scored (``retrieval.candidates``), so a grid cell costs
cases x candidates x tags, whatever the catalog's size. One operator is held at a time (the grid visits the
configurations in order), and queries are built once per phase, task and weighting.

Operators: BM25's sparse W (eqs. 16-18); BiRank's dense closed form W when n_items x n_tags stays under
``DENSE_BIRANK_MAX_ENTRIES`` (one eigendecomposition of the smaller Gram matrix for the whole alpha grid),
otherwise BiRank in tag space (``retrieval.birank.birank_tag_space``: one n_tags x n_tags inverse per alpha, in
float32, never an n_items-sized dense matrix; the best alpha per task is kept for the test phase); Popular's
prior.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from betag_engine.evaluation.metrics import case_metrics
from betag_engine.evaluation.protocol import EvalConfig, Prepared
from betag_engine.retrieval import candidates
from betag_engine.retrieval.birank import birank_basis, birank_operator, birank_tag_space, tag_gram
from betag_engine.retrieval.bm25 import bm25_operator
from betag_engine.retrieval.config import check_retriever, make_params
from betag_engine.retrieval.queries import item_queries, user_queries
from betag_engine.types import TagMatrix
from betag_engine.vocabulary import BIRANK, BM25, ITEM_TASK, POPULAR

DENSE_BIRANK_MAX_ENTRIES = 20_000_000  # 160 MB of float64: above this BiRank stays in tag space
TAG_SPACE_DTYPE = np.float32  # BiRank's tag-space inverse: half the time and memory of float64, ~1e-6 relative


def index_key(params: Mapping) -> tuple:
    """The part of a grid point that defines the operator (the weighting only changes the queries)."""
    return tuple(sorted((k, v) for k, v in params.items() if k != "weighting"))


class SystemScorer:
    """Scores of one tagging system under one retriever, for any grid point, phase and task.

    Args:
        prepared: the shared split and candidates.
        tm: the system's TagMatrix on ``prepared.item_ids`` rows (None only for Popular).
        retriever: "bm25", "birank" or "popular".
        config: protocol settings (the validation sample's size).
        status: called with a short line before a slow step (BiRank's inverse), for progress displays.
    """

    def __init__(self, prepared: Prepared, tm: TagMatrix | None, retriever: str, config: EvalConfig,
                 status: Callable[[str], None] | None = None):
        self.p, self.tm, self.retriever = prepared, tm, check_retriever(retriever)
        self.status = status or (lambda _line: None)
        self.rows = {"validation": prepared.grid_rows(config), "test": np.arange(prepared.n_cases("test"))}
        self._queries: dict[tuple, object] = {}
        self._ops: dict[tuple, Callable] = {}  # operator key -> scoring function
        self._keep: set[tuple] = set()
        self._shared = None  # BiRank: the eigenbasis (dense route) or S and its Gram (tag-space route)
        n = 0 if tm is None else tm.matrix.shape[0] * tm.matrix.shape[1]
        self.dense_birank = retriever == BIRANK and n <= DENSE_BIRANK_MAX_ENTRIES

    def n_cases(self, phase: str) -> int:
        return len(self.rows[phase])

    def candidates(self, phase: str) -> np.ndarray:
        return self.p.candidates[phase][self.rows[phase]]

    def queries(self, phase: str, task: str, weighting: str):
        """Q for the phase's scored cases: the query item's row of A (item task) or the weighted history."""
        key = (phase, task, weighting if task != ITEM_TASK else "")
        if key not in self._queries:
            hist = [self.p.histories[phase][i] for i in self.rows[phase]]
            if task == ITEM_TASK:
                self._queries[key] = item_queries(self.tm.matrix, np.array([h[-1] for h in hist], dtype=np.int64))
            else:
                self._queries[key] = user_queries(self.tm.matrix, hist, weighting)
        return self._queries[key]

    def forget_queries(self, phase: str) -> None:
        """Drop the cached queries of ``phase`` (the grid's validation queries are not needed on test)."""
        self._queries = {k: q for k, q in self._queries.items() if k[0] != phase}

    def keep(self, keys: set[tuple]) -> None:
        """Operators worth keeping besides the one in use (the grid's current best per task, which the test
        phase needs again: BiRank's inverse is the costly part)."""
        self._keep = set(keys)

    def _operator(self, params: Mapping) -> Callable:
        """A function (Q, candidates) -> scores for the grid point's operator (built once per grid point)."""
        key = index_key(params)
        if key in self._ops:
            return self._ops[key]
        # Drop what is not kept before building the next one: at most 1 + len(keep) operators in memory.
        self._ops = {k: v for k, v in self._ops.items() if k in self._keep}
        p = make_params(self.retriever, dict(key))
        a = None if self.tm is None else self.tm.matrix
        if self.retriever == POPULAR:
            prior = self.p.popularity
            score = lambda _q, cand: prior[cand]  # noqa: E731
        elif self.retriever == BM25:
            w = bm25_operator(a, p.k1, p.b)
            score = lambda q, cand: candidates.sparse_rows(w, q, cand)  # noqa: E731
        elif self.dense_birank:
            self._shared = self._shared or birank_basis(a)
            w = birank_operator(self._shared, p.alpha, p.beta)
            score = lambda q, cand: candidates.dense_rows(w, q, cand)  # noqa: E731
        else:
            self._shared = self._shared or tag_gram(a)
            self.status(f"birank alpha={p.alpha}: tag-space inverse ({a.shape[1]} tags)")
            op = birank_tag_space(self._shared, p.alpha, p.beta, dtype=TAG_SPACE_DTYPE)
            score = lambda q, cand: candidates.tag_space_rows(op.s, op.t, op.scale, q, cand)  # noqa: E731
        self._ops[key] = score
        return score

    def case_metrics(self, params: Mapping, phase: str, task: str, config: EvalConfig) -> tuple[np.ndarray,
                                                                                                 np.ndarray]:
        """Per-case HR@k and NDCG@k of one grid point on one phase and task, each shape (n_cases(phase),)."""
        score = self._operator(params)
        cand = self.candidates(phase)
        q = None if self.retriever == POPULAR else self.queries(phase, task, params.get("weighting", "uniform"))
        return case_metrics(score(q, cand), config.k, config.ties)
