"""Run a long stage as a resumable job.

A job has a *key* derived from its kind and parameters. Finished units (items, epochs, grid cells) are recorded
as checkpoints under that key in the same transaction as their results, so a crash or cancel loses nothing done
and a rerun with the same key skips them. Progress, a log tail and a cancel flag live on the ``jobs`` row, which
the CLI (tqdm) and the app (progress bar) both read.
"""

from __future__ import annotations

import hashlib
import json
import os
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from betag_engine.errors import JobCancelled, NotFoundError
from betag_engine.settings import Settings
from betag_engine.vocabulary import JOB_CANCELLED, JOB_DONE, JOB_FAILED, JOB_PENDING, JOB_RUNNING
from db.models import Job, JobCheckpoint, utcnow
from db.session import session_scope

LOG_TAIL_CHARS = 20000


def job_key(kind: str, params: Mapping[str, Any]) -> str:
    """A stable key for (kind, params): reruns with the same parameters resume the same work."""
    blob = json.dumps(params, sort_keys=True, default=str)
    return f"{kind}:{hashlib.sha256(blob.encode()).hexdigest()[:16]}"


def create_job(kind: str, params: Mapping[str, Any], url: str, name: str = "") -> int:
    """Record a pending job and return its id (the app calls this, then starts a worker)."""
    with session_scope(url) as s:
        job = Job(kind=kind, name=name or kind, params=dict(params), status=JOB_PENDING)
        s.add(job)
        s.flush()
        return job.id


class JobContext:
    """Handed to a job's function: the settings, its database sessions, checkpoints, progress, log, cancellation.

    ``progress`` and ``log`` write through their own short transactions: call them between batches, not inside a
    :meth:`session` block that holds writes (SQLite allows one writer at a time).
    """

    def __init__(self, job_id: int, key: str, settings: Settings, progress_bar: bool = True):
        self.job_id = job_id
        self.key = key
        self.settings = settings  # read once by the entry point (CLI, worker) and passed down to the job
        self.url = settings.database_url
        self.progress_bar = progress_bar  # a tqdm bar on the terminal (the CLI); stages of a pipeline inherit it
        self._bar = None

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One unit of work on the job's database (``session_scope``): a batch's results and, with
        :meth:`mark_done`, its checkpoints are committed together when the block ends."""
        with session_scope(self.url) as s:
            yield s

    def done_units(self) -> set[str]:
        with self.session() as s:
            return set(s.scalars(select(JobCheckpoint.unit).where(JobCheckpoint.job_key == self.key)))

    def unit_payloads(self) -> dict[str, dict]:
        with self.session() as s:
            rows = s.execute(select(JobCheckpoint.unit, JobCheckpoint.payload).where(JobCheckpoint.job_key == self.key))
            return {u: p for u, p in rows}

    def mark_done(self, session: Session, units: Mapping[str, Mapping[str, Any] | None]) -> None:
        """Record finished units (unit -> payload) in ``session``: they commit with the results they belong to."""
        done = set(session.scalars(select(JobCheckpoint.unit).where(JobCheckpoint.job_key == self.key,
                                                                    JobCheckpoint.unit.in_(list(units)))))
        session.add_all(JobCheckpoint(job_key=self.key, unit=u, payload=dict(p or {}))
                        for u, p in units.items() if u not in done)

    def set_total(self, total: int, message: str = "") -> None:
        self._update(progress_total=int(total), message=message)
        if self.progress_bar and self._bar is None:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=message or self.key.split(":")[0], unit="unit")

    def progress(self, done: int, message: str = "") -> None:
        """Record progress (units done of the total); raises JobCancelled if a cancel was requested."""
        self._update(progress_done=int(done), message=message, heartbeat_at=utcnow())
        if self._bar is not None:
            self._bar.n = done
            self._bar.set_postfix_str(message[:60], refresh=False)
            self._bar.refresh()
        self.check_cancel()

    def log(self, line: str) -> None:
        with self.session() as s:
            job = s.get(Job, self.job_id)
            job.log = (job.log + line.rstrip() + "\n")[-LOG_TAIL_CHARS:]

    def check_cancel(self) -> None:
        with self.session() as s:
            if s.scalar(select(Job.cancel_requested).where(Job.id == self.job_id)):
                raise JobCancelled(f"job {self.job_id} was cancelled")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def _update(self, **values) -> None:
        with self.session() as s:
            s.execute(update(Job).where(Job.id == self.job_id).values(**values))


def run_job(
    kind: str,
    params: Mapping[str, Any],
    fn: Callable[[JobContext], Mapping[str, Any] | None],
    settings: Settings,
    job_id: int | None = None,
    name: str = "",
    progress_bar: bool = True,
) -> dict[str, Any]:
    """Run ``fn`` as job ``job_id`` (created if None); record status, result or error. Returns the result.

    Re-raises the function's exception after recording it (JobCancelled included). To run a job kind of the
    registry, use ``jobs.registry.run_kind``."""
    url = settings.database_url
    if job_id is None:
        job_id = create_job(kind, params, url, name=name)
    key = job_key(kind, params)
    with session_scope(url) as s:
        job = s.get(Job, job_id)
        if job is None:
            raise NotFoundError(f"job {job_id} does not exist")
        job.status, job.started_at, job.worker_pid, job.error = JOB_RUNNING, utcnow(), os.getpid(), ""
        job.cancel_requested, job.finished_at = False, None  # a resumed job starts uncancelled
    ctx = JobContext(job_id, key, settings, progress_bar=progress_bar)
    try:
        result = dict(fn(ctx) or {})
    except JobCancelled:
        _finish(url, job_id, JOB_CANCELLED, error="cancelled by user; finished units are kept")
        raise
    except BaseException as exc:
        _finish(url, job_id, JOB_FAILED, error="".join(traceback.format_exception(exc))[-LOG_TAIL_CHARS:])
        raise
    finally:
        ctx.close()
    _finish(url, job_id, JOB_DONE, result=result)
    return result


def _finish(url: str, job_id: int, status: str, error: str = "", result: dict | None = None) -> None:
    with session_scope(url) as s:
        job = s.get(Job, job_id)
        job.status, job.finished_at, job.error = status, utcnow(), error
        if result is not None:
            job.result = json.loads(json.dumps(result, default=str))
        if status == JOB_DONE and job.progress_total:
            job.progress_done = job.progress_total


def request_cancel(job_id: int, url: str) -> None:
    with session_scope(url) as s:
        s.execute(update(Job).where(Job.id == job_id).values(cancel_requested=True))


def mark_pending(job_id: int, url: str) -> None:
    """Put a failed or cancelled job back in the queue before a worker resumes it."""
    with session_scope(url) as s:
        s.execute(update(Job).where(Job.id == job_id).values(status=JOB_PENDING, cancel_requested=False))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def mark_dead_workers(url: str) -> list[int]:
    """Mark 'running' jobs whose worker process no longer exists (killed, crashed machine) as failed.

    Their finished units stay committed; resuming the job (same id or same parameters) continues from there.
    Returns the ids marked. Only meaningful where workers run on this machine (the SQLite set-up)."""
    marked = []
    with session_scope(url) as s:
        for job in s.scalars(select(Job).where(Job.status == JOB_RUNNING)):
            if job.worker_pid and job.worker_pid != os.getpid() and not _pid_alive(job.worker_pid):
                job.status, job.finished_at = JOB_FAILED, utcnow()
                job.error = (job.error + "\n" if job.error else "") + (
                    f"worker process {job.worker_pid} ended without finishing; "
                    "finished units are kept, resume to continue"
                )
                marked.append(job.id)
    return marked
