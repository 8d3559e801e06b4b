"""Run a recorded job outside the caller's process, so it survives Streamlit reruns and browser reloads."""

from __future__ import annotations

import os
import subprocess
import sys
from functools import partial

from betag_engine.errors import NotFoundError
from betag_engine.jobs.registry import handler_for
from betag_engine.jobs.runner import run_job
from betag_engine.settings import PROJECT_ROOT
from db.models import Job
from db.session import session_scope


def run_recorded_job(job_id: int, url: str | None = None, progress_bar: bool = True) -> dict:
    """Run the pending (or interrupted) job ``job_id`` in this process."""
    with session_scope(url) as s:
        job = s.get(Job, job_id)
        if job is None:
            raise NotFoundError(f"job {job_id} does not exist")
        kind, params = job.kind, dict(job.params)
    fn = handler_for(kind)
    return run_job(kind, params, partial(_call, fn, params), job_id=job_id, url=url, progress_bar=progress_bar)


def _call(fn, params, ctx):
    return fn(ctx, params)


def spawn_worker(job_id: int, log_path: str | None = None) -> int:
    """Start ``python -m betag_engine run-job JOB_ID`` detached from this process; return its pid."""
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        [sys.executable, "-m", "betag_engine", "run-job", str(job_id), "--no-progress"],
        cwd=str(PROJECT_ROOT),
        stdout=out,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        env=dict(os.environ),
    )
    return proc.pid
