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


COLUMN_PATH_MIN_TOUCHED = 8192  # mean stored entries of W touched per query above which columns beat SpGEMM


def sparse_operator_scores(wt: sp.csr_matrix, q: sp.csr_matrix) -> np.ndarray:
    """Dense scores ``Q @ W^T`` for a sparse operator, by whichever path is faster for this batch.

    Small catalogs: one sparse-sparse product (SpGEMM) for the whole batch. Large catalogs whose tags touch many
    items per query (Zipf heads): building SpGEMM's sparse output costs more than the arithmetic, so each query
    adds up W's columns of its tags straight into a dense row (``np.bincount``).

    Args:
        wt: W^T in CSR, shape (n_tags, n_items) (its rows are W's columns).
        q: queries, CSR of shape (n_queries, n_tags).

    Returns:
        array (n_queries, n_items).
    """
    q = sp.csr_matrix(q)
    col_len = np.diff(wt.indptr)
    touched = col_len[q.indices].sum() / max(q.shape[0], 1)
    if touched < COLUMN_PATH_MIN_TOUCHED:
        return (q @ wt).toarray()
    n_items = wt.shape[1]
    out = np.empty((q.shape[0], n_items), dtype=np.result_type(wt.dtype, q.dtype))
    for i in range(q.shape[0]):
        tags, vals = q.indices[q.indptr[i]:q.indptr[i + 1]], q.data[q.indptr[i]:q.indptr[i + 1]]
        if not len(tags):
            out[i] = 0
            continue
        rows = np.concatenate([wt.indices[wt.indptr[t]:wt.indptr[t + 1]] for t in tags])
        data = np.concatenate([v * wt.data[wt.indptr[t]:wt.indptr[t + 1]] for t, v in zip(tags, vals)])
        out[i] = np.bincount(rows, weights=data, minlength=n_items)
    return out


def column_scores(w_csc: sp.csc_matrix, q_tags: np.ndarray, q_values: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out = W @ q for a sparse q given by its tags and values, adding W's columns (each has unique rows)."""
    out[:] = 0
    indptr, indices, data = w_csc.indptr, w_csc.indices, w_csc.data
    for t, v in zip(q_tags, q_values):
        lo, hi = indptr[t], indptr[t + 1]
        out[indices[lo:hi]] += v * data[lo:hi]
    return out
