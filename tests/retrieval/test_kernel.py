"""The compiled score-and-select kernel returns exactly the reference top-k: scores descending, lower row first
among equal scores, excluded rows never, padding -1 / -inf; both its sparse (touched items) and dense modes."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from betag_engine.retrieval import kernel
from betag_engine.retrieval.bm25 import bm25_operator

pytestmark = pytest.mark.skipif(not kernel.available(), reason="numba not installed")


def _reference(wt: sp.csr_matrix, q: sp.csr_matrix, k: int, exclude) -> list[list[int]]:
    dense = (q @ wt).toarray()
    out = []
    for i, row in enumerate(dense):
        banned = set(int(r) for r in exclude[i])
        order = sorted((r for r in range(len(row)) if r not in banned), key=lambda r: (-row[r], r))
        out.append(order[:k])
    return out


@st.composite
def cases(draw):
    n_items = draw(st.integers(1, 60))
    n_tags = draw(st.integers(1, 15))
    counts = draw(st.lists(st.integers(0, 3), min_size=n_items * n_tags, max_size=n_items * n_tags))
    a = sp.csr_matrix(np.array(counts, dtype=float).reshape(n_items, n_tags))
    n_q = draw(st.integers(1, 4))
    qv = draw(st.lists(st.integers(0, 2), min_size=n_q * n_tags, max_size=n_q * n_tags))
    q = sp.csr_matrix(np.array(qv, dtype=float).reshape(n_q, n_tags))
    k = draw(st.integers(1, n_items + 2))
    exclude = [draw(st.lists(st.integers(0, n_items - 1), max_size=3)) for _ in range(n_q)]
    return a, q, k, exclude


@settings(max_examples=150, deadline=None)
@given(cases())
def test_kernel_matches_the_reference_top_k(case):
    a, q, k, exclude = case
    wt = bm25_operator(a, 1.2, 0.75).T.tocsr()
    rows, vals = kernel.sparse_topk(wt, q, k, exclude)
    dense = (q @ wt).toarray()
    for i, expected in enumerate(_reference(wt, q, k, exclude)):
        got = [int(r) for r in rows[i] if r >= 0]
        assert got == expected
        np.testing.assert_allclose(vals[i][:len(got)], dense[i, expected])
        assert np.all(np.isneginf(vals[i][len(got):]))


@pytest.mark.parametrize("n_items", [50, 5000])  # few items: dense mode; many untouched items: sparse mode
def test_both_modes_on_a_wider_catalog(n_items):
    rng = np.random.default_rng(7)
    a = sp.random(n_items, 40, density=0.05, random_state=7, format="csr")
    a.data[:] = rng.integers(1, 4, len(a.data))
    wt = bm25_operator(a, 1.5, 0.75).T.tocsr()
    q = sp.csr_matrix(a[:6])
    q.data[:] = 1.0
    exclude = [[i] for i in range(6)]
    rows, _ = kernel.sparse_topk(wt, q, 10, exclude)
    assert [list(r) for r in rows] == _reference(wt, q, 10, exclude)


def test_bad_exclusions_are_refused():
    wt = bm25_operator(sp.csr_matrix(np.eye(3)), 1.2, 0.75).T.tocsr()
    with pytest.raises(ValueError, match="outside"):
        kernel.sparse_topk(wt, sp.csr_matrix(np.eye(3)), 2, [[3], [], []])
    with pytest.raises(ValueError, match="entries"):
        kernel.sparse_topk(wt, sp.csr_matrix(np.eye(3)), 2, [[0]])
