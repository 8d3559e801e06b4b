"""Resolve job kinds (``vocabulary.JOB_KINDS``) to their handler and parameter class, check parameters, run them.

The table holds module and attribute names, not objects, so that the app and the CLI start fast: heavy modules
(torch, transformers) load only when a job of their kind runs.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import fields

from betag_engine.jobs.runner import run_job
from betag_engine.jobs.validation import check_values
from betag_engine.settings import Settings
from betag_engine.vocabulary import JOB_KINDS, JobKind


def job_kind(kind: str) -> JobKind:
    """The table entry of ``kind``; ValueError listing every kind when it is unknown."""
    if kind not in JOB_KINDS:
        raise ValueError(f"job kind must be one of {', '.join(sorted(JOB_KINDS))}, got {kind!r}")
    return JOB_KINDS[kind]


def _module(kind: str):
    return importlib.import_module(f"betag_engine.{job_kind(kind).module}")


def handler_for(kind: str) -> Callable:
    """The function running jobs of ``kind``: (JobContext, params dict) -> result dict."""
    return getattr(_module(kind), job_kind(kind).handler)


def params_class(kind: str) -> type:
    """The parameter dataclass of ``kind`` (its fields' ``help`` metadata documents them)."""
    return getattr(_module(kind), job_kind(kind).params)


def check_params(kind: str, params: dict) -> None:
    """Refuse a job's parameters before it starts: unknown names (listing the valid ones), values of the wrong type
    or outside their field's range (``jobs.validation``: the message states the range), then whatever the class's
    own ``__post_init__`` refuses. Every launch path calls this (``run_kind`` included)."""
    if not isinstance(params, dict):
        raise ValueError(f"{kind} job: parameters must be a JSON object, got {type(params).__name__}")
    cls = params_class(kind)
    valid = sorted(f.name for f in fields(cls))
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise ValueError(f"{kind} job: unknown parameter(s) {', '.join(unknown)}; valid: {', '.join(valid)}")
    check_values(kind, cls, params)
    try:
        cls(**params)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{kind} job: {exc}") from exc


def run_kind(kind: str, params: dict, settings: Settings, *, job_id: int | None = None, name: str = "",
             progress_bar: bool = True) -> dict:
    """Run (or resume) a job of ``kind`` with ``params`` in this process; the one way every caller launches one.

    Args:
        job_id: the recorded job to run (a worker); None records a new one.
        name: the job's name in the jobs list (default: its kind).
        progress_bar: a tqdm bar on the terminal.

    Returns:
        The handler's result dict (also stored on the job).
    """
    handler = handler_for(kind)

    def checked(ctx):
        check_params(kind, params)  # a refused job is recorded as failed, with the reason, before any work
        return handler(ctx, params)

    return run_job(kind, params, checked, settings, job_id=job_id, name=name, progress_bar=progress_bar)
