"""Leave-one-last split and negative sampling never leak the target (property tests)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from betag_engine.evaluation import leave_one_last, restrict_sequences, sample_negatives

sequences_st = st.dictionaries(
    st.integers(1, 40), st.lists(st.integers(1, 60), min_size=1, max_size=12), min_size=1, max_size=15
)


def test_split_shape():
    split = leave_one_last({1: [5, 6, 7, 8], 2: [1, 2], 3: [4, 5, 6]})
    assert split.train == {1: [5, 6], 2: [1, 2], 3: [4]}
    assert [(c.user, c.history, c.target) for c in split.validation] == [(1, (5, 6), 7), (3, (4,), 5)]
    assert [(c.user, c.history, c.target, c.query_item) for c in split.test] == [(1, (5, 6, 7), 8, 7),
                                                                               (3, (4, 5), 6, 5)]
    assert split.short_users == [2]


@settings(max_examples=60, deadline=None)
@given(sequences_st)
def test_split_never_leaks_targets_into_train_or_history(seqs):
    split = leave_one_last(seqs)
    for case in split.validation + split.test:
        seq = seqs[case.user]
        assert case.history == tuple(seq[:len(case.history)])
        assert case.target == seq[len(case.history)]
        assert split.train[case.user] == seq[:-2]
    for case in split.validation:
        assert len(case.history) == len(seqs[case.user]) - 2
    assert set(split.train) == set(seqs)


@settings(max_examples=60, deadline=None)
@given(sequences_st, st.integers(0, 5), st.integers(5, 120))
def test_negatives_never_include_target_or_touched(seqs, seed, n):
    pool = np.arange(1, 61)
    split = leave_one_last(seqs)
    for phase in ("validation", "test"):
        cases = split.cases(phase)
        neg = sample_negatives(cases, seqs, pool, n=n, seed=seed, phase=phase)
        assert neg.shape == (len(cases), min(n, len(pool) - 1))
        for case, row in zip(cases, neg):
            assert case.target not in row
            assert len(set(row.tolist())) == len(row)
            assert set(row.tolist()) <= set(pool.tolist())
            free = len(set(pool.tolist()) - set(seqs[case.user]))
            if free >= len(row):  # the fallback to touched items happens only when it must
                assert not set(row.tolist()) & set(seqs[case.user])


def test_negatives_are_seeded_and_independent_of_other_users():
    seqs = {1: [1, 2, 3, 4], 2: [5, 6, 7], 3: [8, 9, 10, 11, 12]}
    pool = np.arange(1, 500)
    split = leave_one_last(seqs)
    a = sample_negatives(split.test, seqs, pool, seed=7)
    b = sample_negatives(split.test, seqs, pool, seed=7)
    c = sample_negatives(split.test[1:], seqs, pool, seed=7)
    assert np.array_equal(a, b) and np.array_equal(a[1:], c)
    assert not np.array_equal(a, sample_negatives(split.test, seqs, pool, seed=8))


def test_restrict_sequences():
    assert restrict_sequences({1: [1, 2, 3], 2: [9]}, [1, 3]) == {1: [1, 3]}
