"""BiRank on the item-tag bipartite graph as a precomputed dense operator (BETag appendix A, eqs. 20-21).

With S = D_items^{-1/2} A D_tags^{-1/2} (symmetric normalisation, weighted degrees; isolated nodes get degree 1)
and the query q (n_tags,) as the tags' prior, BiRank's fixed point is

    p = alpha * S^T u + (1 - alpha) * q          (20)   tag scores
    u = beta  * S   p + (1 - beta)  * u0         (21)   item scores, u0 = 0

so u = beta (1 - alpha) (I - alpha beta S S^T)^{-1} S q = W q. The inverse is taken once through the eigen-
decomposition of the smaller Gram matrix (S^T S or S S^T), so a whole alpha/beta grid reuses one
decomposition. This is networkx's ``bipartite.birank`` with the tags as the 'top' nodes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

DENSE_LIMIT = 60_000_000  # entries of W above which callers should use the iterative form


def _sym_normalise(matrix: sp.spmatrix) -> sp.csr_matrix:
    """S = D_i^{-1/2} A D_t^{-1/2}, shape (n_items, n_tags); zero degrees count as 1 (networkx does the same)."""
    a = sp.csr_matrix(matrix, dtype=np.float64)
    d_items = np.asarray(a.sum(axis=1)).ravel()
    d_tags = np.asarray(a.sum(axis=0)).ravel()
    d_items[d_items == 0] = 1.0
    d_tags[d_tags == 0] = 1.0
    return sp.csr_matrix(sp.diags(1 / np.sqrt(d_items)) @ a @ sp.diags(1 / np.sqrt(d_tags)))


@dataclass(frozen=True)
class BiRankBasis:
    """What every (alpha, beta) shares: the eigendecomposition of the smaller Gram matrix of S.

    side "tags": vals, vecs of S^T S (n_tags); ``half`` = S @ vecs, shape (n_items, n_tags).
    side "items": vals, vecs of S S^T (n_items); ``half`` = vecs^T @ S, shape (n_items, n_tags).
    """

    side: str
    vals: np.ndarray
    vecs: np.ndarray
    half: np.ndarray
    shape: tuple[int, int]


def birank_basis(matrix: sp.spmatrix) -> BiRankBasis:
    """Decompose once per tag matrix A (n_items, n_tags); see :func:`birank_operator`."""
    s = _sym_normalise(matrix)
    n_items, n_tags = s.shape
    if n_tags <= n_items:
        vals, vecs = np.linalg.eigh((s.T @ s).toarray())
        return BiRankBasis("tags", vals, vecs, np.asarray(s @ vecs), s.shape)
    vals, vecs = np.linalg.eigh((s @ s.T).toarray())
    return BiRankBasis("items", vals, vecs, np.asarray((s.T @ vecs).T), s.shape)


def birank_operator(matrix_or_basis, alpha: float = 0.5, beta: float = 0.5) -> np.ndarray:
    """The dense BiRank operator W with item scores ``u = W @ q``.

    Args:
        matrix_or_basis: A (n_items, n_tags) or a :class:`BiRankBasis` of it (reuse it across a grid).
        alpha: tag-side damping in [0, 1); beta: item-side damping in [0, 1).

    Returns:
        W, ndarray of shape (n_items, n_tags).
    """
    basis = matrix_or_basis if isinstance(matrix_or_basis, BiRankBasis) else birank_basis(matrix_or_basis)
    scale = beta * (1.0 - alpha)
    # Eigenvalues of the Gram matrix are squared singular values of S, all in [0, 1], so 1 - a*b*lambda > 0.
    inv = 1.0 / (1.0 - alpha * beta * np.clip(basis.vals, 0.0, 1.0))
    if basis.side == "tags":
        return scale * (basis.half * inv) @ basis.vecs.T
    return scale * (basis.vecs * inv) @ basis.half


def birank_iterate(
    matrix: sp.spmatrix, queries: np.ndarray, alpha: float = 0.5, beta: float = 0.5,
    tol: float = 1e-12, max_iter: int = 2000,
) -> np.ndarray:
    """Item scores by iterating eqs. 20-21 from u = 0 (the definition; cheap for a few queries on big graphs).

    Args:
        matrix: A, shape (n_items, n_tags).
        queries: q, shape (n_tags,) or (n_tags, n_queries).
        alpha, beta: dampings as in :func:`birank_operator`.
        tol: stop when the largest change of u is below ``tol`` times its largest value.

    Returns:
        u, shape (n_items,) or (n_items, n_queries).
    """
    s = _sym_normalise(matrix)
    q = np.asarray(queries.toarray() if sp.issparse(queries) else queries, dtype=np.float64)
    st = s.T.tocsr()
    u = np.zeros((s.shape[0],) + q.shape[1:])
    for _ in range(max_iter):
        p = alpha * (st @ u) + (1 - alpha) * q
        new = beta * (s @ p)
        delta = np.abs(new - u).max(initial=0.0)
        u = new
        if delta <= tol * max(np.abs(u).max(initial=0.0), 1e-300):
            break
    return u
