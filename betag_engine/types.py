"""The data that flows between the engine's parts, with no database and no model behind it (numpy and scipy only).

A tagging system's tags leave the catalog as a :class:`TagMatrix` (or, per item, :class:`TagScore` lists);
retrieval, evaluation and curation previews work on these alone, so they can run on any subset or draft.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class TagScore:
    """One tag of an item in one system: its count over samples/beams and an optional confidence."""

    tag: str
    count: float = 1.0
    confidence: float | None = None


@dataclass(frozen=True)
class TagMatrix:
    """The item x tag count matrix A of one tagging system.

    Attributes:
        matrix: CSR, shape (n_items, n_tags); row i is ``item_ids[i]`` (every catalog item, tagged or not).
        item_ids: database ids of the rows, shape (n_items,), ascending.
        tags: the column labels, sorted.
    """

    matrix: sp.csr_matrix
    item_ids: np.ndarray
    tags: list[str]

    def row_of(self) -> dict[int, int]:
        return {int(i): r for r, i in enumerate(self.item_ids)}


def matrix_from_triples(item_ids: np.ndarray, triples: Iterable[tuple[int, str, float]]) -> TagMatrix:
    """Build a TagMatrix from (item_id, tag, count) triples; triples of items not in ``item_ids`` are dropped."""
    row_of = {int(i): r for r, i in enumerate(item_ids)}
    triples = [(row_of[i], t, c) for i, t, c in triples if i in row_of]
    tags = sorted({t for _, t, _ in triples})
    col_of = {t: c for c, t in enumerate(tags)}
    r = np.fromiter((x[0] for x in triples), dtype=np.int64, count=len(triples))
    c = np.fromiter((col_of[x[1]] for x in triples), dtype=np.int64, count=len(triples))
    v = np.fromiter((x[2] for x in triples), dtype=np.float64, count=len(triples))
    matrix = sp.csr_matrix((v, (r, c)), shape=(len(item_ids), len(tags)))
    matrix.sum_duplicates()
    return TagMatrix(matrix=matrix, item_ids=np.asarray(item_ids, dtype=np.int64), tags=tags)
