"""What-if preview: rankings before and after replacing one item's tags with an unsaved draft (saving a draft is
the decision :func:`~betag_engine.curation.decisions.save_draft`).

The retrieval itself is :func:`betag_engine.retrieval.rank` over the stored tag matrix and over
:func:`betag_engine.retrieval.with_item_tags` (the same matrix with the draft row); nothing is written.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from betag_engine.catalog.normalize import normalize_tags
from betag_engine.retrieval import rank, with_item_tags
from betag_engine.types import TagMatrix
from db.models import Item


@dataclass(frozen=True)
class RankRow:
    rank: int
    item_id: int
    score: float
    matched: str
    change: str  # after side: "new", "▲3", "▼1", "="; before side: "=", "→ 4" (its rank after), "out"


def draft_tags(text: str, current: Mapping[str, float]) -> dict[str, float]:
    """Parse a comma-separated draft (normalised); kept tags keep their counts, new ones count 1."""
    return {t: float(current.get(t, 1.0)) for t in normalize_tags(text.split(","))}


def preview(tm: TagMatrix, retriever: str, query, item_id: int, draft: Mapping[str, float], k: int = 10,
            popularity: np.ndarray | None = None) -> tuple[list[RankRow], list[RankRow]]:
    """Top-k for ``query`` with the stored tags and with ``item_id``'s tags replaced by ``draft``."""
    before = rank(tm, retriever, query, k=k, popularity=popularity)
    after = rank(with_item_tags(tm, item_id, draft), retriever, query, k=k, popularity=popularity)
    return _rows(before, after, before_side=True), _rows(after, before, before_side=False)


def _rows(ranking, other, before_side: bool) -> list[RankRow]:
    """Rows of one side; the other side's rank of the same item gives the change, read from before to after."""
    where = {r.item_id: pos for pos, r in enumerate(other, 1)}
    out = []
    for pos, r in enumerate(ranking, 1):
        there = where.get(r.item_id)
        if there == pos:
            change = "="
        elif before_side:
            change = "out" if there is None else f"→ {there}"
        else:
            change = "new" if there is None else (f"▲{there - pos}" if there > pos else f"▼{pos - there}")
        out.append(RankRow(pos, r.item_id, round(r.score, 4), ", ".join(r.matched_tags[:6]), change))
    return out


def titles(session: Session, item_ids: Iterable[int]) -> dict[int, tuple[str, str]]:
    ids = list(item_ids)
    return {i: (e, t) for i, e, t in session.execute(select(Item.id, Item.external_id, Item.title)
                                                     .where(Item.id.in_(ids)))}
