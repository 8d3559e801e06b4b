"""Jobs commit per unit; a crash loses nothing done and a rerun continues where it stopped."""

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from betag_engine.errors import JobCancelled
from betag_engine.jobs.liveness import STALE_AFTER_S, THIS_HOST, JobBusy
from betag_engine.jobs.runner import create_job, job_key, mark_dead_workers, request_cancel, run_job
from db.models import Job, utcnow
from db.session import session_scope


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


def test_crash_then_rerun_continues_in_the_same_job_row(db_url, settings):
    log = []
    with pytest.raises(RuntimeError, match="boom"):
        run_job("t", {"a": 1}, _work(log, fail_at="u3"), settings, progress_bar=False)
    assert log == ["u0", "u1", "u2"]
    with session_scope(db_url) as s:
        failed = s.scalars(select(Job)).one()
        assert failed.status == "failed" and "boom" in failed.error
    result = run_job("t", {"a": 1}, _work(log), settings, progress_bar=False)
    assert log == ["u0", "u1", "u2", "u3", "u4", "u5"] and result == {"units": 6}
    with session_scope(db_url) as s:
        job = s.scalars(select(Job)).one()  # the rerun resumed the same row
        assert (job.id, job.status, job.error, job.progress_done) == (failed.id, "done", "", 6)


def test_cancel_keeps_finished_units(db_url, settings):
    log = []
    with pytest.raises(JobCancelled):
        run_job("t", {"a": 2}, _work(log, cancel_at="u2"), settings, progress_bar=False)
    assert log == ["u0", "u1", "u2"]  # the unit in flight when cancel arrived is committed, then it stops


def test_job_key_depends_on_params_only():
    assert job_key("k", {"a": 1, "b": 2}) == job_key("k", {"b": 2, "a": 1})
    assert job_key("k", {"a": 1}) != job_key("k", {"a": 2})


def test_recorded_job_runs_through_the_worker_entry(db_url, settings):
    from betag_engine.jobs.worker import run_recorded_job

    job_id = create_job("import-builtin", {"dataset": "ml-100k"}, db_url)
    result = run_recorded_job(job_id, settings, progress_bar=False)
    assert result["items_added"] == 1682


def _exited_pid() -> int:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(dead.stdout)


def _set(url, job_id, **values):
    with session_scope(url) as s:
        s.execute(update(Job).where(Job.id == job_id).values(**values))


def test_dead_worker_is_seen_as_interrupted_and_the_job_resumes(db_url, settings):
    job_id = create_job("t", {"a": 3}, db_url)
    _set(db_url, job_id, status="running", worker_pid=_exited_pid(), worker_host=THIS_HOST, heartbeat_at=utcnow(),
         cancel_requested=True)
    assert mark_dead_workers(db_url) == [job_id]
    with session_scope(db_url) as s:
        job = s.get(Job, job_id)
        assert job.status == "interrupted" and "ended without finishing" in job.error
    log = []
    run_job("t", {"a": 3}, _work(log), settings, progress_bar=False)  # the same command: the same row
    with session_scope(db_url) as s:
        assert [(j.id, j.status) for j in s.scalars(select(Job))] == [(job_id, "done")]
    assert len(log) == 6


def test_a_job_with_a_stale_heartbeat_on_another_host_is_interrupted(db_url):
    job_id = create_job("t", {"a": 4}, db_url)
    fresh = create_job("t", {"a": 5}, db_url)
    _set(db_url, job_id, status="running", worker_pid=1, worker_host="elsewhere",
         heartbeat_at=utcnow() - timedelta(seconds=STALE_AFTER_S + 5))
    _set(db_url, fresh, status="running", worker_pid=1, worker_host="elsewhere", heartbeat_at=utcnow())
    assert mark_dead_workers(db_url) == [job_id]


def test_a_live_worker_keeps_its_job(db_url, settings):
    job_id = create_job("t", {"a": 6}, db_url)
    _set(db_url, job_id, status="running", worker_pid=os.getppid(), worker_host=THIS_HOST, heartbeat_at=utcnow())
    with pytest.raises(JobBusy, match=f"job {job_id} \\(t\\) is already running"):
        run_job("t", {"a": 6}, _work([]), settings, progress_bar=False)
    assert mark_dead_workers(db_url) == []


def test_the_heartbeat_is_written_while_a_unit_runs(db_url, settings, monkeypatch):
    from betag_engine.jobs import liveness

    monkeypatch.setattr(liveness, "HEARTBEAT_S", 0.05)
    beats = []

    def slow(ctx):
        for _ in range(3):
            time.sleep(0.3)
            with session_scope(db_url) as s:
                beats.append(s.get(Job, ctx.job_id).heartbeat_at)
        return {}

    run_job("t", {"a": 7}, slow, settings, progress_bar=False)
    assert len(set(beats)) == 3  # no progress call, yet three different heartbeats


def test_a_zombie_counts_as_gone():
    from betag_engine.jobs.liveness import pid_alive

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 30
    while pid_alive(child.pid) and time.monotonic() < deadline:  # exited but not reaped: a zombie
        time.sleep(0.05)
    assert not pid_alive(child.pid) and Path(f"/proc/{child.pid}").exists()
    child.wait()


def test_spawned_workers_are_reaped(db_url, settings):
    from betag_engine.jobs.worker import spawn_worker

    pid = spawn_worker(987654, settings)  # no such job: the worker exits at once
    deadline = time.monotonic() + 60
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Path(f"/proc/{pid}").exists(), "the finished worker was not reaped (a zombie)"


def test_jobs_command_shows_a_killed_worker_as_interrupted(db_url, capsys):
    from betag_engine.cli import main

    job_id = create_job("t", {"a": 8}, db_url)
    _set(db_url, job_id, status="running", worker_pid=_exited_pid(), worker_host=THIS_HOST, heartbeat_at=utcnow())
    assert main(["jobs"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.split()[0] == str(job_id))
    assert line.split()[2] == "interrupted"


def test_check_params_names_the_bad_parameter():
    from betag_engine.jobs.registry import check_params

    check_params("base-tags", {"limit": 3})
    check_params("evaluate", {"systems": ["native"]})
    with pytest.raises(ValueError, match="base-tags job: unknown parameter\\(s\\) beams; valid: .*limit"):
        check_params("base-tags", {"beams": 3})
    with pytest.raises(ValueError, match="job kind must be one of"):
        check_params("nope", {})


def test_rate_and_eta_text():
    from betag_engine.jobs.runner import rate_and_eta

    assert rate_and_eta(0, 0, 10) == ""
    assert rate_and_eta(10.0, 5, 20) == "0.50 units/s, about 40 s left"
    assert rate_and_eta(100.0, 2, 100) == "50 s/unit, about 83 min left"
    assert rate_and_eta(10.0, 5, 0) == "0.50 units/s"


def test_terminal_bar_rate_counts_only_this_runs_units(db_url, settings):
    """After a resume the bar starts at the units done before; its rate and time left come from this run alone."""
    from betag_engine.jobs.runner import JobContext

    ctx = JobContext(create_job("t", {"a": 9}, db_url), "t:9", settings, progress_bar=True)
    ctx.set_total(1000, "resumed")
    ctx.progress(900, "u900")  # 900 units came from the checkpoint
    ctx._bar.start_t -= 10.0  # this run has worked 10 s for the next 10 units
    ctx.progress(910, "u910")
    meter = ctx._bar.format_dict
    rate = (meter["n"] - meter["initial"]) / meter["elapsed"]
    ctx.close()
    assert meter["initial"] == 900 and 0.9 < rate < 1.1  # not (910 units / 10 s)


def test_a_stage_gets_its_threads_back_once_its_companion_has_ended(db_url, settings, monkeypatch):
    """--parallel: the stage beside a companion runs on one thread until the companion's job ends, then on all its
    threads again from its next progress call (the full profile's BETag: 3.4 s/item on one thread, 2.1 on two)."""
    import torch

    from betag_engine.experiments import companion
    from betag_engine.jobs.runner import JobContext

    monkeypatch.setattr(companion, "REGAIN_CHECK_S", 0.0)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        other = create_job("t", {"companion": 1}, db_url)
        _set(db_url, other, status="running", worker_pid=os.getpid(), worker_host=THIS_HOST, heartbeat_at=utcnow())
        ctx = JobContext(create_job("t", {"stage": 1}, db_url), "t:stage", settings, progress_bar=False)
        ctx.set_total(3)
        with companion.one_thread(companion.Companion(None, other, os.getpid(), 0.0), db_url):
            ctx.progress(1)
            assert torch.get_num_threads() == 1  # the companion still runs
            _set(db_url, other, status="done")
            ctx.progress(2)
            assert torch.get_num_threads() == 2
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_a_resumed_jobs_run_time_sums_its_runs(db_url, settings, capsys):
    """Each run's seconds add up (a crashed run counts to its last heartbeat, not to when a reader noticed it)."""
    job_id = create_job("t", {"a": 9}, db_url)
    now = utcnow()
    _set(db_url, job_id, status="running", worker_pid=_exited_pid(), worker_host=THIS_HOST,
         started_at=now - timedelta(seconds=700), heartbeat_at=now - timedelta(seconds=600))
    mark_dead_workers(db_url)  # interrupted now: its run lasted 100 s, up to its last heartbeat
    with session_scope(db_url) as s:
        assert s.get(Job, job_id).run_seconds == pytest.approx(100.0)
    log = []
    with pytest.raises(RuntimeError, match="boom"):
        run_job("t", {"a": 9}, _work(log, fail_at="u2"), settings, progress_bar=False)
    _set(db_url, job_id, started_at=utcnow() - timedelta(seconds=30), finished_at=utcnow())  # a 30-s second run
    run_job("t", {"a": 9}, _work(log), settings, progress_bar=False)
    with session_scope(db_url) as s:
        job = s.get(Job, job_id)
        assert job.status == "done" and job.earlier_runs_s == pytest.approx(130.0, abs=0.5)
        assert 130.0 <= job.run_seconds < 140.0
    from betag_engine.cli import main

    assert main(["jobs"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.split()[0] == str(job_id))
    assert 130 <= int(line.split()[4]) < 140  # the "ran (s)" column
