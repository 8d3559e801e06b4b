"""Build a retrieval index (a precomputed operator W) and score, rank or restrict queries with it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import scipy.sparse as sp

from betag_engine.retrieval import kernel
from betag_engine.retrieval.birank import DENSE_LIMIT, BiRankBasis, birank_iterate, birank_operator
from betag_engine.retrieval.bm25 import bm25_operator
from betag_engine.retrieval.config import check_retriever, make_params
from betag_engine.retrieval.fast import sparse_operator_scores
from betag_engine.types import TagMatrix
from betag_engine.vocabulary import BIRANK, BM25, POPULAR

SCORE_CHUNK_ENTRIES = 20_000_000  # dense scores held at once when scoring many queries (~160 MB float64)
DENSE_BIRANK_MAX_SIDE = 4000  # above this Gram size the closed form costs more than iterating a few queries


class Results(NamedTuple):
    """Top-k per query, best first. Shapes (k,) for one query or (n_queries, k); -1 / -inf pad short rows."""

    rows: np.ndarray
    item_ids: np.ndarray
    scores: np.ndarray


@dataclass
class Index:
    """A retriever ready to score: ``scores = W @ q`` (BM25 sparse W, BiRank dense W) or a fixed prior (Popular).

    Attributes:
        retriever: "bm25", "birank" or "popular".
        params: the retriever's params dataclass.
        item_ids: database ids of the rows, shape (n_items,).
        tags: column labels, length n_tags.
        matrix: A, CSR (n_items, n_tags).
        operator: W, shape (n_items, n_tags); None for Popular and for iterative BiRank.
        prior: Popular's scores, shape (n_items,); None otherwise.
    """

    retriever: str
    params: Any
    item_ids: np.ndarray
    tags: list[str]
    matrix: sp.csr_matrix
    operator: sp.csr_matrix | np.ndarray | None = None
    prior: np.ndarray | None = None
    _wt: Any = field(default=None, repr=False)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def operator_t(self):
        """W^T, kept in CSR (or a contiguous dense array) so each batch of queries is one product."""
        if self._wt is None and self.operator is not None:
            self._wt = self.operator.T.tocsr() if sp.issparse(self.operator) else np.ascontiguousarray(
                self.operator.T)
        return self._wt

    def score(self, queries) -> np.ndarray:
        """Scores of every item for each query.

        Args:
            queries: q of shape (n_tags,), or Q of shape (n_queries, n_tags) (sparse or dense).

        Returns:
            float array (n_items,) or (n_queries, n_items).
        """
        single = not sp.issparse(queries) and np.ndim(queries) == 1
        q = sp.csr_matrix(np.atleast_2d(queries)) if single else queries
        if self.retriever == POPULAR:
            out = np.broadcast_to(self.prior, (q.shape[0], self.n_items)).copy()
        elif self.operator is None:
            qt = q.T.toarray() if sp.issparse(q) else np.asarray(q).T
            out = birank_iterate(self.matrix, qt, self.params.alpha, self.params.beta).T
        else:
            wt = self.operator_t()
            if sp.issparse(wt):
                out = sparse_operator_scores(wt, q)
            else:
                prod = q @ wt
                out = prod.toarray() if sp.issparse(prod) else np.asarray(prod)
        return out[0] if single else out


def build_index(
    tag_matrix: TagMatrix,
    retriever: str = BM25,
    params: Any = None,
    popularity: np.ndarray | None = None,
    basis: BiRankBasis | None = None,
    method: str = "auto",
) -> Index:
    """Precompute a retriever over a tag matrix.

    Args:
        tag_matrix: A and its row/column labels.
        retriever: one of "bm25", "birank", "popular".
        params: dict or params dataclass (see retrieval.config); None for defaults.
        popularity: Popular's item counts, shape (n_items,) (required for "popular").
        basis: BiRank's decomposition of A, reused across an alpha/beta grid.
        method: BiRank only: "dense" (closed form W), "iterative" (eqs. 20-21 per query batch) or "auto".

    Returns:
        An :class:`Index`.
    """
    check_retriever(retriever)
    if method not in ("auto", "dense", "iterative"):
        raise ValueError(f"method must be one of auto, dense, iterative, got {method!r}")
    p = make_params(retriever, params)
    a = sp.csr_matrix(tag_matrix.matrix)
    idx = Index(retriever, p, np.asarray(tag_matrix.item_ids), list(tag_matrix.tags), a)
    if retriever == BM25:
        idx.operator = bm25_operator(a, p.k1, p.b)
    elif retriever == BIRANK:
        if method == "auto":
            small = min(a.shape) <= DENSE_BIRANK_MAX_SIDE and a.shape[0] * a.shape[1] <= DENSE_LIMIT
            method = "dense" if small or basis is not None else "iterative"
        if method == "dense":
            idx.operator = birank_operator(basis if basis is not None else a, p.alpha, p.beta)
    else:
        if popularity is None or len(popularity) != a.shape[0]:
            raise ValueError("popular needs popularity counts with one value per item row")
        idx.prior = np.asarray(popularity, dtype=np.float64)
    return idx


def _exclusion_mask(scores: np.ndarray, exclude) -> None:
    if exclude is None:
        return
    if scores.ndim == 1:
        scores[np.asarray(exclude, dtype=np.int64)] = -np.inf
        return
    for r, rows in enumerate(exclude):
        scores[r, np.asarray(rows, dtype=np.int64)] = -np.inf


def _restrict(scores: np.ndarray, candidates) -> np.ndarray:
    if candidates is None:
        return scores
    keep = np.full(scores.shape, -np.inf)
    cand = np.asarray(candidates, dtype=np.int64)
    if scores.ndim == 1 or cand.ndim == 1:
        keep[..., cand] = scores[..., cand]
    else:
        np.put_along_axis(keep, cand, np.take_along_axis(scores, cand, axis=1), axis=1)
    return keep


def top_k(index: Index, scores: np.ndarray, k: int) -> Results:
    """Best ``k`` entries of each score row (argpartition, then a sort of just those k); -inf never returned."""
    single = scores.ndim == 1
    s = np.atleast_2d(scores)
    k = max(0, min(k, s.shape[1]))
    # argpartition is O(n) but unordered, so only the k winners get sorted.
    part = np.argpartition(-s, k - 1, axis=1)[:, :k] if k else np.zeros((s.shape[0], 0), dtype=np.int64)
    part_scores = np.take_along_axis(s, part, axis=1)
    order = np.argsort(-part_scores, axis=1, kind="stable")
    rows = np.take_along_axis(part, order, axis=1)
    vals = np.take_along_axis(part_scores, order, axis=1)
    return _results(index, np.where(np.isfinite(vals), rows, -1), vals, single)


def _results(index: Index, rows: np.ndarray, vals: np.ndarray, single: bool) -> Results:
    """Results from (n_queries, k) rows (-1 = padding) and scores; one query's padding dropped."""
    ids = np.where(rows >= 0, index.item_ids[np.maximum(rows, 0)], -1)
    if single:
        keep = rows[0] >= 0
        return Results(rows[0][keep], ids[0][keep], vals[0][keep])
    return Results(rows, ids, vals)


def retrieve(index: Index, queries, k: int = 10, exclude=None, candidates=None) -> Results:
    """Top-k items for one query or a batch.

    Args:
        index: from :func:`build_index`.
        queries: q (n_tags,) or Q (n_queries, n_tags).
        k: how many to return.
        exclude: rows never returned (the query item(s)): an array for one query, one array per query for a batch.
        candidates: rows to rank among (e.g. the 1+100 sampled protocol): one array shared by all queries, or
            (n_queries, n_candidates); every other item is out.

    Returns:
        :class:`Results` (rows, item ids, scores), best first.
    """
    if candidates is None and index.operator is not None and sp.issparse(index.operator) and kernel.available():
        return _sparse_retrieve(index, queries, k, exclude)
    scores = np.array(index.score(queries), dtype=np.float64)
    _exclusion_mask(scores, exclude)
    return top_k(index, _restrict(scores, candidates), k)


def _sparse_retrieve(index: Index, queries, k: int, exclude) -> Results:
    """retrieve() for a sparse operator (BM25): the compiled score-and-select kernel, no dense score rows."""
    single = not sp.issparse(queries) and np.ndim(queries) == 1
    q = sp.csr_matrix(np.atleast_2d(queries) if single else queries)
    if single and exclude is not None:
        exclude = [exclude]
    k = max(0, min(k, index.n_items))
    if k == 0:
        rows, vals = np.zeros((q.shape[0], 0), dtype=np.int64), np.zeros((q.shape[0], 0))
    else:
        rows, vals = kernel.sparse_topk(index.operator_t(), q, k, exclude)
    return _results(index, rows, vals, single)


def score_candidates(index: Index, queries, candidates: np.ndarray) -> np.ndarray:
    """Scores of given candidate rows per query, computed in chunks so memory stays bounded.

    Args:
        index: from :func:`build_index`.
        queries: Q, shape (n_queries, n_tags), sparse or dense.
        candidates: row indices, shape (n_queries, n_candidates).

    Returns:
        float array (n_queries, n_candidates).
    """
    cand = np.asarray(candidates, dtype=np.int64)
    if index.retriever == POPULAR:
        return index.prior[cand]
    q = sp.csr_matrix(queries)
    step = max(1, SCORE_CHUNK_ENTRIES // max(index.n_items, 1))
    out = np.empty(cand.shape, dtype=np.float64)
    for start in range(0, q.shape[0], step):
        block = index.score(q[start:start + step])
        out[start:start + step] = np.take_along_axis(block, cand[start:start + step], axis=1)
    return out
