"""BM25 as a precomputed sparse operator W (BETag appendix A, eqs. 16-18).

Items are the documents, tags the terms, A[i, t] the count of tag t on item i. For a query vector q (n_tags,)

    score(i, q) = sum_t q_t * IDF(t) * A[i,t] (k1 + 1) / (A[i,t] + k1 (1 - b + b |d_i| / avgdl))      (16)
    IDF(t)      = ln(1 + (N - n_t + 0.5) / (n_t + 0.5))                                               (17)
    |d_i|       = sum_t A[i,t],  avgdl = mean_i |d_i| over all N rows (untagged items are empty documents)  (18)

Everything but q depends on (i, t) only, so W[i, t] = IDF(t) * tf-part(i, t) has A's sparsity and a query is
one product ``W @ q``. This is the classic Robertson/Sparck-Jones weighting with the non-negative ("Lucene")
IDF; it equals bm25s' ``method="lucene"`` times the constant (k1 + 1), which changes no ranking.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def _idf(doc_freq: np.ndarray, n_docs: int) -> np.ndarray:
    """Eq. 17: non-negative BM25 IDF per tag, shape (n_tags,)."""
    return np.log1p((n_docs - doc_freq + 0.5) / (doc_freq + 0.5))


def bm25_operator(matrix: sp.spmatrix, k1: float = 1.5, b: float = 0.75, dtype=np.float64) -> sp.csr_matrix:
    """Precompute the BM25 operator W for an item x tag count matrix.

    Args:
        matrix: A, shape (n_items, n_tags), non-negative counts (CSR or anything scipy converts).
        k1: term-frequency saturation (>= 0; 0 makes every present tag count once).
        b: length normalisation in [0, 1].
        dtype: dtype of W (float32 halves memory for big catalogs).

    Returns:
        W, CSR of shape (n_items, n_tags) with A's sparsity pattern: ``scores = W @ q``.
    """
    a = sp.csr_matrix(matrix, dtype=np.float64, copy=True)
    a.eliminate_zeros()
    n_docs = a.shape[0]
    doc_len = np.asarray(a.sum(axis=1)).ravel()
    avgdl = float(doc_len.mean()) if n_docs and doc_len.any() else 1.0
    doc_freq = np.bincount(a.indices, minlength=a.shape[1]).astype(np.float64)
    idf = _idf(doc_freq, n_docs)
    # Expand the per-row length norm to one value per stored entry (CSR rows are contiguous).
    norm = k1 * (1.0 - b + b * doc_len / avgdl)
    per_entry = np.repeat(norm, np.diff(a.indptr))
    tf = a.data
    a.data = idf[a.indices] * tf * (k1 + 1.0) / (tf + per_entry)
    return a.astype(dtype)
