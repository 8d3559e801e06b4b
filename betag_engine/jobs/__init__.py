"""Resumable jobs: every long stage records status, progress and finished units in the database."""

from betag_engine.jobs.runner import JobContext, create_job, job_key, run_job

__all__ = ["JobContext", "create_job", "job_key", "run_job"]
