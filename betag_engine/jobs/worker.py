"""Run a recorded job outside the caller's process, so it survives Streamlit reruns and browser reloads."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

from betag_engine.errors import NotFoundError
from betag_engine.jobs.registry import run_kind
from betag_engine.settings import PROJECT_ROOT, Settings
from db.models import Job
from db.session import session_scope


def run_recorded_job(job_id: int, settings: Settings, progress_bar: bool = True) -> dict:
    """Run the pending (or interrupted) job ``job_id`` in this process."""
    with session_scope(settings.database_url) as s:
        job = s.get(Job, job_id)
        if job is None:
            raise NotFoundError(f"job {job_id} does not exist")
        kind, params = job.kind, dict(job.params)
    return run_kind(kind, params, settings, job_id=job_id, progress_bar=progress_bar)


def spawn_worker(job_id: int, settings: Settings, log_path: str | None = None,
                 extra_env: dict[str, str] | None = None) -> int:
    """Start ``python -m betag_engine run-job JOB_ID`` in its own session; return its pid.

    The worker is an entry point of its own: it reads the same environment as its parent, and the database URL
    is passed on its command line, so it works on the database the job was recorded in. A daemon thread of this
    process waits for it, so a finished worker is reaped at once instead of staying a zombie (which would also
    look alive to a pid check) for as long as the app runs. ``extra_env`` adds settings for the worker alone
    (the pipeline gives a companion stage ``BETAG_TORCH_THREADS=1``)."""
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        [sys.executable, "-m", "betag_engine", "--database-url", settings.database_url, "run-job", str(job_id),
         "--no-progress"],
        cwd=str(PROJECT_ROOT),
        stdout=out,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, **(extra_env or {})},
    )
    if out is not subprocess.DEVNULL:
        out.close()  # the child holds its own copy of the descriptor
    threading.Thread(target=proc.wait, name=f"reap-worker-{proc.pid}", daemon=True).start()
    return proc.pid
