"""Evaluate the tagging systems stored in the catalog (the paper's Table 2 on the database) and store the result
as an evaluation report (:mod:`betag_engine.experiments.report`). ``python -m betag_engine evaluate`` runs it
directly or as the resumable job "evaluate" (every grid cell a checkpoint unit); both go through
:func:`evaluate_catalog`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session

from betag_engine.catalog.store import (
    all_item_ids,
    get_system,
    list_system_names,
    system_stats,
    tag_matrix,
    user_sequences,
)
from betag_engine.evaluation.protocol import CellCallback, EvalConfig, count_cells
from betag_engine.evaluation.stats import tag_stats
from betag_engine.evaluation.table import Table, evaluate_table, format_table
from betag_engine.experiments.report import evaluation_report
from betag_engine.jobs.runner import JobContext
from betag_engine.types import TagMatrix
from betag_engine.vocabulary import EVALUATION_REPORT, NATIVE, TAG_RETRIEVERS, TASKS
from db.models import Report

PROGRESS_EVERY_S = 0.5


@dataclass(frozen=True)
class EvaluateParams(EvalConfig):
    """The protocol's settings (:class:`EvalConfig`) plus what to evaluate and how to name the report."""

    systems: list[str] | None = field(default=None, metadata={"help": "Tagging systems (default: every system "
                                                                        "with at least one tag)."})
    retrievers: list[str] | None = field(default=None, metadata={"help": "Among " + ", ".join(TAG_RETRIEVERS)
                                                                           + " (default: both)."})
    tasks: list[str] | None = field(default=None, metadata={"help": "Among " + ", ".join(TASKS)
                                                                      + " (default: both)."})
    include_popular: bool = field(default=True, metadata={"help": "Add the Popular baseline's row."})
    name: str = field(default="", metadata={"help": "Report name."})
    dataset: str = field(default="", metadata={"help": "Dataset label of the report (default: the native "
                                                         "system's params['dataset'], else the database name)."})

    def __post_init__(self) -> None:
        super().__post_init__()
        bad = [r for r in self.retrievers or () if r not in TAG_RETRIEVERS]
        if bad:
            raise ValueError(f"retrievers must be among {', '.join(TAG_RETRIEVERS)}, got {bad}")
        bad = [t for t in self.tasks or () if t not in TASKS]
        if bad:
            raise ValueError(f"tasks must be among {', '.join(TASKS)}, got {bad}")

    def config(self) -> EvalConfig:
        """The protocol part (lists from JSON become tuples)."""
        values = {f.name: getattr(self, f.name) for f in fields(EvalConfig)}
        return EvalConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


@dataclass
class EvalInputs:
    """systems: name -> TagMatrix over every catalog item (rows ``item_ids``); sequences: user -> item ids."""

    systems: dict[str, TagMatrix]
    sequences: dict[int, list[int]]
    dataset: str
    item_ids: np.ndarray


def dataset_label(session: Session) -> str:
    """A name for the catalog: the native system's ``params['dataset']`` if set, else the database file name."""
    if NATIVE in list_system_names(session):
        label = (get_system(session, NATIVE).params or {}).get("dataset")
        if label:
            return str(label)
    url = str(session.get_bind().url)
    return Path(url.split("///", 1)[-1]).stem if url.startswith("sqlite") else url.rsplit("/", 1)[-1]


def system_names(session: Session, systems: Sequence[str] | None = None) -> list[str]:
    """The named systems (checked), default every system with at least one tag.

    Raises:
        NotFoundError: a named system does not exist (the message lists the known ones).
    """
    if systems:
        names = list(dict.fromkeys(systems))
        for name in names:
            get_system(session, name)
        return names
    return [s.name for s in system_stats(session) if s.tag_assignments > 0]


def load_inputs(session: Session, systems: Sequence[str] | None = None) -> EvalInputs:
    """Tag matrices of the named systems (default: every system with at least one tag) and all sequences.

    Raises:
        NotFoundError: a named system does not exist (the message lists the known ones).
    """
    names = system_names(session, systems)
    ids = all_item_ids(session)
    matrices = {name: tag_matrix(session, name, ids) for name in names}
    return EvalInputs(matrices, user_sequences(session), dataset_label(session), ids)


def save_report(session: Session, payload: dict, name: str = "", dataset: str = "") -> int:
    """Store an evaluation report as a Report row in the caller's unit of work; returns its id."""
    report = Report(kind=EVALUATION_REPORT, name=name or EVALUATION_REPORT, dataset=dataset, payload=payload)
    session.add(report)
    session.flush()
    return report.id


def planned_cells(p: EvaluateParams, n_systems: int) -> int:
    """How many cells :func:`evaluate_catalog` computes for ``n_systems`` systems (progress totals)."""
    retrievers = TAG_RETRIEVERS if p.retrievers is None else p.retrievers
    return count_cells(n_systems, list(retrievers), list(p.tasks or TASKS), p.config(), p.include_popular)


def evaluate_catalog(
    inputs: EvalInputs, p: EvaluateParams, done: Mapping[str, dict] | None = None,
    on_cell: CellCallback | None = None, progress: Callable[[int, int, str], None] | None = None,
) -> tuple[Table, dict]:
    """Evaluate ``inputs`` as ``p`` asks; returns the table and the evaluation report (experiments.report)."""
    retrievers = TAG_RETRIEVERS if p.retrievers is None else p.retrievers
    table = evaluate_table(inputs.systems, inputs.sequences, retrievers, p.tasks or TASKS, p.config(),
                           p.include_popular, inputs.dataset, item_ids=inputs.item_ids, done=done, on_cell=on_cell,
                           progress=progress)
    stats = {name: tag_stats(tm).as_dict() for name, tm in inputs.systems.items()}
    return table, evaluation_report(table, stats)


def evaluate_job(ctx: JobContext, params: dict) -> dict:
    """Job kind "evaluate": :func:`evaluate_catalog` with every grid cell checkpointed, then the report stored.

    Returns:
        {"report_id", "dataset", "rows": [{system, retriever, task metrics and params}], "elapsed_s"}.
    """
    p = EvaluateParams(**{**params, "seed": ctx.settings.seed if params.get("seed") is None else params["seed"]})
    with ctx.session() as s:
        total = planned_cells(p, len(system_names(s, p.systems)))
    ctx.set_total(total, "evaluate")
    ctx.progress(0, "loading the catalog")
    with ctx.session() as s:
        inputs = load_inputs(s, p.systems)
    inputs.dataset = p.dataset or inputs.dataset
    done = ctx.unit_payloads()
    ctx.log(f"evaluating {', '.join(inputs.systems) or 'no system'}; {len(done)} cells done earlier")
    last = {"t": 0.0}

    def on_cell(unit: str, payload: dict) -> None:
        with ctx.session() as s:
            ctx.mark_done(s, {unit: payload})

    def progress(n: int, total: int, message: str) -> None:
        now = time.monotonic()
        if now - last["t"] >= PROGRESS_EVERY_S or n >= total:
            last["t"] = now
            ctx.progress(n, message)

    table, report = evaluate_catalog(inputs, p, done=done, on_cell=on_cell, progress=progress)
    with ctx.session() as s:
        report_id = save_report(s, report, p.name, inputs.dataset)
    ctx.log(format_table(table))
    return {"report_id": report_id, "dataset": inputs.dataset, "elapsed_s": table.meta["elapsed_s"],
            "rows": [{"system": r.system, "retriever": r.retriever,
                      **{f"{t}_{m}": r.metric(t, m) for t in r.results for m in ("hr", "ndcg")},
                      **{f"{t}_params": r.results[t].params for t in r.results}} for r in table.rows]}
