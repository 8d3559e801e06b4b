"""Tag statistics of one tagging system (BETag §4.4): tags per item, vocabulary size, long tail."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from betag_engine.types import TagMatrix


@dataclass(frozen=True)
class TagStats:
    """Summary of a TagMatrix.

    Attributes:
        n_items / n_tagged_items: rows, and rows with at least one tag.
        tags_per_item_mean / _median: distinct tags per tagged item.
        tag_count_per_item_mean: summed counts (beams/samples) per tagged item.
        distinct_tags: tags used by at least one item.
        single_item_tag_share: share of distinct tags carried by exactly one item.
        popularity: items per tag, descending (x = rank, y = this for a log-log plot).
    """

    n_items: int
    n_tagged_items: int
    tags_per_item_mean: float
    tags_per_item_median: float
    tag_count_per_item_mean: float
    distinct_tags: int
    single_item_tag_share: float
    popularity: list[tuple[str, int]]

    def as_dict(self, top: int | None = 50) -> dict:
        out = {k: v for k, v in self.__dict__.items() if k != "popularity"}
        out["popularity"] = self.popularity[:top] if top else self.popularity
        return out


def tag_stats(tm: TagMatrix) -> TagStats:
    """Compute :class:`TagStats` for one system's item x tag matrix."""
    a = tm.matrix.tocsr()
    per_item = np.diff(a.indptr)
    tagged = per_item > 0
    counts = np.asarray(a.sum(axis=1)).ravel()
    items_per_tag = np.bincount(a.indices[a.data > 0], minlength=a.shape[1])
    used = items_per_tag > 0
    order = sorted(range(len(tm.tags)), key=lambda c: (-items_per_tag[c], tm.tags[c]))
    popularity_list = [(tm.tags[c], int(items_per_tag[c])) for c in order if items_per_tag[c] > 0]
    n_used = int(used.sum())
    return TagStats(
        n_items=int(a.shape[0]),
        n_tagged_items=int(tagged.sum()),
        tags_per_item_mean=float(per_item[tagged].mean()) if tagged.any() else 0.0,
        tags_per_item_median=float(np.median(per_item[tagged])) if tagged.any() else 0.0,
        tag_count_per_item_mean=float(counts[tagged].mean()) if tagged.any() else 0.0,
        distinct_tags=n_used,
        single_item_tag_share=float((items_per_tag == 1).sum() / n_used) if n_used else 0.0,
        popularity=popularity_list,
    )


def popularity_curve(tm: TagMatrix) -> tuple[np.ndarray, np.ndarray]:
    """(rank 1..n, items per tag descending) for a log-log tag-popularity plot."""
    counts = np.array([c for _, c in tag_stats(tm).popularity], dtype=np.int64)
    return np.arange(1, len(counts) + 1), counts
