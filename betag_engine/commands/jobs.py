"""Commands: run-job, jobs, cancel. Each first brings the database to the newest schema (a database made by an older
version reads and writes the jobs table of this one), as every other command that opens it does."""

from __future__ import annotations


def _newest_schema(settings) -> None:
    from db.migrate import upgrade_head

    upgrade_head(settings.database_url)


def register(sub) -> None:
    p = sub.add_parser("run-job", help="Run (or resume) a recorded job by id; the app's workers use this.")
    p.add_argument("job_id", type=int)
    p.add_argument("--no-progress", action="store_true", help="No tqdm bar (output goes to a log file).")
    p.set_defaults(func=_run_job)
    p = sub.add_parser("jobs", help="List recent jobs.")
    p.add_argument("--limit", type=int, default=20)
    p.set_defaults(func=_list)
    p = sub.add_parser("cancel", help="Ask a running job to stop after its current batch.")
    p.add_argument("job_id", type=int)
    p.set_defaults(func=_cancel)


def _run_job(args, settings) -> int:
    from betag_engine.jobs.worker import run_recorded_job

    _newest_schema(settings)
    run_recorded_job(args.job_id, settings, progress_bar=not args.no_progress)
    return 0


def _list(args, settings) -> int:
    from sqlalchemy import select

    from betag_engine.jobs.runner import mark_dead_workers
    from db.models import Job, utcnow
    from db.session import session_scope

    _newest_schema(settings)
    mark_dead_workers(settings.database_url)  # a killed worker's job shows as interrupted, not running
    now = utcnow()
    print(f"{'id':>5} {'kind':12s} {'status':11s} {'progress':>11s} {'ran (s)':>8s} {'heartbeat':>9s} {'worker':18s} "
          "message")
    with session_scope(settings.database_url) as s:
        for job in s.scalars(select(Job).order_by(Job.id.desc()).limit(args.limit)):
            beat = f"{(now - job.heartbeat_at).total_seconds():.0f}s ago" if job.heartbeat_at else "-"
            worker = f"{job.worker_pid}@{job.worker_host}" if job.worker_pid else "-"
            progress = f"{job.progress_done}/{job.progress_total}"
            ran = "-" if job.run_seconds is None else f"{job.run_seconds:.0f}"  # every run of it, resumes summed
            print(f"{job.id:5d} {job.kind:12s} {job.status:11s} {progress:>11s} {ran:>8s} {beat:>9s} "
                  f"{worker[:18]:18s} {job.message}")
    return 0


def _cancel(args, settings) -> int:
    from betag_engine.jobs.runner import request_cancel

    _newest_schema(settings)
    request_cancel(args.job_id, settings.database_url)
    print(f"cancel requested for job {args.job_id}")
    return 0
