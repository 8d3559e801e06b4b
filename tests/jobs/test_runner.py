"""Jobs commit per unit; a crash loses nothing done and a rerun continues where it stopped."""

import pytest
from sqlalchemy import select

from betag_engine.errors import JobCancelled
from betag_engine.jobs.runner import job_key, request_cancel, run_job
from db.models import Job


def _work(done_log, fail_at=None, cancel_at=None):
    def fn(ctx):
        units = [f"u{i}" for i in range(6)]
        done = ctx.done_units()
        ctx.set_total(len(units), "test")
        for n, unit in enumerate(units):
            if unit in done:
                continue
            if unit == fail_at:
                raise RuntimeError("boom")
            if unit == cancel_at:
                request_cancel(ctx.job_id, ctx.url)
            with ctx.session() as s:
                done_log.append(unit)
                ctx.mark_done(s, {unit: None})
            ctx.progress(n + 1, unit)
        return {"units": len(units)}

    return fn


def test_crash_then_rerun_continues(db_url, settings):
    log = []
    with pytest.raises(RuntimeError, match="boom"):
        run_job("t", {"a": 1}, _work(log, fail_at="u3"), settings, progress_bar=False)
    assert log == ["u0", "u1", "u2"]
    result = run_job("t", {"a": 1}, _work(log), settings, progress_bar=False)
    assert log == ["u0", "u1", "u2", "u3", "u4", "u5"] and result == {"units": 6}
    from db.session import session_scope

    with session_scope(db_url) as s:
        statuses = [j.status for j in s.scalars(select(Job).order_by(Job.id))]
        failed = s.scalars(select(Job).where(Job.status == "failed")).one()
    assert statuses == ["failed", "done"] and "boom" in failed.error


def test_cancel_keeps_finished_units(db_url, settings):
    log = []
    with pytest.raises(JobCancelled):
        run_job("t", {"a": 2}, _work(log, cancel_at="u2"), settings, progress_bar=False)
    assert log == ["u0", "u1", "u2"]  # the unit in flight when cancel arrived is committed, then it stops


def test_job_key_depends_on_params_only():
    assert job_key("k", {"a": 1, "b": 2}) == job_key("k", {"b": 2, "a": 1})
    assert job_key("k", {"a": 1}) != job_key("k", {"a": 2})


def test_recorded_job_runs_through_the_worker_entry(db_url, settings):
    from betag_engine.jobs.runner import create_job
    from betag_engine.jobs.worker import run_recorded_job

    job_id = create_job("import-builtin", {"dataset": "ml-100k"}, db_url)
    result = run_recorded_job(job_id, settings, progress_bar=False)
    assert result["items_added"] == 1682


def test_dead_worker_is_marked_failed_and_the_job_resumes(db_url, settings):
    import subprocess
    import sys

    from betag_engine.jobs.runner import create_job, mark_dead_workers
    from db.session import session_scope

    job_id = create_job("t", {"a": 3}, db_url)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    with session_scope(db_url) as s:
        job = s.get(Job, job_id)
        job.status, job.worker_pid, job.cancel_requested = "running", int(dead.stdout), True
        s.commit()
    assert mark_dead_workers(db_url) == [job_id]
    log = []
    run_job("t", {"a": 3}, _work(log), settings, job_id=job_id, progress_bar=False)
    with session_scope(db_url) as s:
        assert s.get(Job, job_id).status == "done"
    assert len(log) == 6


def test_check_params_names_the_bad_parameter():
    from betag_engine.jobs.registry import check_params

    check_params("base-tags", {"limit": 3})
    check_params("evaluate", {"systems": ["native"]})
    with pytest.raises(ValueError, match="base-tags job: unknown parameter\\(s\\) beams; valid: .*limit"):
        check_params("base-tags", {"beams": 3})
    with pytest.raises(ValueError, match="job kind must be one of"):
        check_params("nope", {})
