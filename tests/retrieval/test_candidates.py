"""Candidate-only scoring equals the full products (bit for bit where the dense route exists), with and without
numba; BiRank in tag space equals its closed form."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from betag_engine.retrieval import candidates
from betag_engine.retrieval.birank import birank_operator, birank_tag_space, tag_gram
from betag_engine.retrieval.bm25 import bm25_operator
from betag_engine.retrieval.queries import item_queries, user_queries


@pytest.fixture(params=["numba", "numpy"])
def route(request, monkeypatch):
    if request.param == "numpy":
        monkeypatch.setattr(candidates, "numba", None)
    elif candidates.numba is None:
        pytest.skip("numba not installed")
    return request.param


def _data(seed: int = 0, n_items: int = 400, n_tags: int = 30):
    rng = np.random.default_rng(seed)
    a = sp.random(n_items, n_tags, density=0.1, random_state=seed, format="csr")
    a.data[:] = rng.integers(1, 4, a.nnz)
    # user queries come out of a sparse product with their tags in no particular order: the sums must follow it
    q = user_queries(a, [rng.integers(0, n_items, rng.integers(1, 25)) for _ in range(120)], "linear")
    cand = rng.integers(0, n_items, (120, 21))
    return a, q, cand


def test_sparse_rows_equal_the_sparse_product_bit_for_bit(route):
    a, q, cand = _data()
    w = bm25_operator(a, 1.2, 0.6)
    expected = np.take_along_axis((q @ w.T.tocsr()).toarray(), cand, axis=1)
    assert np.array_equal(candidates.sparse_rows(w, q, cand), expected)
    qi = item_queries(a, cand[:, 0])
    assert np.array_equal(candidates.sparse_rows(w, qi, cand), np.take_along_axis((qi @ w.T).toarray(), cand, 1))


def test_dense_rows_equal_the_dense_product_bit_for_bit(route):
    a, q, cand = _data(1)
    w = birank_operator(a, 0.6, 0.6)
    expected = np.take_along_axis(q @ np.ascontiguousarray(w.T), cand, axis=1)
    assert np.array_equal(candidates.dense_rows(w, q, cand), expected)


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 1e-6)])
def test_birank_in_tag_space_equals_the_closed_form(route, dtype, tol):
    a, q, cand = _data(2)
    gram = tag_gram(a)
    for alpha, beta in [(0.1, 0.1), (0.9, 0.9), (0.7, 0.3)]:
        w = birank_operator(a, alpha, beta)
        op = birank_tag_space(gram, alpha, beta, dtype=dtype)
        assert op.t.dtype == dtype and np.allclose(op.t, op.t.T)
        np.testing.assert_allclose(op.scale * (op.s @ op.t.astype(np.float64)), w, atol=tol * np.abs(w).max())
        got = candidates.tag_space_rows(op.s, op.t, op.scale, q, cand)
        expected = np.take_along_axis(q @ w.T, cand, axis=1)
        np.testing.assert_allclose(got, expected, atol=tol * np.abs(expected).max())


def test_identical_items_tie_exactly_in_tag_space():
    a, q, cand = _data(3)
    a = sp.vstack([a, a[5]]).tocsr()  # the last item is a copy of item 5
    cand[:, 0], cand[:, 1] = 5, a.shape[0] - 1
    op = birank_tag_space(a, 0.5, 0.5, dtype=np.float32)
    got = candidates.tag_space_rows(op.s, op.t, op.scale, q, cand)
    assert np.array_equal(got[:, 0], got[:, 1])


def test_bad_shapes_are_refused():
    a, q, cand = _data()
    w = bm25_operator(a)
    with pytest.raises(ValueError, match="n_queries"):
        candidates.sparse_rows(w, q, cand[:5])
    with pytest.raises(ValueError, match="outside"):
        candidates.sparse_rows(w, q, cand + 10_000)
    with pytest.raises(ValueError, match="over the limit"):
        birank_tag_space(sp.csr_matrix((3, 20_000)), 0.5, 0.5)
