"""The behaviour graph, cf-tags (eqs. 4-5 over training successors) and the pairs shown as BETag context."""

import numpy as np

from betag_engine.tagging.behaviour import behaviour_graph, cf_tags, context_pairs
from betag_engine.tagging.content import ContentNeighbours

TRAIN = {1: [10, 20, 30], 2: [10, 20], 3: [10, 30, 40], 4: [40, 30]}
BASE = {10: ["a"], 20: ["b", "x"], 30: ["c"], 40: ["d", "x"]}


def test_successor_counts_popularity_and_lift_order():
    g = behaviour_graph(TRAIN)
    assert dict(g.successors[10]) == {20: 2, 30: 1}
    assert g.popularity[30] == 3 and g.popularity[10] == 3
    assert g.top_successors(10, 5) == [20, 30]
    assert g.top_successors(30, 5) == [40]  # ties by id; 40 -> 30 and 30 -> 40 each once
    # lift: 20 has popularity 2, 30 popularity 3; raw counts 2 vs 1 still rank 20 first at alpha 1
    assert g.top_successors(10, 1, alpha=1.0) == [20]


def test_holdout_items_leave_no_trace():
    g = behaviour_graph(TRAIN, holdout=[20])
    assert 20 not in g.popularity and 20 not in g.successors
    assert dict(g.successors[10]) == {30: 2}  # 10 -> 20 -> 30 becomes 10 -> 30 once the held-out item is gone
    assert not g.has_behaviour(20) and g.holdout == frozenset({20})


def test_cf_tags_counts_lines_and_falls_back_to_base():
    g = behaviour_graph(TRAIN, holdout=[40])
    tags = cf_tags(g, BASE, [10, 40], m=2)
    assert tags[10] == {"a": 1, "b": 1, "x": 1, "c": 1}  # base line + successors 20 and 30
    assert tags[40] == {"d": 1, "x": 1}  # cold: base tags only


def test_context_pairs_of_a_cold_item_come_from_its_neighbours_in_rounds():
    g = behaviour_graph(TRAIN, holdout=[40])
    assert context_pairs(g, 10, 3) == [(10, 20), (10, 30)]
    near = lambda item, k: [10, 20][:k]  # noqa: E731
    # round 1: each neighbour's best successor; round 2: 10's second (30) is already shown, 20 has no second
    assert context_pairs(g, 40, 3, neighbours=near, n_neighbours=2) == [(10, 20), (20, 30)]
    assert context_pairs(g, 40, 3) == []  # no neighbours given: nothing to show


def test_content_neighbours_rank_by_cosine_and_exclude_self():
    vectors = {"p": [1, 0], "q": [0.9, 0.1], "r": [0, 1], "s": [0.7, 0.7]}

    def embed(texts):
        v = np.array([vectors[t] for t in texts], dtype=float)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    near = ContentNeighbours({1: "p", 2: "q", 3: "r", 4: "s"}, candidates=[2, 3, 4], embed=embed)
    assert near(1, 2) == [2, 4]
    assert near(4, 3) == [2, 3]  # itself excluded; 2 and 3 are equally far from (0.7, 0.7): ties by id
    assert near(99, 2) == []
