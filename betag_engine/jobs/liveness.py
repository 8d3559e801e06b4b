"""Is a job's worker alive? Claims, heartbeats and the check every reader makes.

A worker claims its job row (status running, its pid and host, a fresh heartbeat) in one conditional UPDATE, so
two workers never run the same row. While it runs, a thread writes the heartbeat every ``HEARTBEAT_S`` seconds.
A reader judges a running job by what it can check: on the worker's own host, whether the process still exists
(a zombie counts as gone); anywhere, whether the heartbeat is fresher than ``STALE_AFTER_S``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

from betag_engine.errors import BetagError
from betag_engine.vocabulary import JOB_INTERRUPTED, JOB_RUNNING
from db.models import Job, utcnow
from db.session import retry_transaction

HEARTBEAT_S = 5.0
STALE_AFTER_S = 60.0  # several missed heartbeats, and longer than SQLite's busy timeout can delay one
THIS_HOST = socket.gethostname()
log = logging.getLogger(__name__)


class JobBusy(BetagError):
    """The job is running in a live worker; a second one would repeat its work."""


class JobLost(BetagError):
    """This worker's job was marked interrupted (its heartbeat went stale) or claimed by another worker."""


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host and is not a zombie (exited, not yet reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            state = fh.read().rsplit(b")", 1)[1].split()[0]
        return state not in (b"Z", b"X")
    except (OSError, IndexError):
        return True  # no /proc (not Linux): the signal check above is all there is


def worker_gone(job: Job, now: datetime | None = None) -> str | None:
    """Why the running ``job``'s worker is gone, or None while it looks alive (or the job is not running)."""
    if job.status != JOB_RUNNING:
        return None
    now = now or utcnow()
    if job.worker_host == THIS_HOST and job.worker_pid and not pid_alive(job.worker_pid):
        return f"worker process {job.worker_pid} on {job.worker_host} ended without finishing"
    beat = job.heartbeat_at or job.started_at
    if beat is None or now - beat > timedelta(seconds=STALE_AFTER_S):
        age = "never" if beat is None else f"{(now - beat).total_seconds():.0f} s ago"
        return f"no heartbeat from worker {job.worker_pid} on {job.worker_host} (last: {age})"
    return None


def mark_dead_workers(url: str) -> list[int]:
    """Mark every running job whose worker is gone as interrupted; returns their ids.

    Their finished units stay committed; rerunning the same command (or Resume in the app) continues them."""
    def mark(s) -> list[int]:
        marked = []
        now = utcnow()
        for job in s.scalars(select(Job).where(Job.status == JOB_RUNNING)):
            reason = worker_gone(job, now)
            if reason is None:
                continue
            # conditional: a worker that just wrote a heartbeat keeps its job
            res = s.execute(update(Job).where(Job.id == job.id, Job.status == JOB_RUNNING,
                                              Job.heartbeat_at == job.heartbeat_at,
                                              Job.worker_pid == job.worker_pid)
                            .values(status=JOB_INTERRUPTED, finished_at=now,
                                    error=(job.error + "\n" if job.error else "") + reason
                                    + "; finished units are kept, rerun or resume to continue"))
            if res.rowcount:
                marked.append(job.id)
        return marked

    return retry_transaction(url, mark)


def claim(url: str, job_id: int, key: str) -> None:
    """Make this process the worker of ``job_id`` (status running, pid, host, heartbeat).

    Raises:
        JobBusy: a live worker holds it.
    """
    def attempt(s) -> bool:
        now = utcnow()
        job = s.get(Job, job_id)
        earlier = (job.run_seconds or 0.0) if job is not None else 0.0  # every run so far: this run's starting sum
        res = s.execute(update(Job).where(Job.id == job_id, Job.status != JOB_RUNNING).values(
            status=JOB_RUNNING, started_at=now, heartbeat_at=now, worker_pid=os.getpid(), worker_host=THIS_HOST,
            error="", cancel_requested=False, finished_at=None,  # a resumed job starts uncancelled
            earlier_runs_s=earlier))
        if res.rowcount == 1:
            if s.scalar(select(Job.key).where(Job.id == job_id)) is None and not s.scalar(
                    select(Job.id).where(Job.key == key)):
                s.execute(update(Job).where(Job.id == job_id).values(key=key))  # a row from before keys
            return True
        return False

    if retry_transaction(url, attempt):
        return
    mark_dead_workers(url)
    if retry_transaction(url, attempt):
        return
    job = retry_transaction(url, lambda s: s.get(Job, job_id))
    raise JobBusy(f"job {job_id} ({job.kind}) is already running: worker {job.worker_pid} on {job.worker_host}, "
                  f"progress {job.progress_done}/{job.progress_total}; wait for it, or cancel it "
                  f"(python -m betag_engine cancel {job_id}) and rerun")


class Heartbeat:
    """A daemon thread writing the job's heartbeat; it notes when the job was taken from this worker."""

    def __init__(self, url: str, job_id: int, interval_s: float | None = None):
        self.url, self.job_id, self.interval_s = url, job_id, interval_s or HEARTBEAT_S
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-job-{job_id}", daemon=True)

    def start(self) -> "Heartbeat":
        self._thread.start()
        return self

    def beat(self) -> None:
        """Write the heartbeat now; sets ``lost`` when the row no longer names this worker as running."""
        def write(s) -> int:
            return s.execute(update(Job).where(Job.id == self.job_id, Job.status == JOB_RUNNING,
                                               Job.worker_pid == os.getpid(),
                                               or_(Job.worker_host == THIS_HOST, Job.worker_host.is_(None)))
                             .values(heartbeat_at=utcnow())).rowcount

        if retry_transaction(self.url, write) == 0:
            self.lost = True

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.beat()
            except Exception as exc:  # noqa: BLE001 - a missed beat must not kill the job; the next one may work
                log.warning("job %s: heartbeat not written: %s", self.job_id, exc)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.interval_s + 35)
