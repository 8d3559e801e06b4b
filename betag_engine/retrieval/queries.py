"""Query vectors over tags (BETag §3.5, eqs. 7-8): one item's row of A, or a weighted sum over a history."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from betag_engine.retrieval.config import check_weighting


def history_weights(length: int, weighting: str = "uniform") -> np.ndarray:
    """Weights of a history's items, oldest first, shape (length,).

    uniform (eq. 7): every item 1. linear (eq. 8): the t-th of T items gets t / T, so recent items count most.
    """
    check_weighting(weighting)
    if weighting == "uniform":
        return np.ones(length)
    return np.arange(1, length + 1, dtype=np.float64) / max(length, 1)


def item_queries(matrix: sp.spmatrix, rows: np.ndarray) -> sp.csr_matrix:
    """Item-based queries: the query items' own rows of A, shape (len(rows), n_tags)."""
    return sp.csr_matrix(matrix)[np.asarray(rows, dtype=np.int64)]


def user_queries(matrix: sp.spmatrix, histories: Sequence[np.ndarray], weighting: str = "uniform") -> sp.csr_matrix:
    """User-based queries: sum_t w_t A[h_t] over each history (row indices, oldest first).

    Args:
        matrix: A, shape (n_items, n_tags).
        histories: one array of row indices per query.
        weighting: "uniform" (eq. 7) or "linear" (eq. 8).

    Returns:
        Q, CSR of shape (len(histories), n_tags), built as one sparse product H @ A.
    """
    check_weighting(weighting)
    lengths = np.fromiter((len(h) for h in histories), dtype=np.int64, count=len(histories))
    cols = np.concatenate([np.asarray(h, dtype=np.int64) for h in histories]) if len(histories) else np.zeros(0, int)
    if weighting == "uniform":
        vals = np.ones(len(cols))
    else:
        vals = np.concatenate([history_weights(n, "linear") for n in lengths]) if len(histories) else np.zeros(0)
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    h = sp.csr_matrix((vals, cols, indptr), shape=(len(histories), matrix.shape[0]))
    return sp.csr_matrix(h @ sp.csr_matrix(matrix))


def tag_query(tags: Sequence[str], weights: dict[str, float] | Sequence[str]) -> np.ndarray:
    """A free query from tag names: a dict tag -> weight, or a list of tags (weight 1 each; unknown tags drop)."""
    col = {t: c for c, t in enumerate(tags)}
    q = np.zeros(len(tags))
    items = weights.items() if isinstance(weights, dict) else ((t, 1.0) for t in weights)
    for tag, w in items:
        if tag in col:
            q[col[tag]] += float(w)
    return q
