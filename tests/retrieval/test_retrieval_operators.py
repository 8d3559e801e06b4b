"""BM25 and BiRank operators against plain formulas, their iteration, networkx and bm25s."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp

from betag_engine.retrieval import birank_iterate, birank_operator, bm25_operator


def _random_counts(seed: int, n_items: int = 25, n_tags: int = 9, density: float = 0.3) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    dense = (rng.random((n_items, n_tags)) < density) * rng.integers(1, 4, (n_items, n_tags))
    dense[0] = 0  # an untagged item
    return sp.csr_matrix(dense.astype(float))


def _bm25_direct(a: np.ndarray, q: np.ndarray, k1: float, b: float) -> np.ndarray:
    """Eqs. 16-18 written per document and term, with plain Python loops."""
    n_docs, n_terms = a.shape
    lengths = a.sum(axis=1)
    avgdl = lengths.mean()
    scores = np.zeros(n_docs)
    for t in range(n_terms):
        df = int((a[:, t] > 0).sum())
        idf = math.log(1 + (n_docs - df + 0.5) / (df + 0.5))
        for d in range(n_docs):
            tf = a[d, t]
            if tf > 0 and q[t] != 0:
                scores[d] += q[t] * idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * lengths[d] / avgdl))
    return scores


@pytest.mark.parametrize("k1,b", [(0.0, 0.0), (1.2, 0.75), (2.0, 0.25), (0.5, 1.0)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bm25_operator_matches_direct_formula(k1, b, seed):
    a = _random_counts(seed)
    q = np.random.default_rng(seed + 10).integers(0, 3, a.shape[1]).astype(float)
    w = bm25_operator(a, k1, b)
    assert w.shape == a.shape and w.nnz == a.nnz
    np.testing.assert_allclose(w @ q, _bm25_direct(a.toarray(), q, k1, b), rtol=1e-12, atol=1e-12)


def test_bm25_matches_bm25s_lucene_times_k1_plus_1():
    bm25s = pytest.importorskip("bm25s")
    a = _random_counts(3, n_items=40, n_tags=12)
    docs = [[f"t{c}" for c in a.indices[a.indptr[r]:a.indptr[r + 1]] for _ in range(int(a[r, c]))]
            for r in range(a.shape[0])]
    k1, b = 1.2, 0.75
    ref = bm25s.BM25(k1=k1, b=b, method="lucene", dtype="float64")
    ref.index(docs, show_progress=False)
    w = bm25_operator(a, k1, b)
    for row in (1, 5, 17):
        query = [f"t{c}" for c in a.indices[a.indptr[row]:a.indptr[row + 1]]]
        q = np.zeros(a.shape[1])
        q[a.indices[a.indptr[row]:a.indptr[row + 1]]] = 1
        np.testing.assert_allclose(w @ q, (k1 + 1) * ref.get_scores(query), rtol=1e-9)


@pytest.mark.parametrize("shape", [(30, 8), (6, 20)])
@pytest.mark.parametrize("alpha,beta", [(0.5, 0.5), (0.9, 0.9), (0.2, 0.7)])
def test_birank_closed_form_equals_iteration(shape, alpha, beta):
    a = _random_counts(4, *shape, density=0.35)
    q = np.random.default_rng(5).random((shape[1], 3))
    w = birank_operator(a, alpha, beta)
    np.testing.assert_allclose(w @ q, birank_iterate(a, q, alpha, beta), rtol=1e-9, atol=1e-12)


def test_birank_equals_networkx_with_tags_as_top_nodes():
    a = sp.coo_matrix(_random_counts(6, 20, 7, density=0.4))
    q = np.random.default_rng(7).random(7)
    g = nx.Graph()
    g.add_nodes_from(f"i{r}" for r in range(a.shape[0]))
    g.add_nodes_from(f"t{c}" for c in range(a.shape[1]))
    g.add_weighted_edges_from((f"i{r}", f"t{c}", float(v)) for r, c, v in zip(a.row, a.col, a.data))
    alpha, beta = 0.6, 0.8
    ref = nx.bipartite.birank(g, [f"t{c}" for c in range(a.shape[1])], alpha=alpha, beta=beta,
                              top_personalization={f"t{c}": q[c] for c in range(a.shape[1])},
                              tol=1e-13, max_iter=2000)
    ours = birank_operator(a, alpha, beta) @ q
    np.testing.assert_allclose(ours, [ref[f"i{r}"] for r in range(a.shape[0])], rtol=1e-7, atol=1e-10)
