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
    """Build a TagMatrix from (item_id, tag, count) triples; triples of items not in ``item_ids`` are dropped.

    One pass numbers the tags in order of appearance, then only the distinct tags are sorted and the numbers
    remapped, so a catalog's 400k tag rows take a few hundred milliseconds; repeated (item, tag) pairs add up."""
    item_ids = np.asarray(item_ids, dtype=np.int64)
    triples = list(triples)
    items = np.fromiter((t[0] for t in triples), dtype=np.int64, count=len(triples))
    values = np.fromiter((t[2] for t in triples), dtype=np.float64, count=len(triples))
    order = np.argsort(item_ids, kind="stable")
    if len(item_ids):
        at = np.minimum(np.searchsorted(item_ids, items, sorter=order), len(item_ids) - 1)
        known = item_ids[order[at]] == items
    else:
        at, known = np.zeros(len(items), dtype=np.int64), np.zeros(len(items), dtype=bool)
    code_of: dict[str, int] = {}
    codes = np.fromiter((code_of.setdefault(t[1], len(code_of)) for t, k in zip(triples, known) if k),
                        dtype=np.int64, count=int(known.sum()))
    tags = sorted(code_of)
    rank = np.empty(len(tags), dtype=np.int64)
    rank[[code_of[t] for t in tags]] = np.arange(len(tags))
    matrix = sp.csr_matrix((values[known], (order[at[known]], rank[codes])), shape=(len(item_ids), len(tags)))
    matrix.sum_duplicates()
    return TagMatrix(matrix=matrix, item_ids=item_ids, tags=tags)
