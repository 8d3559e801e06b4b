"""Jobs end to end on a tiny in-process random model: resumability, every stage, stored results."""

import json
from pathlib import Path

import pytest

from betag_engine.catalog.store import ensure_system, item_tags, set_item_tags, tagged_item_ids
from betag_engine.code_version import code_version
from betag_engine.experiments.diagnosis import diagnose
from betag_engine.experiments.report import to_markdown
from betag_engine.jobs.runner import run_job
from betag_engine.settings import load_settings
from betag_engine.tagging import llm_access
from betag_engine.tagging.base_tags import base_tags_job
from betag_engine.tagging.betag import betag_job
from betag_engine.tagging.common import popular_item_ids
from betag_engine.tagging.confidence import confidence_job
from betag_engine.tagging.finetune import adapter_dir, finetune_job
from betag_engine.tagging.taggpt import taggpt_job
from db.models import JobCheckpoint
from db.session import session_scope


class _Crash(RuntimeError):
    pass


def _run(kind, fn, params, url):
    """Run ``fn`` as a job on the database at ``url`` with the environment's other settings."""
    settings = load_settings().with_overrides(database_url=url)
    return run_job(kind, params, lambda ctx: fn(ctx, params), settings, progress_bar=False)


def test_base_tags_resume_after_crash(tiny_model, demo_url, monkeypatch):
    real_open = llm_access.open_backend
    calls = {"n": 0, "prompts": 0}

    def crashing_open(*args, **kwargs):
        backend = real_open(*args, **kwargs)
        generate = backend.generate

        def gen(prompts, config):
            calls["n"] += 1
            calls["prompts"] += len(prompts)
            if calls["n"] == 3:
                raise _Crash("killed mid-way")
            return generate(prompts, config)

        backend.generate = gen
        return backend

    monkeypatch.setattr(llm_access, "open_backend", crashing_open)
    params = {"limit": 10, "batch_size": 4, "max_new_tokens": 8}
    with pytest.raises(_Crash):
        _run("base-tags", base_tags_job, params, demo_url)
    with session_scope(demo_url) as s:
        assert len([u for u in s.query(JobCheckpoint.unit)]) == 8  # two batches committed before the crash
    calls["prompts"] = 0
    result = _run("base-tags", base_tags_job, params, demo_url)
    assert result["processed"] == 2 and calls["prompts"] == 2  # only the unfinished items were prompted
    with session_scope(demo_url) as s:
        system = s.query(JobCheckpoint).count()
        assert system == 10


def test_pipeline_stages_on_tiny_model(tiny_model, demo_url):
    items = 12
    base = _run("base-tags", base_tags_job, {"limit": items, "batch_size": 6, "max_new_tokens": 12}, demo_url)
    assert base["processed"] == items
    with session_scope(demo_url) as s:
        pool = popular_item_ids(s, items)
        # A random model's base tags are often empty; give those items their genres so finetuning has data.
        native = item_tags(s, "native", pool)
        have = tagged_item_ids(s, "base")
        system = ensure_system(s, "base", "base")
        for i in pool:
            if i not in have:
                set_item_tags(s, system, i, {t.tag: 1.0 for t in native.get(i, [])})
        s.commit()

    tg = _run("taggpt", taggpt_job, {"limit": items, "samples": 3, "max_new_tokens": 12, "min_count": 1,
                                     "seed": 1}, demo_url)
    assert tg["items"] == items and tg["distinct_tags"] <= tg["raw_distinct_tags"]

    ft_params = {"adapter": "tiny", "limit": items, "users": 40, "epochs": 1, "batch_size": 8, "rank": 4,
                 "alpha": 8, "max_tokens": 96, "lr": 1e-3}
    ft = _run("finetune", finetune_job, ft_params, demo_url)
    folder = adapter_dir("tiny", load_settings().model_cache_dir)
    assert (folder / "adapter_config.json").is_file() and (folder / "adapter_model.safetensors").is_file()
    state = json.loads((folder / "training.json").read_text())
    assert state["epochs_done"] == 1 and state["data_hash"] == ft["data_hash"] and ft["loss_curve"]
    head = json.loads((folder / "head_tokens.json").read_text())  # default head "tags": the lines' tokens
    assert state["params"]["head"] == "tags" and 0 < len(head) < 400
    ft2 = _run("finetune", finetune_job, {**ft_params, "epochs": 2}, demo_url)  # resumes after epoch 1
    assert [p["epoch"] for p in ft2["loss_curve"]].count(1) == len([p for p in ft["loss_curve"]])
    assert json.loads((folder / "training.json").read_text())["epochs_done"] == 2

    m = 3
    bt = _run("betag", betag_job, {"adapter": "tiny", "limit": items, "m": m, "sweep": [1], "max_new_tokens": 10,
                                   "batch_size": 4}, demo_url)
    assert bt["items"] == items and set(bt["systems"]) == {"betag", "betag-m1"}
    noft = _run("betag", betag_job, {"system": "betag-noft", "adapter": None, "limit": items, "m": m,
                                     "max_new_tokens": 10}, demo_url)
    assert "lora" not in noft["model"] and "lora" in bt["model"]
    with session_scope(demo_url) as s:
        base_tags = item_tags(s, "base", pool)
        for name, top in (("betag", m), ("betag-m1", 1), ("betag-noft", m)):
            for item_id, tags in item_tags(s, name).items():
                # the base tags are beam 0 (M+1 beams, as in the authors' code)
                assert all(1 <= t.count <= top + 1 for t in tags)
                counts = {t.tag: t.count for t in tags}
                assert all(counts.get(t.tag, 0) >= 1 for t in base_tags[item_id][:8])
        target = next(iter(item_tags(s, "base", pool)))
        found = diagnose(s, ["betag", "betag-noft", "never-generated"], pool)
    assert [d.system for d in found.beams] == ["betag", "betag-noft"]
    assert all(d.beams == items * m and 0 <= d.successor_share <= d.exact_line_share <= 1 for d in found.beams)
    assert {r.retriever for r in found.oracle.rows} == {"bm25", "birank", "popular"}
    conf = _run("confidence", confidence_job, {"system": "base", "item_ids": [target]}, demo_url)
    assert conf["pairs_scored"] >= 1
    with session_scope(demo_url) as s:
        assert all(0.0 < t.confidence < 1.0 for t in item_tags(s, "base", [target])[target])


def test_pipeline_on_an_empty_database_imports_the_catalog_then_reports(db_url, monkeypatch):
    """The import runs inside the pipeline job; logging during it once deadlocked on SQLite's write lock."""
    from pathlib import Path

    from betag_engine.experiments import pipeline
    from db.models import Job

    monkeypatch.setattr(pipeline, "_run_stage", lambda ctx, stage: {"model": "not run in this test"})
    params = {"dataset": "ml-100k", "profile": "quick"}
    result = _run("pipeline", pipeline.pipeline_job, params, db_url)
    report = json.loads(Path(result["json"]).read_text())
    assert [r["system"] for r in report["table2"]] == ["Popular", "native", "native"]
    assert report["n_items_evaluated"] == 150 and report["diagnosis"] == {}  # no base tags: nothing to diagnose
    assert report["catalog"]["items"] == 1682 and report["catalog"]["interactions"] == 100000
    assert report["catalog"]["source"] == "ml-100k" and len(report["catalog"]["content_hash"]) == 16
    assert len(report["cold_items"]) == 30 and set(report["table2_by_cases"]) == {"all", "warm", "cold"}
    cold_cases = report["case_sets"]["cold"]["meta"]["n_test_cases"]
    assert 0 < cold_cases < report["meta"]["n_test_cases"]
    assert all(r["user_H@10_se"] > 0 for r in report["table2"])
    markdown = Path(result["json"]).with_suffix(".md").read_text()
    assert "| total | " in markdown and " min " in markdown  # the whole run's time, against the 30-minute budget
    settings = load_settings()
    assert report["llm"] == {"backend": settings.llm_backend, "model": settings.llm_model,
                             "device": settings.llm_device, "quantization": settings.llm_quantization,
                             "training_dtype": settings.llm_training_dtype}
    assert f"LLM: {settings.llm_model} via {settings.llm_backend}, device {settings.llm_device}" in markdown
    with session_scope(db_url) as s:
        assert "imported the built-in ml-100k: 1682 items, 100000 interactions" in s.query(Job).one().log


def test_a_pipeline_rerun_after_a_profile_change_reruns_only_the_changed_stages(db_url, monkeypatch):
    """Same command after an upgrade changed a stage's parameters: that stage runs again (its report entry shows
    the new parameters), and so does what reads its output; the others are reused."""
    from betag_engine.experiments import pipeline, profiles

    ran: list[str] = []
    monkeypatch.setattr(pipeline, "_run_stage", lambda ctx, stage: ran.append(stage.name) or {"model": "none"})
    params = {"dataset": "ml-100k", "profile": "quick"}
    _run("pipeline", pipeline.pipeline_job, params, db_url)
    first = list(ran)
    assert len(first) == 8
    ran.clear()
    _run("pipeline", pipeline.pipeline_job, params, db_url)
    assert ran == []
    changed = {**profiles.PROFILES["quick"][profiles.FINETUNE_PAPER], "users": 123}
    monkeypatch.setitem(profiles.PROFILES["quick"], profiles.FINETUNE_PAPER, changed)
    result = _run("pipeline", pipeline.pipeline_job, params, db_url)
    assert ran == [profiles.FINETUNE_PAPER, profiles.BETAG_PAPER]  # and BETag on the retrained adapter
    report = json.loads(Path(result["json"]).read_text())
    assert report["stages"][profiles.FINETUNE_PAPER]["params"]["users"] == 123
    ran.clear()
    changed_base = {**profiles.PROFILES["quick"][profiles.BASE], "max_new_tokens": 8}
    monkeypatch.setitem(profiles.PROFILES["quick"], profiles.BASE, changed_base)
    _run("pipeline", pipeline.pipeline_job, params, db_url)
    assert ran == [name for name in first if name != profiles.TAGGPT]  # everything on the base tags


def test_finetuning_is_reproducible(tiny_model, demo_url):
    """Same params, same data: the same adapter (LoRA initialisation and dropout are seeded)."""
    from safetensors.torch import load_file

    with session_scope(demo_url) as s:
        pool = popular_item_ids(s, 10)
        native = item_tags(s, "native", pool)
        system = ensure_system(s, "base", "base")
        for i in pool:
            set_item_tags(s, system, i, {t.tag: 1.0 for t in native.get(i, [])})
        s.commit()
    weights = []
    for name in ("seeded-a", "seeded-b"):
        _run("finetune", finetune_job, {"adapter": name, "limit": 10, "users": 20, "epochs": 1, "batch_size": 8,
                                        "rank": 4, "alpha": 8, "max_tokens": 64, "lr": 1e-3, "dropout": 0.1}, demo_url)
        weights.append(load_file(adapter_dir(name, load_settings().model_cache_dir) / "adapter_model.safetensors"))
    assert weights[0].keys() == weights[1].keys()
    assert all(weights[0][k].equal(weights[1][k]) for k in weights[0])


def _native_as_base(url, n):
    """Give the n most popular items their genres as base tags (a random model's base tags are often empty)."""
    with session_scope(url) as s:
        pool = popular_item_ids(s, n)
        native = item_tags(s, "native", pool)
        system = ensure_system(s, "base", "base")
        for i in pool:
            set_item_tags(s, system, i, {t.tag: 1.0 for t in native.get(i, [])})
    return pool


def test_cf_tags_job_propagates_training_successors_and_skips_holdout(demo_url):
    from betag_engine.tagging.cf_tags import cf_tags_job

    pool = _native_as_base(demo_url, 30)
    cold = pool[:3]
    result = _run("cf-tags", cf_tags_job, {"limit": 30, "m": 4, "holdout_items": cold}, demo_url)
    assert result["items"] == 30 and result["holdout_items"] == 3 and result["items_with_behaviour"] == 27
    with session_scope(demo_url) as s:
        base = item_tags(s, "base", pool)
        cf = item_tags(s, "cf-tags", pool)
    for i in cold:  # nothing to propagate: exactly the base tags, once each
        assert {t.tag: t.count for t in cf[i]} == {t.tag: 1.0 for t in base[i]}
    warm = [i for i in pool if i not in cold]
    assert all(max(t.count for t in cf[i]) <= 5 for i in warm)  # base line + at most m = 4 successor lines
    assert sum(len(cf[i]) > len(base[i]) for i in warm) > 20  # successors add tags to most items


def test_betag_with_behaviour_context_shows_successor_lines(tiny_model, demo_url):
    pool = _native_as_base(demo_url, 12)
    params = {"system": "betag-ctx", "adapter": None, "limit": 12, "m": 2, "max_new_tokens": 6,
              "context": "behaviour", "context_pairs": 3, "holdout_items": pool[:2], "content_neighbours": 2}
    result = _run("betag", betag_job, params, demo_url)
    assert result["items"] == 12
    with session_scope(demo_url) as s:
        rows = dict(s.query(JobCheckpoint.unit, JobCheckpoint.payload).filter(JobCheckpoint.unit.like("item-%")))
    shown = {int(u.split("-")[1]): p["context"] for u, p in rows.items()}
    assert all(1 <= len(pairs) <= 3 for pairs in shown.values())
    for cold in pool[:2]:  # a cold item shows its neighbours' pairs, never itself or another cold item
        assert all(a != cold and b not in pool[:2] for a, b in shown[cold])
    warm = pool[2]
    assert all(a == warm for a, _ in shown[warm])


def test_context_finetuning_then_betag_beams_inside_the_shown_lines(tiny_model, demo_url):
    pool = _native_as_base(demo_url, 12)
    context = {"context": "behaviour", "context_pairs": 3, "holdout_items": pool[:2], "content_neighbours": 2}
    ft = _run("finetune", finetune_job, {"adapter": "tiny-ctx", "limit": 12, "examples_per_epoch": 16,
                                         "cold_rate": 0.5, "epochs": 1, "batch_size": 8, "rank": 4, "alpha": 8,
                                         "max_tokens": 256, "lr": 1e-3, **context}, demo_url)
    state = json.loads((adapter_dir("tiny-ctx", load_settings().model_cache_dir) / "training.json").read_text())
    assert state["examples_per_epoch"] == 16 and ft["loss_curve"] and state["params"]["context"] == "behaviour"
    _run("betag", betag_job, {"system": "betag-ctx", "adapter": "tiny-ctx", "limit": 12, "m": 2, "max_new_tokens": 40,
                              "vocabulary": "context", **context}, demo_url)
    with session_scope(demo_url) as s:
        base = {i: [t.tag for t in ts] for i, ts in item_tags(s, "base", pool).items()}
        rows = dict(s.query(JobCheckpoint.unit, JobCheckpoint.payload).filter(JobCheckpoint.unit.like("item-%")))
    for payload in rows.values():
        if not payload.get("context"):
            continue
        shown = [sorted(base[b]) for _, b in payload["context"]]
        assert all(sorted(beam) in shown for beam in payload["beams"])  # every beam is one of the shown lines


def test_pipeline_on_the_current_catalog_needs_a_recorded_or_given_prompt(db_url, monkeypatch):
    from betag_engine.catalog.importer import import_frames
    from betag_engine.catalog.movielens import load_frames
    from betag_engine.experiments import pipeline

    items, inter = load_frames("ml-100k")
    import_frames(db_url, items.head(300), inter[inter["item_id"].isin(set(items.head(300)["item_id"]))],
                  names=("items.csv", "interactions.csv", ""))
    monkeypatch.setattr(pipeline, "_run_stage", lambda ctx, stage: {"model": "not run in this test"})
    with pytest.raises(ValueError, match="no prompt preset recorded"):
        _run("pipeline", pipeline.pipeline_job, {"dataset": "current"}, db_url)
    result = _run("pipeline", pipeline.pipeline_job, {"dataset": "current", "domain": "products"}, db_url)
    report = json.loads(Path(result["json"]).read_text())
    assert report["dataset"].startswith("catalog-") and report["catalog"]["items"] == 300
    assert report["stages"] == {} or all(st["params"]["prompt"]["domain"] == "products"
                                         for st in report["stages"].values() if "prompt" in st["params"])


def test_prompt_resolution_prefers_flags_then_the_catalog_record():
    from betag_engine.experiments.pipeline import PipelineParams, resolve_prompt

    recorded = {"domain": "products", "description_chars": 120}
    assert resolve_prompt(PipelineParams(dataset="current"), recorded) == recorded
    assert resolve_prompt(PipelineParams(dataset="current", domain="products"), recorded) == recorded
    assert resolve_prompt(PipelineParams(dataset="current", domain="movies"), recorded) == {"domain": "movies"}
    own = {"domain": "products", "item_fields": ["title"]}
    assert resolve_prompt(PipelineParams(dataset="current", prompt=own), recorded) == own
    with pytest.raises(ValueError, match="prompt field must be one of"):
        PipelineParams(dataset="current", prompt={"bogus": 1})


def test_finetune_resumes_inside_an_epoch_as_if_never_stopped(tiny_model, demo_url, monkeypatch):
    """A crash mid-epoch loses only the steps since the last checkpoint; the resumed run ends where an
    uninterrupted one does (same batches, dropout and optimizer state)."""
    import torch
    from safetensors.torch import load_file

    from betag_engine.jobs import runner
    from betag_engine.tagging import finetune

    items = 12
    _run("base-tags", base_tags_job, {"limit": items, "batch_size": 6, "max_new_tokens": 12}, demo_url)
    with session_scope(demo_url) as s:
        pool = popular_item_ids(s, items)
        native = item_tags(s, "native", pool)
        system = ensure_system(s, "base", "base")
        for i in pool:  # deterministic, non-empty base tags for every item
            set_item_tags(s, system, i, {t.tag: 1.0 for t in native.get(i, [])} or {"tag": 1.0})
        s.commit()
    params = {"limit": items, "users": 40, "epochs": 1, "batch_size": 4, "rank": 4, "alpha": 8, "dropout": 0.1,
              "max_tokens": 96, "lr": 1e-3}
    settings_dir = load_settings().model_cache_dir
    whole = _run("finetune", finetune_job, {**params, "adapter": "whole"}, demo_url)
    steps = len(whole["loss_curve"])
    assert steps >= 4

    monkeypatch.setattr(finetune, "CHECKPOINT_SECONDS", 0.0)  # checkpoint after every step
    real_progress = runner.JobContext.progress

    def crash_at_step_3(self, done, *args, **kwargs):
        real_progress(self, done, *args, **kwargs)
        if done == 3:
            raise _Crash("killed mid-epoch")

    monkeypatch.setattr(runner.JobContext, "progress", crash_at_step_3)
    with pytest.raises(_Crash):
        _run("finetune", finetune_job, {**params, "adapter": "resumed"}, demo_url)
    folder = adapter_dir("resumed", settings_dir)
    assert json.loads((folder / "partial" / "partial.json").read_text())["steps_done"] == 2
    monkeypatch.setattr(runner.JobContext, "progress", real_progress)
    resumed = _run("finetune", finetune_job, {**params, "adapter": "resumed"}, demo_url)
    assert [p["loss"] for p in resumed["loss_curve"]] == pytest.approx([p["loss"] for p in whole["loss_curve"]])
    assert not (folder / "partial").exists()
    a = load_file(adapter_dir("whole", settings_dir) / "adapter_model.safetensors")
    b = load_file(folder / "adapter_model.safetensors")
    assert a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_parallel_stages_run_the_companion_in_a_one_thread_worker_with_the_same_tags(tiny_model, demo_url):
    """--parallel: TagGPT runs beside base tags as a recorded job in its own 1-thread worker process; its tags are
    those the same job makes in this process, and both stages are recorded for the report."""
    import os

    from betag_engine.experiments import pipeline
    from betag_engine.experiments.profiles import Stage
    from db.models import Job

    shared = {"limit": 8, "max_new_tokens": 8}
    taggpt = {**shared, "samples": 2, "min_count": 1, "seed": 1, "batch_size": 4}
    plan = [Stage("base", "base-tags", {**shared, "system": "base", "batch_size": 4}),
            Stage("taggpt", "taggpt", {**taggpt, "system": "taggpt"})]
    settings = load_settings().with_overrides(database_url=demo_url)
    stages = run_job("pipeline", {"test": "parallel"}, lambda ctx: pipeline._run_stages(ctx, plan, "quick", True),
                     settings, progress_bar=False)
    assert set(stages) == {"base", "taggpt"} and stages["taggpt"]["result"]["items"] == 8
    assert stages["taggpt"]["beside"]["stage"] == "base" and stages["taggpt"]["beside"]["waited"] >= 0
    assert 0 < stages["taggpt"]["seconds"] and "beside" not in stages["base"]
    with session_scope(demo_url) as s:
        worker = s.query(Job).filter(Job.kind == "taggpt").one()
        assert worker.status == "done" and worker.worker_pid not in (None, os.getpid())
        assert "runs beside the next stage" in s.query(Job).filter(Job.kind == "pipeline").one().log
    _run("taggpt", taggpt_job, {**taggpt, "system": "taggpt-here"}, demo_url)  # the same job in this process
    with session_scope(demo_url) as s:
        apart, here = item_tags(s, "taggpt"), item_tags(s, "taggpt-here")
    assert {i: sorted((t.tag, t.count) for t in tags) for i, tags in apart.items()} == \
        {i: sorted((t.tag, t.count) for t in tags) for i, tags in here.items()}


def test_an_interim_report_evaluates_only_the_stages_that_finished(db_url, monkeypatch):
    """`pipeline --interim` beside a long run: no stage runs, the finished stages' systems are evaluated, and a
    system whose stage is still going (tags partly written) stays out of every table. (Here only base writes tags.)"""
    from betag_engine.experiments import pipeline, profiles

    def stage_job(ctx, stage):
        if stage.name == profiles.BETAG:
            raise _Crash("the long run is still in this stage")
        if stage.name == profiles.BASE:
            with session_scope(db_url) as s:  # base tags = native genres, so the base rows have tags
                system = ensure_system(s, "base", "base")
                for i, tags in item_tags(s, "native").items():
                    set_item_tags(s, system, i, {t.tag: 1.0 for t in tags})
                s.commit()
        return run_job(stage.kind, stage.params, lambda ctx: {"model": "test"}, ctx.settings, progress_bar=False)

    monkeypatch.setattr(pipeline, "_run_stage", stage_job)
    params = {"dataset": "ml-100k", "profile": "quick"}
    with pytest.raises(_Crash):
        _run("pipeline", pipeline.pipeline_job, params, db_url)
    with session_scope(db_url) as s:  # the crashed run recorded each finished stage with the code it ran under
        recorded = [c.payload for c in s.query(JobCheckpoint).filter(JobCheckpoint.unit == f"stage-{profiles.BASE}")]
    assert len(recorded) == 1 and recorded[0]["code"] == code_version()
    with session_scope(db_url) as s:  # the unfinished BETag stage has written some of its tags
        partial = ensure_system(s, profiles.BETAG, "betag")
        for i, tags in list(item_tags(s, "native").items())[:40]:
            set_item_tags(s, partial, i, {t.tag: 1.0 for t in tags})
        s.commit()
    monkeypatch.setattr(pipeline, "_run_stage", lambda ctx, stage: pytest.fail(f"{stage.name} ran"))
    result = _run("pipeline", pipeline.pipeline_job, {**params, "interim": True}, db_url)
    assert Path(result["json"]).name == "pipeline-ml-100k-quick-interim.json"
    report = json.loads(Path(result["json"]).read_text())
    assert report["unfinished_stages"] == [profiles.BETAG, profiles.BETAG_NOFT, profiles.FINETUNE_PAPER,
                                           profiles.BETAG_PAPER]
    assert {r["system"] for r in report["rows"]} == {"-", "native", "base"}  # "-": Popular
    assert set(report["stage_seconds"]) == {profiles.BASE, profiles.TAGGPT, profiles.CF_TAGS, profiles.FINETUNE,
                                            "evaluation"}
    markdown = Path(result["markdown"]).read_text()
    assert "**Interim report**" in markdown and "betag, betag-noft, finetune-paper, betag-paper" in markdown
    assert "(no tags in this catalog): taggpt, cf-tags." in markdown  # not betag: its stage is still to come
    # which code wrote it: the report's commit; each stage's where the pipeline recorded it (not an interim's job rows)
    assert report["code"] == code_version() and ("Code: commit" in markdown) == bool(code_version())
    assert "| stage | seconds |\n" in markdown and not report["stage_code"]
    marked = to_markdown({**report, "code": "abc1234", "stage_code": {profiles.BASE: "0123456"}})
    assert "| stage | seconds | commit |" in marked and "Code: commit abc1234" in marked
    assert f"| {profiles.BASE} | " in marked and "| 0123456 |" in marked and "| evaluation | " in marked
    # a stage's seconds sum its job's runs; reports and stage records from before say what they hold
    assert "(s; each stage's runs summed, a resumed stage's included)" in markdown
    mixed = to_markdown({**report, "stages_all_runs": [profiles.BASE]})
    assert "* = recorded before runs were summed" in mixed and f"| {profiles.TAGGPT} | " in mixed
    assert f"| {profiles.TAGGPT} | {report['stage_seconds'][profiles.TAGGPT]}* |" in mixed
    assert "the last run of each stage" in to_markdown({k: v for k, v in report.items() if k != "stages_all_runs"})
