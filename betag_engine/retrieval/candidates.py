"""Scores of given candidate rows only (the 1 + 100 sampled protocol), never a whole catalog's score row.

Scoring a case against its 101 candidates costs about 101 x (tags per item) x (tags in the query), whatever
the catalog's size; building every item's score first (the ``Index.score`` route) costs the catalog's size per
case, which at 100k items and 50k users is minutes per grid cell.

Each kernel sums a score over the query's stored entries in their stored order, starting from 0, as scipy's
sparse-times-dense and sparse-times-sparse products do: the same floating-point operations in the same order,
so on a catalog the dense route handles too, the scores are bit for bit the same (tied candidates stay tied
exactly, which the tie policy of the metrics depends on).

Three operator forms (``W`` of BETag appendix A, score = W[i] . q):
- :func:`sparse_rows` -- W sparse (BM25, eqs. 16-18);
- :func:`dense_rows` -- W dense (BiRank's closed form on small catalogs);
- :func:`tag_space_rows` -- W = scale * S @ T kept in tag space (BiRank at catalog scale): the score is
  S[i] . (T q), with the entries of T q computed only for the tags the case's candidates carry. This route
  has no small-catalog counterpart to match bit for bit, so it sums in its own order.
Each has a compiled (numba) kernel and a numpy fallback with the same results (the first two bit for bit).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

try:
    import numba
except ImportError:  # numba is in requirements.txt; the numpy fallbacks give the same scores, slower
    numba = None

QUERY_CHUNK = 2048  # cases per numpy-fallback block (bounds its temporaries)


def _csr(q) -> sp.csr_matrix:
    """Q as CSR, its stored entries in their stored order (the order every kernel sums in)."""
    return q if isinstance(q, sp.csr_matrix) else sp.csr_matrix(q)


def _sparse_rows_impl(w_indptr, w_indices, w_data, q_indptr, q_indices, q_data, cand, n_tags, max_row):
    # Per case the query is scattered once (its entries' positions and values by tag); per candidate only the
    # W row's few entries are visited, and the matched ones are summed in the query's stored order (an insertion
    # sort by position), which is the order scipy's products add them in.
    n_q, n_c = cand.shape
    out = np.zeros((n_q, n_c))
    pos = np.zeros(n_tags, dtype=np.int64)  # 1 + position of the tag in the query row, 0 = not in the query
    val = np.zeros(n_tags)
    buf_pos = np.zeros(max_row, dtype=np.int64)
    buf_prod = np.zeros(max_row)
    for c in range(n_q):
        for p in range(q_indptr[c], q_indptr[c + 1]):
            pos[q_indices[p]] = p + 1
            val[q_indices[p]] = q_data[p]
        for j in range(n_c):
            r = cand[c, j]
            m = 0
            for e in range(w_indptr[r], w_indptr[r + 1]):
                t = w_indices[e]
                if pos[t] > 0:
                    i = m
                    while i > 0 and buf_pos[i - 1] > pos[t]:
                        buf_pos[i] = buf_pos[i - 1]
                        buf_prod[i] = buf_prod[i - 1]
                        i -= 1
                    buf_pos[i] = pos[t]
                    buf_prod[i] = val[t] * w_data[e]
                    m += 1
            acc = 0.0
            for i in range(m):
                acc += buf_prod[i]
            out[c, j] = acc
        for p in range(q_indptr[c], q_indptr[c + 1]):
            pos[q_indices[p]] = 0
    return out


def _dense_rows_impl(w, q_indptr, q_indices, q_data, cand):
    n_q, n_c = cand.shape
    out = np.zeros((n_q, n_c))
    for c in range(n_q):
        for j in range(n_c):
            r = cand[c, j]
            acc = 0.0
            for p in range(q_indptr[c], q_indptr[c + 1]):
                acc += q_data[p] * w[r, q_indices[p]]
            out[c, j] = acc
    return out


def _tag_space_rows_impl(s_indptr, s_indices, s_data, t, scale, q_indptr, q_indices, q_data, cand):
    # score = scale * sum_t' S[i, t'] z[t'] with z = T q, each z[t'] computed once per case, only for the tags
    # the case's candidates carry (T is symmetric, so z[t'] reads row t').
    n_q, n_c = cand.shape
    out = np.zeros((n_q, n_c))
    n_tags = t.shape[0]
    z = np.zeros(n_tags)
    have = np.zeros(n_tags, dtype=np.bool_)
    for c in range(n_q):
        for j in range(n_c):
            r = cand[c, j]
            acc = 0.0
            for e in range(s_indptr[r], s_indptr[r + 1]):
                tp = s_indices[e]
                if not have[tp]:
                    v = 0.0
                    for p in range(q_indptr[c], q_indptr[c + 1]):
                        v += q_data[p] * t[tp, q_indices[p]]
                    z[tp] = v
                    have[tp] = True
                acc += s_data[e] * z[tp]
            out[c, j] = scale * acc
        for j in range(n_c):
            r = cand[c, j]
            for e in range(s_indptr[r], s_indptr[r + 1]):
                have[s_indices[e]] = False
    return out


if numba is not None:
    _sparse_rows = numba.njit(cache=True, nogil=True)(_sparse_rows_impl)
    _dense_rows = numba.njit(cache=True, nogil=True)(_dense_rows_impl)
    _tag_space_rows = numba.njit(cache=True, nogil=True)(_tag_space_rows_impl)


def _check(q: sp.csr_matrix, cand: np.ndarray, n_items: int, n_tags: int) -> np.ndarray:
    cand = np.ascontiguousarray(cand, dtype=np.int64)
    if cand.ndim != 2 or cand.shape[0] != q.shape[0]:
        raise ValueError(f"candidates must have shape (n_queries={q.shape[0]}, n_candidates), got {cand.shape}")
    if q.shape[1] != n_tags:
        raise ValueError(f"queries have {q.shape[1]} tags, the operator {n_tags}")
    if cand.size and (cand.min() < 0 or cand.max() >= n_items):
        raise ValueError(f"candidates hold rows outside 0..{n_items - 1}")
    return cand


def _by_query_entry(q: sp.csr_matrix, cand: np.ndarray, lookup) -> np.ndarray:
    """numpy fallback: out[c] += q[c, t_k] * lookup(rows, t_k) over each row's k-th stored entry, k = 0, 1, ..."""
    out = np.zeros(cand.shape)
    lengths = np.diff(q.indptr)
    for k in range(int(lengths.max(initial=0))):
        rows = np.flatnonzero(lengths > k)
        pos = q.indptr[rows] + k
        out[rows] += q.data[pos][:, None] * lookup(cand[rows], q.indices[pos])
    return out


def _chunked(q: sp.csr_matrix, cand: np.ndarray, lookup) -> np.ndarray:
    out = np.empty(cand.shape)
    for start in range(0, q.shape[0], QUERY_CHUNK):
        out[start:start + QUERY_CHUNK] = _by_query_entry(q[start:start + QUERY_CHUNK], cand[start:start + QUERY_CHUNK],
                                                         lookup)
    return out


def sparse_rows(w: sp.csr_matrix, queries, cand: np.ndarray) -> np.ndarray:
    """``out[c, j] = W[cand[c, j]] . Q[c]`` for a sparse operator.

    Args:
        w: W, CSR of shape (n_items, n_tags).
        queries: Q, shape (n_queries, n_tags) (CSR; anything scipy converts).
        cand: candidate rows, shape (n_queries, n_candidates).

    Returns:
        float64 array (n_queries, n_candidates).
    """
    w, q = sp.csr_matrix(w, dtype=np.float64), _csr(queries)
    cand = _check(q, cand, w.shape[0], w.shape[1])
    if numba is not None:
        max_row = int(np.diff(w.indptr).max(initial=0))
        return _sparse_rows(w.indptr, w.indices, w.data, q.indptr, q.indices, q.data.astype(np.float64), cand,
                            w.shape[1], max(max_row, 1))

    def lookup(rows: np.ndarray, tags: np.ndarray) -> np.ndarray:
        return np.asarray(w[rows.ravel(), np.repeat(tags, rows.shape[1])]).reshape(rows.shape)

    return _chunked(q, cand, lookup)


def dense_rows(w: np.ndarray, queries, cand: np.ndarray) -> np.ndarray:
    """``out[c, j] = W[cand[c, j]] . Q[c]`` for a dense operator W of shape (n_items, n_tags); see
    :func:`sparse_rows`."""
    w, q = np.ascontiguousarray(w, dtype=np.float64), _csr(queries)
    cand = _check(q, cand, w.shape[0], w.shape[1])
    if numba is not None:
        return _dense_rows(w, q.indptr, q.indices, q.data.astype(np.float64), cand)
    return _chunked(q, cand, lambda rows, tags: w[rows, tags[:, None]])


def tag_space_rows(s: sp.csr_matrix, t: np.ndarray, scale: float, queries, cand: np.ndarray) -> np.ndarray:
    """``out[c, j] = W[cand[c, j]] . Q[c]`` with ``W = scale * S @ T`` never formed.

    Args:
        s: S, CSR of shape (n_items, n_tags) (few entries per row).
        t: T, dense (n_tags, n_tags).
        scale: the constant in front of S @ T.
        queries, cand: as in :func:`sparse_rows`.

    Returns:
        float64 array (n_queries, n_candidates); each W entry costs one pass over an item's row of S.
    """
    s, q = sp.csr_matrix(s, dtype=np.float64), _csr(queries)
    t = np.ascontiguousarray(t)  # float32 or float64; sums are float64
    cand = _check(q, cand, s.shape[0], s.shape[1])
    if numba is not None:
        return _tag_space_rows(s.indptr, s.indices, s.data, t, float(scale), q.indptr, q.indices,
                               q.data.astype(np.float64), cand)
    out = np.empty(cand.shape)
    for start in range(0, q.shape[0], QUERY_CHUNK):
        block = cand[start:start + QUERY_CHUNK]
        z = np.asarray(q[start:start + QUERY_CHUNK] @ t, dtype=np.float64)  # (block, n_tags): T q per case
        sub = s[block.ravel()]
        owner = np.repeat(np.arange(block.size), np.diff(sub.indptr))
        vals = sub.data * z[owner // block.shape[1], sub.indices]
        out[start:start + QUERY_CHUNK] = scale * np.bincount(owner, weights=vals,
                                                             minlength=block.size).reshape(block.shape)
    return out
