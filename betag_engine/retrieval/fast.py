"""Fast paths for big catalogs: top-k by block maxima, and scoring one query by W's columns.

Top-k: a full argpartition over 100k scores per query costs more than the scoring itself. Split the columns
into groups and take each group's maximum: the k best items always fit in the k groups with the largest
maxima, so only k * BLOCK scores per row get sorted.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

BLOCK = 64


def topk_block(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k columns of each row, best first (exact values; among equal scores the order is deterministic).

    Args:
        scores: shape (n_rows, n); -inf marks excluded entries.
        k: 1 <= k <= n.

    Returns:
        (indices int64, values), each shape (n_rows, k).
    """
    m, n = scores.shape
    nb = n // BLOCK
    if nb <= k:
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        return order, np.take_along_axis(scores, order, axis=1)
    # Group j holds columns j, j + nb, j + 2 nb, ...: the max over groups is a contiguous (SIMD) reduction.
    # Every top-k item lies in one of the k groups with the largest maxima (or ties with an item there).
    group_max = scores[:, :nb * BLOCK].reshape(m, BLOCK, nb).max(axis=1)
    groups = np.argpartition(-group_max, k - 1, axis=1)[:, :k]
    cand = (groups[:, :, None] + nb * np.arange(BLOCK)[None, None, :]).reshape(m, -1)
    tail = np.arange(nb * BLOCK, n)
    cand = np.concatenate([cand, np.broadcast_to(tail, (m, len(tail)))], axis=1)
    vals = np.take_along_axis(scores, cand, axis=1)
    order = np.argsort(-vals, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(cand, order, axis=1), np.take_along_axis(vals, order, axis=1)


def column_scores(w_csc: sp.csc_matrix, q_tags: np.ndarray, q_values: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out = W @ q for a sparse q given by its tags and values, adding W's columns (each has unique rows)."""
    out[:] = 0
    indptr, indices, data = w_csc.indptr, w_csc.indices, w_csc.data
    for t, v in zip(q_tags, q_values):
        lo, hi = indptr[t], indptr[t + 1]
        out[indices[lo:hi]] += v * data[lo:hi]
    return out
