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


TAG_SPACE_MAX_TAGS = 12_000  # T is n_tags^2 float64: 12k tags -> 1.15 GB; past that evaluate BiRank on fewer tags


@dataclass(frozen=True)
class TagGram:
    """What every (alpha, beta) of one tag matrix shares in tag space: S and its Gram G = S^T S (both sparse)."""

    s: sp.csr_matrix
    gram: sp.csr_matrix


@dataclass(frozen=True)
class BiRankTagSpace:
    """BiRank's operator kept in tag space: ``W = scale * S @ T`` with T = (I - alpha beta S^T S)^{-1}.

    By the push-through identity (I - ab S S^T)^{-1} S = S (I - ab S^T S)^{-1}, this is the closed form of
    eqs. 20-21 with an n_tags x n_tags inverse instead of an n_items x n_tags operator: at 100k items and 5,000
    tags T holds 25M numbers (200 MB) where W would hold 500M (4 GB). ``retrieval.candidates.tag_space_rows``
    scores candidates with it.
    """

    s: sp.csr_matrix  # (n_items, n_tags)
    t: np.ndarray  # (n_tags, n_tags), symmetric positive definite
    scale: float


def tag_gram(matrix: sp.spmatrix) -> TagGram:
    """S and S^T S of a tag matrix A (n_items, n_tags); reuse it across an alpha/beta grid."""
    s = _sym_normalise(matrix)
    return TagGram(s, sp.csr_matrix(s.T @ s))


def birank_tag_space(matrix_or_gram, alpha: float = 0.5, beta: float = 0.5, dtype=np.float64) -> BiRankTagSpace:
    """T = (I - alpha beta G)^{-1} by a Cholesky factorisation and its inverse (LAPACK potrf/potri, in place).

    Cost: n_tags^3 flops and one n_tags^2 array of ``dtype``; the eigenvalues of G are in [0, 1] and
    alpha beta < 1, so I - alpha beta G is positive definite with a condition number of at most
    1 / (1 - alpha beta) (5.3 at the grid's largest 0.9 x 0.9), which float32 (half the time and memory)
    resolves to about 1e-6 relative.

    Raises:
        ValueError: more than ``TAG_SPACE_MAX_TAGS`` tags (T would not fit memory).
    """
    from scipy.linalg import lapack

    g = matrix_or_gram if isinstance(matrix_or_gram, TagGram) else tag_gram(matrix_or_gram)
    n = g.gram.shape[0]
    if n > TAG_SPACE_MAX_TAGS:
        raise ValueError(f"BiRank in tag space needs an n_tags x n_tags matrix; {n} tags is over the limit of "
                         f"{TAG_SPACE_MAX_TAGS} (evaluate BiRank on a smaller vocabulary, or use bm25)")
    m = g.gram.astype(dtype).toarray()
    m *= -alpha * beta
    m.flat[::n + 1] += 1.0
    potrf, potri = (lapack.spotrf, lapack.spotri) if m.dtype == np.float32 else (lapack.dpotrf, lapack.dpotri)
    # m is symmetric, so its transpose is the Fortran-ordered array LAPACK factorises in place.
    c, info = potrf(m.T, lower=0, clean=1, overwrite_a=1)
    if info == 0:
        c, info = potri(c, lower=0, overwrite_c=1)
    if info != 0:
        raise ValueError(f"I - alpha beta S^T S is not positive definite (LAPACK info {info}); alpha={alpha}, "
                         f"beta={beta}")
    _symmetrise_upper(c)
    t = c.T if c.flags.f_contiguous else np.ascontiguousarray(c)  # symmetric: the transpose is the C-order view
    return BiRankTagSpace(g.s, t, beta * (1.0 - alpha))


def _symmetrise_upper(a: np.ndarray, block: int = 512) -> None:
    """Copy the upper triangle onto the lower one in place, a block of rows at a time (no n^2 temporaries)."""
    n = a.shape[0]
    for b in range(0, n, block):
        e = min(b + block, n)
        a[b:e, :b] = a[:b, b:e].T
        diag = a[b:e, b:e]
        diag[:] = np.triu(diag) + np.triu(diag, 1).T
