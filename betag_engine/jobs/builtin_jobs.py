"""Small jobs that belong to the catalog itself."""

from __future__ import annotations

from dataclasses import asdict

from betag_engine.catalog.movielens import import_builtin
from betag_engine.jobs.runner import JobContext


def import_builtin_job(ctx: JobContext, params: dict) -> dict:
    name = params.get("dataset", "ml-100k")
    ctx.set_total(1, f"importing {name}")
    messages: list[str] = []
    with ctx.session() as s:  # one write transaction: log only after it commits (SQLite has one writer)
        summary = import_builtin(s, name, progress=messages.append)
    for line in messages:
        ctx.log(line)
    ctx.progress(1, "done")
    return asdict(summary)
