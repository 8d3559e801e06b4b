"""Run a long stage as a resumable job.

A job has a *key* derived from its kind and parameters. Finished units (items, epochs, grid cells) are recorded
as checkpoints under that key in the same transaction as their results, so a crash or cancel loses nothing done
and a rerun with the same key skips them. Progress, a log tail and a cancel flag live on the ``jobs`` row, which
the CLI (tqdm) and the app (progress bar) both read.

One row per key: rerunning the same command (same kind and parameters) claims and resumes the same row; a claim
is refused while a live worker holds it. A worker writes a heartbeat every ``HEARTBEAT_S`` seconds from a thread of
its own; any reader (``python -m betag_engine jobs``, the app) calls :func:`mark_dead_workers`, which marks a
running job whose worker process is gone (same host) or whose heartbeat is older than ``STALE_AFTER_S`` as
interrupted. The job's own bookkeeping writes are retried while another writer holds the database.

What a running job is doing lives in ``jobs.message`` (one line) and, structured, in ``jobs.result["progress"]``
while it runs (the final result replaces it): ``phase`` / ``detail`` / ``since`` / ``expected_s`` for a long step
without units (:meth:`JobContext.phase`: model conversion and loading report through it), ``step_s`` (how long
the last batch took: when a cancel takes effect) and ``eta`` (a time-left text) for :meth:`JobContext.progress`.
The app renders them (``app_data.views.job_status``).
"""

from __future__ import annotations

import hashlib
import json
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from betag_engine.errors import JobCancelled, NotFoundError
from betag_engine.jobs.liveness import Heartbeat, JobBusy, JobLost, claim, mark_dead_workers
from betag_engine.llm.models import reporting_loads
from betag_engine.settings import Settings
from betag_engine.vocabulary import JOB_CANCELLED, JOB_DONE, JOB_FAILED, JOB_PENDING, JOB_RUNNING
from db.models import Job, JobCheckpoint, utcnow
from db.session import retry_transaction, session_scope

LOG_TAIL_CHARS = 20000
__all__ = ["JobBusy", "JobContext", "JobLost", "create_job", "job_key", "mark_dead_workers", "mark_pending",
           "request_cancel", "run_job"]


def job_key(kind: str, params: Mapping[str, Any]) -> str:
    """A stable key for (kind, params): reruns with the same parameters resume the same work."""
    blob = json.dumps(params, sort_keys=True, default=str)
    return f"{kind}:{hashlib.sha256(blob.encode()).hexdigest()[:16]}"


def create_job(kind: str, params: Mapping[str, Any], url: str, name: str = "") -> int:
    """The job row of (kind, params), recorded as pending if it is new; returns its id (the app calls this, then
    starts a worker). An existing row is reused: the worker resumes it."""
    key = job_key(kind, params)

    def find_or_add(s: Session) -> int:
        job_id = s.scalar(select(Job.id).where(Job.key == key))
        if job_id is None:
            job = Job(kind=kind, key=key, name=name or kind, params=dict(params), status=JOB_PENDING)
            s.add(job)
            s.flush()
            job_id = job.id
        return job_id

    try:
        return retry_transaction(url, find_or_add)
    except IntegrityError:  # another process added the same key at the same moment: use its row
        return retry_transaction(url, find_or_add)


_PROGRESS_HOOKS: list[Callable[[], None]] = []


@contextmanager
def at_each_progress(hook: Callable[[], None]) -> Iterator[None]:
    """Inside the block, call ``hook`` at every :meth:`JobContext.progress` of any job in this process, on the
    job's own thread, between its batches (the pipeline gives a stage its threads back this way)."""
    _PROGRESS_HOOKS.append(hook)
    try:
        yield
    finally:
        _PROGRESS_HOOKS.remove(hook)


class JobContext:
    """Handed to a job's function: the settings, its database sessions, checkpoints, progress, log, cancellation.

    ``progress`` and ``log`` write through their own short transactions: call them between batches, not inside a
    :meth:`session` block that holds writes (SQLite allows one writer at a time).
    """

    def __init__(self, job_id: int, key: str, settings: Settings, progress_bar: bool = True,
                 heartbeat: Heartbeat | None = None):
        self.job_id = job_id
        self.key = key
        self.settings = settings  # read once by the entry point (CLI, worker) and passed down to the job
        self.url = settings.database_url
        self.progress_bar = progress_bar  # a tqdm bar on the terminal (the CLI); stages of a pipeline inherit it
        self._bar = None
        self._heartbeat = heartbeat
        self._last_step: float | None = None  # monotonic time of the last progress() call
        self._total = 0
        self._rate_from: tuple[float, int] | None = None  # (time, units done) where this run's rate is measured

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
        """Record finished units (unit -> payload) in ``session``: they commit with the results they belong to. A
        unit recorded before (a stage run again with new parameters) gets the new payload."""
        done = set(session.scalars(select(JobCheckpoint.unit).where(JobCheckpoint.job_key == self.key,
                                                                    JobCheckpoint.unit.in_(list(units)))))
        session.add_all(JobCheckpoint(job_key=self.key, unit=u, payload=dict(p or {}))
                        for u, p in units.items() if u not in done)
        for u in done:
            session.execute(update(JobCheckpoint).where(JobCheckpoint.job_key == self.key, JobCheckpoint.unit == u)
                            .values(payload=dict(units[u] or {})))

    def set_total(self, total: int, message: str = "") -> None:
        self._total, self._rate_from = int(total), None
        self._update(progress_total=int(total), message=message)
        if self.progress_bar and self._bar is None:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=message or self.key.split(":")[0], unit="unit")

    def phase(self, name: str, detail: str = "", expected_s: tuple[float, float] | None = None) -> None:
        """Start a long step without units (converting or loading a model): the job row says what it is, since when
        and how long it usually takes, so the app can show the time spent against that estimate instead of "0/0".
        Raises JobCancelled first if a cancel was requested (a cancel never waits for a step that has not begun).
        """
        self.check_cancel()
        info = {"phase": name, "detail": detail, "since": utcnow().isoformat(timespec="seconds"),
                "expected_s": list(expected_s) if expected_s else None}
        self._update(message=f"{name}: {detail}" if detail else name, result={"progress": info})
        self._last_step = None
        hint = f" (usually {expected_s[0]:.0f}-{expected_s[1]:.0f} s)" if expected_s else ""
        self.log(f"{name}: {detail}{hint}")
        if self.progress_bar:
            from tqdm.auto import tqdm

            tqdm.write(f"{name}: {detail}{hint}")

    def progress(self, done: int, message: str = "", eta: str = "") -> None:
        """Record progress (units done of the total) and how long the step since the last call took; ``eta`` is a
        time-left text shown next to the message. Raises JobCancelled if a cancel was requested."""
        now = time.monotonic()
        step_s = None if self._last_step is None else round(now - self._last_step, 1)
        self._last_step = now
        if self._rate_from is None:
            self._rate_from = (now, int(done))
            if self._bar is not None:  # units finished before a resume are not this run's rate (nor its ETA)
                self._bar.initial = self._bar.last_print_n = int(done)
                self._bar.start_t = self._bar.last_print_t = self._bar._time()
        eta = eta or rate_and_eta(now - self._rate_from[0], int(done) - self._rate_from[1], self._total - int(done))
        self._update(progress_done=int(done), message=message, result={"progress": {"step_s": step_s, "eta": eta}})
        if self._bar is not None:
            self._bar.n = done
            self._bar.set_postfix_str(message[:60], refresh=False)
            self._bar.refresh()
        for hook in tuple(_PROGRESS_HOOKS):
            hook()
        self.check_cancel()

    def log(self, line: str) -> None:
        def append(s: Session) -> None:
            job = s.get(Job, self.job_id)
            job.log = (job.log + line.rstrip() + "\n")[-LOG_TAIL_CHARS:]

        retry_transaction(self.url, append)

    def check_cancel(self) -> None:
        """Raise JobCancelled if a cancel was requested, JobLost if the job was taken from this worker."""
        if self._heartbeat is not None and self._heartbeat.lost:
            raise JobLost(f"job {self.job_id} was marked interrupted or claimed by another worker; stopping here "
                          "(finished units are kept)")
        cancelled = retry_transaction(self.url, lambda s: s.scalar(select(Job.cancel_requested)
                                                                   .where(Job.id == self.job_id)))
        if cancelled:
            raise JobCancelled(f"job {self.job_id} was cancelled")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def _update(self, **values) -> None:
        """Bookkeeping on the job row, in a short transaction of its own, retried while the database is busy."""
        retry_transaction(self.url, lambda s: s.execute(update(Job).where(Job.id == self.job_id).values(**values)))


def rate_and_eta(seconds: float, units: int, left: int) -> str:
    """'1.2 units/s, about 3 min left' from the units done in ``seconds`` of this run ('' before the first unit)."""
    if units <= 0 or seconds <= 0:
        return ""
    rate = units / seconds
    shown = f"{rate:.2f} units/s" if rate >= 0.1 else f"{seconds / units:.0f} s/unit"
    if left <= 0:
        return shown
    rest = left / rate
    when = f"{rest:.0f} s" if rest < 90 else (f"{rest / 60:.0f} min" if rest < 5400 else f"{rest / 3600:.1f} h")
    return f"{shown}, about {when} left"


def run_job(
    kind: str,
    params: Mapping[str, Any],
    fn: Callable[[JobContext], Mapping[str, Any] | None],
    settings: Settings,
    job_id: int | None = None,
    name: str = "",
    progress_bar: bool = True,
) -> dict[str, Any]:
    """Run ``fn`` as job ``job_id`` (default: the row of (kind, params), created if new); record status, result or
    error. Returns the result.

    Re-raises the function's exception after recording it (JobCancelled included). To run a job kind of the
    registry, use ``jobs.registry.run_kind``.

    Raises:
        JobBusy: a live worker is running the same job.
    """
    url = settings.database_url
    if job_id is None:
        job_id = create_job(kind, params, url, name=name)
    key = job_key(kind, params)
    exists = retry_transaction(url, lambda s: s.get(Job, job_id) is not None)
    if not exists:
        raise NotFoundError(f"job {job_id} does not exist")
    claim(url, job_id, key)
    heartbeat = Heartbeat(url, job_id).start()
    ctx = JobContext(job_id, key, settings, progress_bar=progress_bar, heartbeat=heartbeat)
    ctx._update(message="starting", result={})  # a resumed job's old phase or result is not its state now
    try:
        with reporting_loads(ctx.phase):  # model conversion and loading say what they do on the job row
            result = dict(fn(ctx) or {})
    except JobCancelled:
        _finish(url, job_id, JOB_CANCELLED, error="cancelled by user; finished units are kept")
        raise
    except JobLost:
        raise  # the row belongs to someone else now: leave it as they set it
    except BaseException as exc:
        _finish(url, job_id, JOB_FAILED, error="".join(traceback.format_exception(exc))[-LOG_TAIL_CHARS:])
        raise
    finally:
        heartbeat.stop()
        ctx.close()
    _finish(url, job_id, JOB_DONE, result=result)
    return result


def _finish(url: str, job_id: int, status: str, error: str = "", result: dict | None = None) -> None:
    def finish(s: Session) -> None:
        job = s.get(Job, job_id)
        job.status, job.finished_at, job.error = status, utcnow(), error
        if result is not None:
            job.result = json.loads(json.dumps(result, default=str))
        if status == JOB_DONE and job.progress_total:
            job.progress_done = job.progress_total

    retry_transaction(url, finish)


def request_cancel(job_id: int, url: str) -> None:
    retry_transaction(url, lambda s: s.execute(update(Job).where(Job.id == job_id).values(cancel_requested=True)))


def forget_units(kind: str, params: Mapping[str, Any], url: str) -> int:
    """Forget the finished units of the job of (kind, params), so its next run does all its work again (its input
    was made anew); returns how many were forgotten. Results it wrote stay until the rerun overwrites them."""
    key = job_key(kind, params)
    return retry_transaction(url, lambda s: s.execute(delete(JobCheckpoint).where(JobCheckpoint.job_key == key))
                             .rowcount)


def mark_pending(job_id: int, url: str) -> None:
    """Put a failed, cancelled or interrupted job back in the queue before a worker resumes it."""
    retry_transaction(url, lambda s: s.execute(update(Job).where(Job.id == job_id, Job.status != JOB_RUNNING)
                                               .values(status=JOB_PENDING, cancel_requested=False)))
