"""The behaviour graph of the training split, and the tags it propagates (no LLM).

BETag's finetuning (§3.3) asks a model to learn which items follow which. The same training interactions can be
read directly: ``successors[i][j]`` counts how often item j came right after item i in a user's training sequence.
Two things are built on it:

* **cf-tags** (``cf_tags``): eqs. 4-5 over the item's base tags (beam 0) and the base tags of its ``m`` top-ranked
  training successors. It is what a perfectly finetuned model with perfect decoding would produce, and a
  legitimate tagging system in its own right (it uses training interactions only), so it is evaluated as a row
  of Table 2: the behaviour baseline BETag has to be compared with.
* **behaviour context** (``context_pairs``): the (item, successor) pairs whose base-tag lines BETag can show the
  LLM in its prompt (LLM4Tag's recall step, C2C2T). Items without behaviour (cold items) borrow the pairs of
  their nearest content neighbours.

Successors are ranked by lift over their popularity, ``count(i -> j) / pop(j) ** alpha`` (alpha 0 = raw counts),
ties by item id. Held-out items (the cold items of an evaluation) are removed from the sequences first, so they
appear nowhere in the graph: not as a predecessor, a successor or in the popularity counts.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from betag_engine.tagging.common import aggregate_beams


@dataclass(frozen=True)
class BehaviourGraph:
    """Successor counts and popularity of the training split.

    Attributes:
        successors: item -> Counter of the items consumed right after it.
        popularity: item -> training interactions.
        holdout: items whose behaviour was removed (cold items).
    """

    successors: Mapping[int, Counter]
    popularity: Mapping[int, int]
    holdout: frozenset[int]

    def has_behaviour(self, item: int) -> bool:
        return bool(self.successors.get(item))

    def top_successors(self, item: int, k: int, alpha: float = 0.0) -> list[int]:
        """The ``k`` successors of ``item`` with the highest ``count / popularity ** alpha`` (ties by id)."""
        counts = self.successors.get(item)
        if not counts or k < 1:
            return []
        pop = self.popularity
        ranked = sorted(counts.items(), key=lambda jc: (-jc[1] / max(pop.get(jc[0], 1), 1) ** alpha, jc[0]))
        return [j for j, _ in ranked[:k]]


def behaviour_graph(train: Mapping[int, Sequence[int]], holdout: Iterable[int] = ()) -> BehaviourGraph:
    """Build the graph from training sequences (user -> items, oldest first), without the ``holdout`` items."""
    held = frozenset(int(i) for i in holdout)
    successors: dict[int, Counter] = defaultdict(Counter)
    popularity: Counter[int] = Counter()
    for seq in train.values():
        kept = [int(i) for i in seq if int(i) not in held]
        popularity.update(kept)
        for a, b in zip(kept, kept[1:]):
            successors[a][b] += 1
    return BehaviourGraph(dict(successors), dict(popularity), held)


def cf_tags(graph: BehaviourGraph, base: Mapping[int, list[str]], items: Iterable[int], m: int,
            alpha: float = 0.0) -> dict[int, dict[str, int]]:
    """Behaviour-propagated tags (eqs. 4-5): the union of the item's base tags and those of its ``m`` top-ranked
    training successors, each tag counted once per line that holds it. Items without behaviour keep their base
    tags (cold items: there is nothing to propagate)."""
    out = {}
    for i in items:
        lines = [base.get(int(i), [])] + [base.get(j, []) for j in graph.top_successors(int(i), m, alpha)]
        out[int(i)] = aggregate_beams(lines)
    return out


Neighbours = Callable[[int, int], list[int]]  # (item, k) -> the k nearest items that have behaviour


def context_pairs(graph: BehaviourGraph, item: int, k: int, alpha: float = 0.0,
                  neighbours: Neighbours | None = None, n_neighbours: int = 3,
                  as_cold: bool = False) -> list[tuple[int, int]]:
    """Up to ``k`` (source, successor) pairs to show the LLM for ``item``, most relevant first.

    An item with behaviour is its own source: its top-``k`` successors. An item without behaviour (cold), or one
    shown ``as_cold`` (finetuning examples that teach the cold case), takes the top successors of its
    ``n_neighbours`` nearest content neighbours in rounds (every neighbour's best successor, then every
    neighbour's second best, ...), never the item itself, so the prompt has the same number of lines either way.
    """
    if not as_cold and (graph.has_behaviour(item) or neighbours is None):
        return [(item, j) for j in graph.top_successors(item, k, alpha)]
    if neighbours is None:
        return []
    near = [n for n in neighbours(item, n_neighbours + 1) if n != item][:n_neighbours]
    ranked = {n: [j for j in graph.top_successors(n, k + 1, alpha) if j != item][:k] for n in near}
    pairs: list[tuple[int, int]] = []
    for r in range(k):
        for n in near:
            if r < len(ranked[n]) and len(pairs) < k and ranked[n][r] not in {j for _, j in pairs}:
                pairs.append((n, ranked[n][r]))
    return pairs
