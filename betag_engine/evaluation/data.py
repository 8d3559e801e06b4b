"""Load evaluation inputs from the catalog database, and store results as a Report the dashboard reads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session

from betag_engine.catalog.store import (
    TagMatrix,
    all_item_ids,
    get_system,
    list_system_names,
    system_stats,
    tag_matrix,
    user_sequences,
)
from betag_engine.vocabulary import EVALUATION_REPORT, NATIVE
from db.models import Report


@dataclass
class EvalInputs:
    """systems: name -> TagMatrix over every catalog item (rows ``item_ids``); sequences: user -> item ids."""

    systems: dict[str, TagMatrix]
    sequences: dict[int, list[int]]
    dataset: str
    item_ids: np.ndarray


def dataset_label(session: Session) -> str:
    """A name for the catalog: the native system's ``params['dataset']`` if set, else the database file name."""
    names = list_system_names(session)
    if NATIVE in names:
        label = (get_system(session, NATIVE).params or {}).get("dataset")
        if label:
            return str(label)
    url = str(session.get_bind().url)
    return Path(url.split("///", 1)[-1]).stem if url.startswith("sqlite") else url.rsplit("/", 1)[-1]


def load_inputs(session: Session, systems: Sequence[str] | None = None) -> EvalInputs:
    """Tag matrices of the named systems (default: every system with at least one tag) and all sequences.

    Raises:
        NotFoundError: a named system does not exist (the message lists the known ones).
    """
    if systems:
        names = list(dict.fromkeys(systems))
        for name in names:
            get_system(session, name)
    else:
        names = [s.name for s in system_stats(session) if s.tag_assignments > 0]
    ids = all_item_ids(session)
    matrices = {name: tag_matrix(session, name, ids) for name in names}
    return EvalInputs(matrices, user_sequences(session), dataset_label(session), ids)


def save_report(session: Session, payload: dict, name: str = "", dataset: str = "") -> int:
    """Store an evaluation table (``Table.as_dict()``) as a Report row; returns its id (caller commits)."""
    report = Report(kind=EVALUATION_REPORT, name=name or "evaluation", dataset=dataset, payload=payload)
    session.add(report)
    session.flush()
    return report.id
