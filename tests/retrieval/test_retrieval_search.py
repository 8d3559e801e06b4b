"""Queries, top-k with exclusion, candidate restriction, and the app's what-if ranking."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from betag_engine.retrieval import (
    build_index,
    history_weights,
    item_queries,
    rank,
    retrieve,
    score_candidates,
    user_queries,
    with_item_tags,
)
from betag_engine.types import matrix_from_triples


@pytest.fixture
def tm():
    triples = [(10, "a", 1), (10, "b", 1), (11, "a", 1), (11, "b", 1), (12, "a", 1), (13, "c", 2), (14, "b", 1),
               (14, "c", 1), (15, "a", 1), (15, "b", 1), (15, "c", 1)]
    return matrix_from_triples(np.arange(10, 17), triples)  # item 16 untagged


def test_user_queries_weights(tm):
    assert history_weights(4, "linear").tolist() == [0.25, 0.5, 0.75, 1.0]
    q = user_queries(tm.matrix, [np.array([0, 3]), np.array([3, 0])], "linear").toarray()
    a = tm.matrix.toarray()
    np.testing.assert_allclose(q[0], 0.5 * a[0] + 1.0 * a[3])
    np.testing.assert_allclose(q[1], 0.5 * a[3] + 1.0 * a[0])
    u = user_queries(tm.matrix, [np.array([0, 3])], "uniform").toarray()[0]
    np.testing.assert_allclose(u, a[0] + a[3])
    with pytest.raises(ValueError, match="uniform, linear"):
        user_queries(tm.matrix, [np.array([0])], "exp")


@pytest.mark.parametrize("retriever", ["bm25", "birank"])
def test_top_k_excludes_query_item(tm, retriever):
    index = build_index(tm, retriever)
    q = item_queries(tm.matrix, [0])
    res = retrieve(index, q.toarray()[0], k=3, exclude=[0])
    assert 0 not in res.rows and 10 not in res.item_ids
    assert res.item_ids[0] == 11  # identical tags rank first
    assert list(res.scores) == sorted(res.scores, reverse=True)
    batch = retrieve(index, item_queries(tm.matrix, [0, 1]), k=2, exclude=[[0], [1]])
    assert batch.rows.shape == (2, 2) and 0 not in batch.rows[0] and 1 not in batch.rows[1]


def test_candidate_restriction(tm):
    index = build_index(tm, "bm25", {"k1": 1.2, "b": 0.5})
    q = item_queries(tm.matrix, [0])
    res = retrieve(index, q.toarray()[0], k=10, candidates=[3, 4, 6])
    assert set(res.rows) == {3, 4, 6}
    full = index.score(q.toarray()[0])
    cand = np.array([[1, 3, 6], [2, 0, 5]])
    got = score_candidates(index, item_queries(tm.matrix, [0, 4]), cand)
    np.testing.assert_allclose(got[0], full[[1, 3, 6]])
    np.testing.assert_allclose(got[1], index.score(item_queries(tm.matrix, [4]).toarray()[0])[[2, 0, 5]])


def test_popular_ignores_query(tm):
    index = build_index(tm, "popular", popularity=np.arange(7.0))
    res = retrieve(index, np.zeros(3), k=2, exclude=[6])
    assert res.item_ids.tolist() == [15, 14]


def test_what_if_changes_ranking(tm):
    before = rank(tm, "bm25", 13, k=6)
    assert before[0].item_id in (14, 15) and before[0].matched_tags == ["c"]
    draft = with_item_tags(tm, 12, {"c": 5, "new tag": 1})
    assert "new tag" in draft.tags and sp.issparse(draft.matrix)
    after = rank(draft, "bm25", 13, k=1)
    assert after[0].item_id == 12 and after[0].matched_tags == ["c"]
    by_tags = rank(draft, "birank", {"new tag": 1.0}, k=1)
    assert by_tags[0].item_id == 12


def test_rank_on_demo_db(session):
    from betag_engine.catalog.store import tag_matrix

    tm = tag_matrix(session, "native")
    out = rank(tm, "bm25", 1, k=10)
    history = rank(tm, "birank", [1, 2, 3], k=5, params={"alpha": 0.5, "beta": 0.5,
                                                                         "weighting": "linear"})
    assert len(out) == 10 and all(r.item_id != 1 for r in out) and out[0].matched_tags
    assert len(history) == 5 and not {1, 2, 3} & {r.item_id for r in history}


def test_sparse_operator_scores_both_paths_equal_the_product(monkeypatch):
    import numpy as np
    import scipy.sparse as sp

    import betag_engine.retrieval.fast as fast

    w = sp.random(3000, 200, density=0.3, format="csr", random_state=1)
    q = sp.random(40, 200, density=0.05, format="lil", random_state=2)
    q[3, :] = 0  # an empty query scores 0 everywhere
    q = sp.csr_matrix(q)
    expected = (q @ w.T).toarray()
    for threshold in (10**9, 0):  # SpGEMM path, then the per-query column path
        monkeypatch.setattr(fast, "COLUMN_PATH_MIN_TOUCHED", threshold)
        np.testing.assert_allclose(fast.sparse_operator_scores(w.T.tocsr(), q), expected, rtol=1e-12, atol=1e-12)


def test_bench_corpus_agrees_with_bm25s_on_a_small_catalog():
    from betag_engine.bench.retrieval import bench_corpus, synthetic_catalog

    a = synthetic_catalog(n_items=2000, n_tags=300, tags_per_item=6.0, zipf_s=1.1, seed=3)
    r = bench_corpus("small", a, n_queries=100, k=10, seed=3, check=20)
    assert r.top10_scores_equal == 1.0 and r.max_rel_diff < 1e-4
    assert r.ours_product_qps > 0 and r.bm25s_qps > 0
