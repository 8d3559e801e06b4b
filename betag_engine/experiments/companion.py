"""A pipeline stage run beside another as a 1-thread worker process (``PipelineParams.parallel``).

Decoding a few rows at a time keeps about one core busy whatever torch's thread count, so two generation stages
that do not depend on each other finish sooner side by side, each on one thread (``bench generation``'s
``2 stages`` rows: 1.70x, the same text). The companion is an ordinary recorded job run by an ordinary worker
(``jobs.worker.spawn_worker``): it commits as it goes, a crash or kill leaves it resumable, and a rerun of the
pipeline finds its finished units. The stage in the pipeline's own process runs on one thread meanwhile, and on all
its threads again once the companion has ended.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import select

from betag_engine.errors import JobCancelled
from betag_engine.experiments.profiles import Stage
from betag_engine.jobs.liveness import mark_dead_workers, pid_alive
from betag_engine.jobs.runner import JobContext, at_each_progress, create_job, request_cancel
from betag_engine.jobs.worker import spawn_worker
from betag_engine.vocabulary import JOB_DONE, JOB_PENDING, JOB_RESUMABLE, JOB_RUNNING
from db.models import Job
from db.session import retry_transaction

POLL_S = 1.0
REGAIN_CHECK_S = 10.0  # how often (at most) a stage on one thread looks whether its companion has ended


@dataclass
class Companion:
    stage: Stage
    job_id: int
    pid: int
    started: float


def start(ctx: JobContext, stage: Stage) -> Companion:
    """Record ``stage``'s job (or find it) and start a 1-thread worker on it."""
    job_id = create_job(stage.kind, stage.params, ctx.settings.database_url, name=f"pipeline:{stage.name}")
    pid = spawn_worker(job_id, ctx.settings, extra_env={"BETAG_TORCH_THREADS": "1"})
    ctx.log(f"stage {stage.name} runs beside the next stage: job {job_id}, worker pid {pid}, one thread")
    return Companion(stage, job_id, pid, time.perf_counter())


def wait(ctx: JobContext, companion: Companion) -> tuple[dict, float, float]:
    """Wait for the companion's job; returns its result, its own run time (its job's runs summed, s) and
    how long the pipeline waited for it after its own stage (s). Cancelling the pipeline cancels it too; a failed,
    cancelled or vanished worker fails the pipeline with the job's own error (its finished units stay)."""
    url = ctx.settings.database_url
    name, job_id = companion.stage.name, companion.job_id
    waiting_from = time.perf_counter()
    while True:
        status, error, result, ran = retry_transaction(url, lambda s: _state(s.get(Job, job_id)))
        if status == JOB_DONE:
            ran = ran if ran is not None else time.perf_counter() - companion.started
            return dict(result or {}), round(ran, 1), round(time.perf_counter() - waiting_from, 1)
        if status in JOB_RESUMABLE:
            last = (error or "").strip().splitlines()[-1:] or [""]
            raise RuntimeError(f"stage {name} (job {job_id}) {status}: {last[0]}; rerun the pipeline to continue it")
        if status == JOB_PENDING and not pid_alive(companion.pid):
            raise RuntimeError(f"stage {name}: its worker {companion.pid} ended before starting job {job_id}")
        if status == JOB_RUNNING:
            mark_dead_workers(url)  # a worker gone without finishing: its row turns interrupted, the loop raises
        try:
            ctx.check_cancel()
        except JobCancelled:
            request_cancel(job_id, url)
            raise
        time.sleep(POLL_S)


def _state(job: Job) -> tuple[str, str, dict, float | None]:
    return job.status, job.error, dict(job.result or {}), job.run_seconds


@contextmanager
def one_thread(companion: Companion | None, url: str) -> Iterator[None]:
    """torch on one thread inside the block while ``companion`` has the other core, and on all its threads again
    from the first progress call after the companion's job has ended (a companion that finishes first would
    otherwise leave a core idle: the full profile's BETag, 3.4 s/item on one thread beside its companion, ran at
    2.1 s/item on both threads once the companion had ended, 27 minutes before it)."""
    if companion is None:
        yield
        return
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    next_check = [time.monotonic() + REGAIN_CHECK_S]

    def regain() -> None:
        if torch.get_num_threads() == threads or time.monotonic() < next_check[0]:
            return
        next_check[0] = time.monotonic() + REGAIN_CHECK_S
        status = retry_transaction(url, lambda s: s.scalar(select(Job.status).where(Job.id == companion.job_id)))
        if status not in (JOB_PENDING, JOB_RUNNING):
            torch.set_num_threads(threads)

    try:
        with at_each_progress(regain):
            yield
    finally:
        torch.set_num_threads(threads)
