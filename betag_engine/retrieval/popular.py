"""Popular: every query gets the same scores, the items' interaction counts in the training data."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np


def popularity(sequences: Mapping[int, Iterable[int]], item_ids: np.ndarray) -> np.ndarray:
    """Interaction counts per row of ``item_ids``.

    Args:
        sequences: user -> item ids (e.g. ``Split.train``); items outside ``item_ids`` are ignored.
        item_ids: the catalog rows, shape (n_items,), ascending.

    Returns:
        counts, float64 array of shape (n_items,).
    """
    item_ids = np.asarray(item_ids, dtype=np.int64)
    flat = np.fromiter((i for seq in sequences.values() for i in seq), dtype=np.int64)
    pos = np.searchsorted(item_ids, flat)
    pos = np.clip(pos, 0, max(len(item_ids) - 1, 0))
    known = (item_ids[pos] == flat) if len(item_ids) else np.zeros(len(flat), bool)
    return np.bincount(pos[known], minlength=len(item_ids)).astype(np.float64)
