"""Content neighbours: the items whose text is closest to an item's, by sentence-embedding cosine.

A cold item (no behaviour yet) borrows the behaviour of the items that read like it (LLM4Tag's content graph,
C2C2T): BETag shows the LLM what users consumed after those neighbours. The text embedded is the item's own
text followed by its base tags, so two items described alike by the LLM are close even when their titles differ.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np


class ContentNeighbours:
    """Nearest candidates of an item among a fixed set of items (those with behaviour).

    Args:
        texts: item -> text, for every item that may be asked about or returned.
        candidates: the items neighbours are chosen from (e.g. the items with training behaviour).
        embed: list[str] -> array (n, d) of unit vectors (``fusion.make_embed``).
    """

    def __init__(self, texts: Mapping[int, str], candidates: Iterable[int],
                 embed: Callable[[Sequence[str]], np.ndarray]):
        self._ids = [int(i) for i in texts]
        self._row = {i: r for r, i in enumerate(self._ids)}
        self._vectors = np.asarray(embed([texts[i] for i in self._ids]), dtype=np.float32)
        self._candidates = np.array(sorted({int(i) for i in candidates if int(i) in self._row}), dtype=np.int64)
        self._cand_rows = np.array([self._row[int(i)] for i in self._candidates], dtype=np.int64)

    def __call__(self, item: int, k: int) -> list[int]:
        """The ``k`` candidates most similar to ``item`` (itself excluded), most similar first, ties by id."""
        if item not in self._row or not len(self._candidates):
            return []
        sims = self._vectors[self._cand_rows] @ self._vectors[self._row[item]]
        order = np.lexsort((self._candidates, -sims))
        return [int(self._candidates[r]) for r in order if int(self._candidates[r]) != item][:k]


def neighbour_text(text: str, base_tags: Sequence[str]) -> str:
    """What is embedded for an item: its text, then its base tags."""
    return f"{text}. {', '.join(base_tags)}" if base_tags else text
