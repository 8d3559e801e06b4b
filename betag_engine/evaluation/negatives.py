"""Sampled negatives for the 1 + 100 candidate protocol.

Each case gets ``n`` distinct items the user never touched (over the whole sequence, test item included),
drawn from the item pool with a generator seeded by (seed, phase, user): the same user gets the same negatives
whatever other users or systems are evaluated. Only when the pool has fewer than ``n`` untouched items are the
remaining slots filled from the rest of the pool (touched items, never the target). The target is never a
negative.

The draw is ``rng.choice(free, n, replace=False)`` over the sorted untouched pool ``free``. It is computed
without building ``free`` (100k items x 100k cases would cost minutes): the generator draws positions in
``free`` (``choice`` of its size consumes the same random numbers as ``choice`` of the array), and a position
maps back to the pool by skipping the user's own items, so each case costs O(history + n), not O(pool).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from betag_engine.settings import DEFAULT_SEED
from betag_engine.split import Case

PHASE_IDS = {"validation": 1, "test": 2}


def _free_to_pool(positions: np.ndarray, touched_pos: np.ndarray) -> np.ndarray:
    """Pool indices of ``positions`` in the pool with ``touched_pos`` (sorted, unique pool indices) left out."""
    # The j-th free item sits at pool index j + (touched items before it); touched_pos - arange counts the free
    # items in front of each touched one, so searchsorted finds how many touched items come first.
    shifted = touched_pos - np.arange(len(touched_pos))
    return positions + np.searchsorted(shifted, positions, side="right")


def sample_negatives(
    cases: Sequence[Case],
    touched: Mapping[int, Sequence[int]],
    pool: np.ndarray,
    n: int = 100,
    seed: int = DEFAULT_SEED,
    phase: str = "test",
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Sample negatives per case.

    Args:
        cases: validation or test cases.
        touched: user -> every item the user interacted with.
        pool: candidate item ids, shape (n_pool,), unique.
        n: negatives per case; capped at n_pool - 1 so the target always fits.
        seed: base seed.
        phase: "validation" or "test" (gives the two phases different draws).
        progress: called with the number of cases done, every few thousand cases.

    Returns:
        item ids, int64 array of shape (len(cases), min(n, n_pool - 1)).
    """
    if phase not in PHASE_IDS:
        raise ValueError(f"phase must be one of {', '.join(PHASE_IDS)}, got {phase!r}")
    pool = np.unique(np.asarray(pool, dtype=np.int64))
    m = max(0, min(n, len(pool) - 1))
    out = np.empty((len(cases), m), dtype=np.int64)
    bounds, inside_all = _touched_pool_rows(cases, touched, pool)
    for r, case in enumerate(cases):
        rng = np.random.default_rng([seed, PHASE_IDS[phase], int(case.user)])
        inside = inside_all[bounds[r]:bounds[r + 1]]
        n_free = len(pool) - len(inside)
        if n_free >= m:
            out[r] = pool[_free_to_pool(rng.choice(n_free, size=m, replace=False), inside)]
        else:
            free = np.delete(pool, inside)
            rest = np.setdiff1d(pool, np.concatenate([free, [case.target]]), assume_unique=False)
            out[r] = np.concatenate([free, rng.choice(rest, size=m - len(free), replace=False)])
        if progress is not None and (r + 1) % 5000 == 0:
            progress(r + 1)
    return out


def _touched_pool_rows(cases: Sequence[Case], touched: Mapping[int, Sequence[int]],
                       pool: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per case, the sorted pool indices of the items its user touched (target included), all cases at once:
    (bounds of shape (n_cases + 1,), concatenated indices)."""
    lists = [list(touched.get(c.user, ())) + [c.target] for c in cases]
    lengths = np.fromiter((len(x) for x in lists), dtype=np.int64, count=len(lists))
    items = np.fromiter((i for x in lists for i in x), dtype=np.int64, count=int(lengths.sum()))
    owner = np.repeat(np.arange(len(cases), dtype=np.int64), lengths)
    if not len(items) or not len(pool):
        return np.zeros(len(cases) + 1, dtype=np.int64), np.zeros(0, dtype=np.int64)
    lo = min(int(items.min()), int(pool[0]))
    span = max(int(items.max()), int(pool[-1])) - lo + 1
    keys = np.unique(owner * span + (items - lo))  # sorted by case, then item; duplicates gone
    owner, items = keys // span, keys % span + lo
    at = np.minimum(np.searchsorted(pool, items), len(pool) - 1)
    hit = pool[at] == items
    owner, at = owner[hit], at[hit]
    return np.searchsorted(owner, np.arange(len(cases) + 1)), at
