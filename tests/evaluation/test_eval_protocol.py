"""Protocol on plain data, the evaluate CLI on the demo database, the job and its Report row, tag stats."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp

from betag_engine.evaluation import EvalConfig, evaluate, evaluate_table, grid, prepare, tag_stats
from betag_engine.types import TagMatrix, matrix_from_triples


def _toy():
    rng = np.random.default_rng(0)
    item_ids = np.arange(1, 301)
    # Six clusters of 50 items by tag; users stay within one cluster, so tags predict the next item.
    triples = [(int(i), f"cluster{(i - 1) // 50}", 1.0) for i in item_ids]
    triples += [(int(i), f"t{i % 7}", 1.0) for i in item_ids]
    seqs = {}
    for u in range(1, 61):
        lo = 1 + 50 * (u % 6)
        seqs[u] = [int(v) for v in rng.choice(np.arange(lo, lo + 50), size=8, replace=False)]
    return matrix_from_triples(item_ids, triples), seqs


def test_grid_sizes():
    cfg = EvalConfig()
    assert len(grid("bm25", "item", cfg)) == 20 and len(grid("bm25", "user", cfg)) == 40
    assert len(grid("birank", "item", cfg)) == 10 and all(p["alpha"] == p["beta"] for p in grid("birank", "item", cfg))
    assert grid("popular", "user", cfg) == [{}]


def test_tags_beat_random_on_clustered_toy():
    tm, seqs = _toy()
    cfg = EvalConfig(n_negatives=50)
    prepared = prepare(tm.item_ids, seqs, cfg)
    for retriever in ("bm25", "birank"):
        res = evaluate(prepared, tm, retriever, "user", cfg, "toy")
        assert res.test.n_cases == 60 and res.params in [g["params"] for g in res.grid]
        assert res.test.hr > 0.6  # random would be 10/51


def test_table_on_subset_and_resume():
    tm, seqs = _toy()
    sub = np.arange(1, 201)
    sub_tm = TagMatrix(sp.csr_matrix(tm.matrix[:200]), sub, tm.tags)
    cells = {}
    table = evaluate_table({"toy": sub_tm}, seqs, config=EvalConfig(n_negatives=20), item_ids=sub,
                           on_cell=lambda k, p: cells.__setitem__(k, p))
    assert table.meta["n_items"] == 200 and len(table.rows) == 3
    assert cells and all("|" in k for k in cells)
    again = evaluate_table({"toy": sub_tm}, seqs, config=EvalConfig(n_negatives=20), item_ids=sub, done=cells)
    assert again.meta["cells_computed"] == 0
    assert again.as_dict()["rows"] == table.as_dict()["rows"]


def test_tag_stats():
    tm = matrix_from_triples(np.array([1, 2, 3]), [(1, "a", 2), (1, "b", 1), (2, "a", 1)])
    st = tag_stats(tm)
    assert st.n_tagged_items == 2 and st.distinct_tags == 2 and st.tags_per_item_mean == 1.5
    assert st.single_item_tag_share == 0.5 and st.popularity == [("a", 2), ("b", 1)]
    assert st.tag_count_per_item_mean == 2.0


def test_cli_evaluate_smoke(demo_url, tmp_path, capsys):
    from betag_engine.cli import main

    out = tmp_path / "one.json"
    assert main(["evaluate", "--system", "native", "--retriever", "bm25", "--task", "item",
                 "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "native / bm25" in printed
    payload = json.loads(out.read_text())
    row = payload["rows"][0]
    assert row["system"] == "native" and set(row["results"]) == {"item"}
    res = row["results"]["item"]
    assert 0 < res["test"]["hr"] <= 1 and set(res["params"]) == {"k1", "b"}
    assert payload["meta"]["n_items"] == 1682 and payload["meta"]["n_test_cases"] == 943
    assert payload["meta"]["seed"] == 2024 and payload["tag_stats"]["native"]["distinct_tags"] == 19
    assert main(["evaluate", "--system", "nope"]) == 2


def test_evaluate_job_stores_report_and_resumes(demo_url, settings):
    from sqlalchemy import select

    from betag_engine.experiments.evaluate import evaluate_job
    from betag_engine.jobs.runner import run_job
    from db.models import Report
    from db.session import session_scope

    params = {"systems": ["native"], "retrievers": ["bm25"], "tasks": ["item"], "include_popular": False}
    result = run_job("evaluate", params, lambda ctx: evaluate_job(ctx, params), settings, progress_bar=False)
    again = run_job("evaluate", params, lambda ctx: evaluate_job(ctx, params), settings, progress_bar=False)
    assert again["rows"] == result["rows"]
    with session_scope(demo_url) as s:
        reports = s.scalars(select(Report).where(Report.kind == "evaluation")).all()
        assert len(reports) == 2 and reports[-1].payload["meta"]["cells_computed"] == 0
        first = reports[0].payload["rows"][0]["results"]["item"]["test"]["hr"]
        assert first == pytest.approx(result["rows"][0]["item_hr"])
