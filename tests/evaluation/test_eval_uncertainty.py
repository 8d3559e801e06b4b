"""Standard errors, per-case values, paired differences, case subsets, popularity override, bounded grid search,
the tag-space BiRank route and the negatives' fast path, on plain data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from betag_engine.evaluation import (
    CaseValues,
    EvalConfig,
    case_metrics,
    evaluate_table,
    paired_difference,
    prepare,
    sample_negatives,
    scoring,
)
from betag_engine.split import leave_one_last
from betag_engine.types import matrix_from_triples


def _toy(n_users: int = 80, seed: int = 0):
    rng = np.random.default_rng(seed)
    item_ids = np.arange(1, 301)
    triples = [(int(i), f"cluster{(i - 1) // 50}", 1.0) for i in item_ids]
    triples += [(int(i), f"t{i % 7}", 1.0) for i in item_ids]
    seqs = {}
    for u in range(1, n_users + 1):
        lo = 1 + 50 * (u % 6)
        seqs[u] = [int(v) for v in rng.choice(np.arange(lo, lo + 50), size=int(rng.integers(3, 10)), replace=False)]
    return matrix_from_triples(item_ids, triples), seqs


CFG = EvalConfig(n_negatives=30, bm25_k1=(0.5, 1.5), bm25_b=(0.25, 0.75), birank_values=(0.2, 0.8))


def test_each_cell_carries_standard_errors_and_per_case_values():
    tm, seqs = _toy()
    table = evaluate_table({"toy": tm}, seqs, config=CFG)
    for row in table.rows:
        for res in row.results.values():
            values = res.test_cases
            assert len(values.hr) == res.test.n_cases == table.meta["n_test_cases"]
            assert res.test.hr == pytest.approx(values.hr.mean())
            assert res.test.ndcg_se == pytest.approx(values.ndcg.std(ddof=1) / np.sqrt(len(values.ndcg)))
            assert res.test.hr_se == pytest.approx(values.hr.std(ddof=1) / np.sqrt(len(values.hr)))
    assert table.row("-", "popular").results["user"].test.ndcg_se > 0
    stored = json.loads(json.dumps(table.as_dict()))["rows"][0]["results"]["user"]
    assert {"hr_se", "ndcg_se"} <= set(stored["test"])
    back = CaseValues.from_dict(stored["test_cases"])
    np.testing.assert_allclose(back.ndcg, table.rows[0].results["user"].test_cases.ndcg, atol=1e-7)


def test_paired_difference_from_objects_and_from_reports():
    tm, seqs = _toy()
    table = evaluate_table({"toy": tm}, seqs, config=CFG)
    d = table.difference(("toy", "bm25"), ("-", "popular"), "user", "ndcg")
    a, b = table.row("toy", "bm25").results["user"], table.row("-", "popular").results["user"]
    diff = a.test_cases.ndcg - b.test_cases.ndcg
    assert d.mean == pytest.approx(diff.mean()) and d.se == pytest.approx(diff.std(ddof=1) / np.sqrt(len(diff)))
    assert d.mean == pytest.approx(a.test.ndcg - b.test.ndcg)
    stored = json.loads(json.dumps(table.as_dict()))["rows"]
    from_report = paired_difference(stored[0]["results"]["user"], stored[-1]["results"]["user"], "ndcg")
    assert from_report.mean == pytest.approx(d.mean, abs=1e-6) and from_report.n == d.n
    text = d.describe("tags", "popular")
    assert ("beats" in text or "trails" in text or "ties" in text) and "±" in text
    assert paired_difference(a, a).is_tie()
    with pytest.raises(ValueError, match="metric"):
        paired_difference(a, b, "mrr")


def test_subsets_share_split_and_negatives_and_partition_the_cases():
    tm, seqs = _toy()
    prepared = prepare(tm.item_ids, seqs, CFG)
    cold = set(range(1, 301, 4))
    inside, outside = prepared.by_target(cold), prepared.by_target(cold, complement=True)
    for phase in ("validation", "test"):
        assert inside.n_cases(phase) + outside.n_cases(phase) == prepared.n_cases(phase)
        assert set(inside.targets(phase)) <= cold and not set(outside.targets(phase)) & cold
        rows = {tuple(r) for r in prepared.candidates[phase]}
        assert {tuple(r) for r in inside.candidates[phase]} <= rows  # same negatives
    full = evaluate_table({"toy": tm}, None, config=CFG, prepared=prepared)
    sub = evaluate_table({"toy": tm}, None, config=CFG, prepared=inside)
    assert sub.meta["subset"] == "target-in" and sub.meta["n_test_cases"] == inside.n_cases("test")
    mask = np.isin(prepared.targets("test"), list(cold))
    pop_full = full.row("-", "popular").results["user"].test_cases.ndcg
    np.testing.assert_array_equal(sub.row("-", "popular").results["user"].test_cases.ndcg, pop_full[mask])
    with pytest.raises(ValueError, match="different cases"):
        paired_difference(full.row("-", "popular").results["user"], sub.row("-", "popular").results["user"])
    cells = {}
    evaluate_table({"toy": tm}, None, config=CFG, prepared=inside, on_cell=cells.__setitem__)
    assert all(k.endswith("|target-in") for k in cells)


def test_popularity_override_drives_popular():
    tm, seqs = _toy()
    prepared = prepare(tm.item_ids, seqs, CFG)
    targets_first = np.zeros(len(tm.item_ids))
    targets_first[prepared.candidates["test"][:, 0]] = 1.0  # an oracle prior: every test target is "popular"
    table = evaluate_table({}, seqs, retrievers=[], config=CFG, item_ids=tm.item_ids, popularity=targets_first)
    default = evaluate_table({}, seqs, retrievers=[], config=CFG, item_ids=tm.item_ids)
    hr, _ = case_metrics(targets_first[prepared.candidates["test"]], CFG.k, CFG.ties)
    got = table.row("-", "popular").results["user"]
    np.testing.assert_array_equal(got.test_cases.hr, hr)
    assert got.test.hr > default.row("-", "popular").results["user"].test.hr
    again = evaluate_table({}, None, retrievers=[], config=CFG, prepared=prepared.with_popularity(targets_first))
    assert again.row("-", "popular").results["user"].test.hr == got.test.hr
    with pytest.raises(ValueError, match="one value per pool item"):
        prepared.with_popularity(np.ones(3))


def test_grid_search_uses_a_bounded_validation_sample():
    tm, seqs = _toy(n_users=120)
    capped = EvalConfig(**{**CFG.__dict__, "max_validation_cases": 25})
    table = evaluate_table({"toy": tm}, seqs, config=capped)
    res = table.row("toy", "bm25").results["item"]
    assert table.meta["n_grid_cases"] == 25 and res.validation.n_cases == 25
    assert res.test.n_cases == table.meta["n_test_cases"] == 120
    rows = prepare(tm.item_ids, seqs, capped).grid_rows(capped)
    assert np.array_equal(rows, np.sort(rows)) and len(set(rows)) == 25


def test_birank_tag_space_route_matches_the_dense_route(monkeypatch):
    # Random counts: no two items score equal by symmetry alone, so float noise cannot split or make ties.
    rng = np.random.default_rng(3)
    _, seqs = _toy()
    tm = matrix_from_triples(np.arange(1, 301), [(i, f"t{t}", float(rng.integers(1, 4))) for i in range(1, 301)
                                                 for t in rng.choice(25, size=3, replace=False)])
    dense = evaluate_table({"toy": tm}, seqs, retrievers=["birank"], config=CFG, include_popular=False)
    monkeypatch.setattr(scoring, "DENSE_BIRANK_MAX_ENTRIES", 0)
    monkeypatch.setattr(scoring, "TAG_SPACE_DTYPE", np.float64)
    tag_space = evaluate_table({"toy": tm}, seqs, retrievers=["birank"], config=CFG, include_popular=False)
    for task in ("user", "item"):
        a, b = dense.rows[0].results[task], tag_space.rows[0].results[task]
        assert a.params == b.params
        assert a.test.hr == pytest.approx(b.test.hr) and a.test.ndcg == pytest.approx(b.test.ndcg)


def test_progress_starts_before_the_split_is_prepared():
    tm, seqs = _toy()
    calls = []
    evaluate_table({"toy": tm}, seqs, retrievers=["bm25"], config=CFG, progress=lambda *a: calls.append(a))
    assert calls[0][0] == 0 and "preparing" in calls[0][2]
    assert any("negatives" in c[2] for c in calls) and calls[-1][0] == calls[-1][1]


def _reference_negatives(cases, touched, pool, n, seed, phase):
    """The straightforward draw (the untouched pool built per case) that the fast path must reproduce."""
    pool = np.unique(pool)
    m = min(n, len(pool) - 1)
    out = []
    for case in cases:
        rng = np.random.default_rng([seed, {"validation": 1, "test": 2}[phase], case.user])
        free = np.setdiff1d(pool, list(touched[case.user]) + [case.target])
        if len(free) >= m:
            out.append(rng.choice(free, size=m, replace=False))
        else:
            rest = np.setdiff1d(pool, np.concatenate([free, [case.target]]))
            out.append(np.concatenate([free, rng.choice(rest, size=m - len(free), replace=False)]))
    return np.array(out)


@pytest.mark.parametrize("pool_size,n", [(300, 30), (20_000, 100), (12, 30)])
def test_fast_negatives_equal_the_reference_draw(pool_size, n):
    _, seqs = _toy()
    seqs[999] = list(range(1, 12))  # a user who touched most of a small pool (the fallback path)
    split = leave_one_last(seqs)
    pool = np.arange(1, pool_size + 1)
    for phase in ("validation", "test"):
        cases = split.cases(phase)
        got = sample_negatives(cases, seqs, pool, n=n, seed=5, phase=phase)
        assert np.array_equal(got, _reference_negatives(cases, seqs, pool, n, 5, phase))
