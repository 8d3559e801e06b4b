"""Compiled top-k for a sparse operator: score and select in one pass per query, touching only the items the
query's tags reach.

``retrieve`` with BM25's sparse W otherwise builds a dense score row per query (SpGEMM or column sums) and then
runs a top-k over all items. Here each query adds W's columns of its tags into an accumulator, remembers which
items it touched, and keeps the k best of those with an insertion list; untouched items score exactly 0, so
they are consulted (in row order) only when fewer than k touched items score above 0. Same results as the dense
path: among equal scores the lower row comes first, excluded rows never appear, short rows pad with -1 / -inf.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

try:
    import numba
except ImportError:  # numba is in requirements.txt; without it retrieve() falls back to the dense path
    numba = None


def available() -> bool:
    return numba is not None


def _topk_impl(wt_indptr, wt_indices, wt_data, q_indptr, q_indices, q_data, ex_indptr, ex_indices, n_items, k):
    n_q = len(q_indptr) - 1
    rows = np.full((n_q, k), -1, dtype=np.int64)
    vals = np.full((n_q, k), -np.inf, dtype=np.float64)
    acc = np.zeros(n_items, dtype=wt_data.dtype)  # float32 operators accumulate in float32, as bm25s does
    state = np.zeros(n_items, dtype=np.int8)  # 1 touched, 2 excluded
    touched = np.empty(n_items, dtype=np.int64)
    for i in range(n_q):
        work = 0
        for p in range(q_indptr[i], q_indptr[i + 1]):
            work += wt_indptr[q_indices[p] + 1] - wt_indptr[q_indices[p]]
        if work * 16 > n_items:  # tags reach more than 1/16 of the items: a dense pass is cheaper
            _dense_query(wt_indptr, wt_indices, wt_data, q_indptr, q_indices, q_data, ex_indptr, ex_indices, i,
                         n_items, k, acc, rows[i], vals[i])
            continue
        for p in range(ex_indptr[i], ex_indptr[i + 1]):
            state[ex_indices[p]] = 2
        nt = 0
        for p in range(q_indptr[i], q_indptr[i + 1]):
            t = q_indices[p]
            v = q_data[p]
            for s in range(wt_indptr[t], wt_indptr[t + 1]):
                r = wt_indices[s]
                if state[r] == 0:
                    state[r] = 1
                    touched[nt] = r
                    nt += 1
                if state[r] == 1:
                    acc[r] += v * wt_data[s]
        best_r = rows[i]
        best_v = vals[i]  # starts at -inf: the lists fill up through the same insertion
        for j in range(nt):
            _insert(best_r, best_v, k, touched[j], acc[touched[j]])
        if best_v[k - 1] <= 0.0:  # fewer than k items above 0: untouched items (score 0) may belong in the top k
            for r in range(n_items):
                if state[r] == 0:
                    _insert(best_r, best_v, k, r, 0.0)
                    if best_v[k - 1] > 0.0 or (best_v[k - 1] == 0.0 and best_r[k - 1] < r):
                        break  # rows come in order: no later zero can displace the k-th
        for j in range(nt):
            r = touched[j]
            acc[r] = 0.0
            state[r] = 0
        for p in range(ex_indptr[i], ex_indptr[i + 1]):
            state[ex_indices[p]] = 0
    return rows, vals


def _dense_query_impl(wt_indptr, wt_indices, wt_data, q_indptr, q_indices, q_data, ex_indptr, ex_indices, i,
                      n_items, k, acc, best_r, best_v):
    """A query whose tags reach a large share of the items: plain dense accumulation, then one scan that also
    clears the accumulator. best_v starts at -inf, so a row enters only by beating the k-th score: rows come in
    order, so among equal scores the lower rows stay, and excluded rows (set to -inf) never enter."""
    for p in range(q_indptr[i], q_indptr[i + 1]):
        t = q_indices[p]
        v = q_data[p]
        for s in range(wt_indptr[t], wt_indptr[t + 1]):
            acc[wt_indices[s]] += v * wt_data[s]
    for p in range(ex_indptr[i], ex_indptr[i + 1]):
        acc[ex_indices[p]] = -np.inf
    thr = best_v[k - 1]
    for r in range(n_items):
        x = acc[r]
        acc[r] = 0.0
        if x > thr:
            _insert(best_r, best_v, k, r, x)
            thr = best_v[k - 1]


def _insert_impl(best_r, best_v, k, r, v):
    """Insert (r, v) into the k-long lists sorted by score descending, then row ascending (empty slots hold
    -inf and row -1, so they fill first); the k-th entry drops out."""
    if v < best_v[k - 1] or (v == best_v[k - 1] and r > best_r[k - 1]):
        return
    pos = k - 1
    while pos > 0 and (v > best_v[pos - 1] or (v == best_v[pos - 1] and r < best_r[pos - 1])):
        best_v[pos] = best_v[pos - 1]
        best_r[pos] = best_r[pos - 1]
        pos -= 1
    best_v[pos] = v
    best_r[pos] = r


if numba is not None:
    _insert = numba.njit(cache=True, nogil=True)(_insert_impl)
    _dense_query = numba.njit(cache=True, nogil=True)(_dense_query_impl)
    _topk = numba.njit(cache=True, nogil=True)(_topk_impl)


def sparse_topk(wt: sp.csr_matrix, queries: sp.csr_matrix, k: int, exclude=None) -> tuple[np.ndarray, np.ndarray]:
    """Top-k rows of ``Q @ W^T`` per query, best first.

    Args:
        wt: W^T in CSR, shape (n_tags, n_items), non-negative.
        queries: Q, CSR (n_queries, n_tags), non-negative.
        k: 1 <= k.
        exclude: None, or one array of rows per query that are never returned.

    Returns:
        (rows int64, scores float64), each (n_queries, k); -1 / -inf pad rows with fewer than k items.
    """
    if numba is None:
        raise RuntimeError("sparse_topk needs numba (pip install -r requirements.txt)")
    q = sp.csr_matrix(queries)
    n_q, n_items = q.shape[0], wt.shape[1]
    if exclude is None:
        ex_indptr, ex_indices = np.zeros(n_q + 1, dtype=np.int64), np.zeros(0, dtype=np.int64)
    else:
        parts = [np.asarray(e, dtype=np.int64).ravel() for e in exclude]
        if len(parts) != n_q:
            raise ValueError(f"exclude has {len(parts)} entries for {n_q} queries")
        ex_indptr = np.concatenate([[0], np.cumsum([len(p) for p in parts])]).astype(np.int64)
        ex_indices = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        if len(ex_indices) and (ex_indices.min() < 0 or ex_indices.max() >= n_items):
            raise ValueError(f"exclude holds rows outside 0..{n_items - 1}")
    if q.shape[1] != wt.shape[0]:
        raise ValueError(f"queries have {q.shape[1]} tags, the operator {wt.shape[0]}")
    # scipy's own index and value arrays go in as they are (numba compiles one variant per dtype combination)
    return _topk(wt.indptr, wt.indices, wt.data, q.indptr, q.indices, q.data, ex_indptr, ex_indices, n_items,
                 max(int(k), 1))
