"""bench scale: the synthetic catalog is seeded and shaped as asked; the whole bench runs end to end on a tiny
catalog (every step in its own process) and records each step; the memory profile helper."""

from __future__ import annotations

import json

import numpy as np

from betag_engine.bench.scale import memory_profile
from betag_engine.bench.synthetic import CatalogSpec, build_catalog


def test_synthetic_catalog_is_seeded_and_shaped():
    spec = CatalogSpec(n_items=500, n_users=80, n_interactions=3000, n_tags=60, seed=3)
    a, b = build_catalog(spec), build_catalog(spec)
    assert a.items.equals(b.items) and a.interactions.equals(b.interactions)
    assert len(a.items) == 500 and a.interactions["user_id"].nunique() == 80
    per_item = a.items["tags"].str.split("|").map(len)
    assert per_item.between(2, 6).all() and per_item.min() == 2 and per_item.max() == 6
    assert 2900 <= len(a.interactions) <= 3000  # exact repeats (same user, item and second) are dropped
    assert not build_catalog(CatalogSpec(n_items=500, n_users=80, n_interactions=3000, n_tags=60, seed=4)).items.equals(
        a.items)


def test_memory_profile_takes_the_peak_of_each_fifth():
    samples = [(t, 100.0 + t) for t in np.linspace(0, 10, 101)]
    assert memory_profile(samples) == [102, 104, 106, 108, 110]
    assert memory_profile([]) == []


def test_bench_scale_runs_end_to_end(tmp_path, monkeypatch):
    from betag_engine.cli import main

    monkeypatch.setenv("BETAG_DATA_DIR", str(tmp_path / "data"))
    out = tmp_path / "bench.json"
    assert main(["bench", "scale", "--items", "400", "--users", "60", "--interactions", "2000", "--tags", "40",
                 "--workdir", str(tmp_path / "work"), "--json", str(out)]) == 0
    record = json.loads(out.read_text())
    steps = {s["step"]: s for s in record["steps"]}
    assert list(steps) == ["catalog", "import", "evaluate", "retrieval", "pages"]
    assert all(s["ok"] and s["peak_mb"] > 0 for s in steps.values())
    assert steps["evaluate"]["detail"]["first_output_s"] is not None
    pages = {r["name"] for r in steps["pages"]["detail"]["timings"]["rows"]}
    assert {"Catalog search", "Bulk review & export", "Retrieval preview", "render: retrieval"} <= pages
    rendered = [r for r in steps["pages"]["detail"]["timings"]["rows"] if r["name"].startswith("render: ")]
    assert len(rendered) == 10 and not any(r["note"] == "exception" for r in rendered)
    assert "rank birank, item query" in {r["name"] for r in steps["retrieval"]["detail"]["timings"]["rows"]}
