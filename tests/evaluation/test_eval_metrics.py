"""HR@k and NDCG@k: perfect ranking, miss, hand-computed cases, tie policies."""

from __future__ import annotations

import math

import numpy as np
import pytest

from betag_engine.evaluation import case_metrics, evaluate_scores, hr_at_k, ndcg_at_k


def test_perfect_ranking_is_one_and_miss_is_zero():
    perfect = np.array([[10.0] + [1.0] * 100])
    assert evaluate_scores(perfect).hr == 1.0 and evaluate_scores(perfect).ndcg == 1.0
    miss = np.array([[0.0] + [1.0] * 100])
    assert evaluate_scores(miss).hr == 0.0 and evaluate_scores(miss).ndcg == 0.0


def test_hand_computed_case():
    # target third (two negatives above) in case 1, eleventh in case 2: HR = 1/2, NDCG = (1/log2(4) + 0) / 2
    s1 = [5.0, 9.0, 7.0] + [1.0] * 98
    s2 = [5.0] + [9.0] * 10 + [1.0] * 90
    m = evaluate_scores(np.array([s1, s2]))
    assert m.hr == 0.5 and m.n_cases == 2
    assert m.ndcg == pytest.approx(0.5 * (1 / math.log2(4)))
    assert hr_at_k(np.array([0, 9, 10])).tolist() == [1, 1, 0]
    assert ndcg_at_k(np.array([0, 1])).tolist() == pytest.approx([1.0, 1 / math.log2(3)])


def test_tie_policies():
    # target tied with 3 negatives, 8 above: positions 8..11, two of four inside the top 10
    s = np.array([[2.0] + [3.0] * 8 + [2.0] * 3 + [0.0] * 89])
    hr, ndcg = case_metrics(s, 10, "expected")
    assert hr[0] == pytest.approx(0.5)
    assert ndcg[0] == pytest.approx((1 / math.log2(10) + 1 / math.log2(11)) / 4)
    assert case_metrics(s, 10, "pessimistic")[0][0] == 0.0
    assert case_metrics(s, 10, "optimistic")[1][0] == pytest.approx(1 / math.log2(10))
    with pytest.raises(ValueError, match="expected, pessimistic, optimistic"):
        case_metrics(s, 10, "random")


def test_all_tied_is_expected_random():
    s = np.zeros((1, 101))
    m = evaluate_scores(s)
    assert m.hr == pytest.approx(10 / 101)
