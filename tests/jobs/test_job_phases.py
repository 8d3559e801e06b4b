"""Long first steps explain themselves: a job's phase (what, since when, usually how long) is on its row while it
runs, model loading reports through it, a cancel takes effect before a step begins or at the end of the current
batch, and the app's status line says all of that (instead of "running · 0/0")."""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from app_data.views import job_message, job_status
from betag_engine.errors import JobCancelled
from betag_engine.jobs.runner import request_cancel, run_job
from betag_engine.llm.models import _report
from db.models import Job
from db.session import session_scope


def _row(url):
    with session_scope(url) as s:
        job = s.scalar(select(Job).order_by(Job.id.desc()))
        return {"status": job.status, "message": job.message, "progress": (job.result or {}).get("progress") or {},
                "done": job.progress_done, "total": job.progress_total}


def test_a_phase_is_on_the_job_row_while_it_runs(db_url, settings):
    seen = {}

    def fn(ctx):
        _report("converting the model", "tiny from GGUF", (30.0, 70.0))  # what llm.models does, via the context
        seen.update(_row(db_url))
        ctx.set_total(2, "items")
        ctx.progress(1, "items: 1/2", eta="about 5 s left")
        seen["after"] = _row(db_url)
        return {}

    run_job("t", {}, fn, settings, progress_bar=False)
    assert seen["message"] == "converting the model: tiny from GGUF"
    assert seen["progress"]["phase"] == "converting the model" and seen["progress"]["expected_s"] == [30.0, 70.0]
    assert seen["after"]["progress"] == {"step_s": None, "eta": "about 5 s left"}
    assert "converting the model: tiny from GGUF (usually 30-70 s)" in _log(db_url)


def _log(url):
    with session_scope(url) as s:
        return s.scalar(select(Job.log))


def test_a_cancel_stops_before_a_long_step_begins(db_url, settings):
    def fn(ctx):
        request_cancel(ctx.job_id, ctx.url)
        ctx.phase("converting the model", "gemma")  # never starts
        raise AssertionError("the conversion ran after a cancel")

    with pytest.raises(JobCancelled):
        run_job("t", {}, fn, settings, progress_bar=False)
    assert _row(db_url)["status"] == "cancelled"


def test_a_cancel_takes_effect_at_the_end_of_the_current_batch(tiny_base_tags):
    url, checkpoints, status = tiny_base_tags
    assert status == "cancelled" and checkpoints == 2  # the batch running when the cancel came, nothing after


@pytest.fixture
def tiny_base_tags(demo_url, tmp_path, monkeypatch):
    """A base-tags job (batches of 2) whose first generate call requests a cancel."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tagging"))
    from tiny_model import build_tiny_model

    from betag_engine.jobs.registry import run_kind
    from betag_engine.settings import load_settings
    from betag_engine.tagging import llm_access
    from db.models import JobCheckpoint

    monkeypatch.setenv("BETAG_LLM_MODEL", str(build_tiny_model(tmp_path / "tiny")))
    monkeypatch.setenv("BETAG_LLM_DEVICE", "cpu")
    monkeypatch.setenv("BETAG_MODEL_CACHE", str(tmp_path / "models"))
    settings = load_settings().with_overrides(database_url=demo_url)
    real_open = llm_access.open_backend

    def opened(*args, **kwargs):
        backend = real_open(*args, **kwargs)

        def generate(prompts, config):
            with session_scope(demo_url) as s:
                request_cancel(s.scalar(select(Job.id)), demo_url)
            return [["drama, comedy"] for _ in prompts]

        backend.generate = generate
        return backend

    monkeypatch.setattr(llm_access, "open_backend", opened)
    with pytest.raises(JobCancelled):
        run_kind("base-tags", {"limit": 10, "batch_size": 2}, settings, progress_bar=False)
    with session_scope(demo_url) as s:
        return demo_url, s.query(JobCheckpoint).count(), s.scalar(select(Job.status))


NOW = datetime(2026, 1, 1, 12, 0, 0)


def _job(**kw):
    base = {"id": 1, "status": "running", "done": 0, "total": 0, "message": "", "progress": {},
            "cancel_requested": False, "started": NOW - timedelta(seconds=20), "finished": None, "ran_s": None,
            "error": ""}
    return {**base, **kw}


def test_status_line_of_a_first_job_converting_its_model():
    phase = {"phase": "converting the model", "detail": "gemma3-270m from GGUF", "expected_s": [30, 70],
             "since": (NOW - timedelta(seconds=25)).isoformat()}
    status = job_status(_job(progress=phase), NOW)
    assert status.fraction is None  # no "0/0" bar
    assert status.line == "converting the model: gemma3-270m from GGUF · 25 s so far, usually 30-70 s"
    late = job_status(_job(progress={**phase, "since": (NOW - timedelta(seconds=165)).isoformat()}), NOW)
    assert "165 s so far, longer than the usual 30-70 s" in late.line
    cancel = job_status(_job(progress=phase, cancel_requested=True), NOW).cancel_note
    assert "stops when 'converting the model' ends (usually 30-70 s in all)" in cancel


def test_status_line_with_units_eta_and_cancel():
    running = job_status(_job(done=16, total=1682, message="base tags: 16/1682",
                              progress={"step_s": 12.4, "eta": "about 20 min left"}, cancel_requested=True), NOW)
    assert running.line == "16/1,682 · base tags: 16/1682 · about 20 min left"
    assert running.cancel_note.startswith("Cancel requested: the job stops at the end of its current batch "
                                          "(the last batch took 12 s)")
    starting = job_status(_job(message="starting"), NOW)
    assert starting.line == "starting · 20 s so far"
    assert job_status(_job(status="pending"), NOW).line == "waiting for its worker process to start"
    done = job_status(_job(status="done", done=5, total=5, finished=NOW, ran_s=20.0), NOW)
    assert done.line == "done · 5/5 in 20 s" and done.fraction == 1.0
    resumed = job_status(_job(status="done", done=5, total=5, finished=NOW, ran_s=95.0), NOW)
    assert resumed.line == "done · 5/5 in 95 s"  # every run of a resumed job, not its last one only
    cancelled = job_status(_job(status="cancelled", done=8, total=50), NOW)
    assert cancelled.line == "cancelled after 8/50; finished units are kept, Resume continues"


def test_old_evaluation_unit_keys_read_as_words():
    assert job_message("-|popular|item|test") == "Popular, item-based, test"
    assert job_message("base tags: 3/10") == "base tags: 3/10"
