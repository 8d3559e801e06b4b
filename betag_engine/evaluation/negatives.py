"""Sampled negatives for the 1 + 100 candidate protocol.

Each case gets ``n`` distinct items the user never touched (over the whole sequence, test item included),
drawn from the item pool with a generator seeded by (seed, phase, user): the same user gets the same negatives
whatever other users or systems are evaluated. Only when the pool has fewer than ``n`` untouched items are the
remaining slots filled from the rest of the pool (touched items, never the target). The target is never a
negative.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from betag_engine.settings import DEFAULT_SEED
from betag_engine.split import Case

PHASE_IDS = {"validation": 1, "test": 2}


def sample_negatives(
    cases: Sequence[Case],
    touched: Mapping[int, Sequence[int]],
    pool: np.ndarray,
    n: int = 100,
    seed: int = DEFAULT_SEED,
    phase: str = "test",
) -> np.ndarray:
    """Sample negatives per case.

    Args:
        cases: validation or test cases.
        touched: user -> every item the user interacted with.
        pool: candidate item ids, shape (n_pool,), unique.
        n: negatives per case; capped at n_pool - 1 so the target always fits.
        seed: base seed.
        phase: "validation" or "test" (gives the two phases different draws).

    Returns:
        item ids, int64 array of shape (len(cases), min(n, n_pool - 1)).
    """
    if phase not in PHASE_IDS:
        raise ValueError(f"phase must be one of {', '.join(PHASE_IDS)}, got {phase!r}")
    pool = np.unique(np.asarray(pool, dtype=np.int64))
    m = max(0, min(n, len(pool) - 1))
    out = np.empty((len(cases), m), dtype=np.int64)
    for r, case in enumerate(cases):
        rng = np.random.default_rng([seed, PHASE_IDS[phase], int(case.user)])
        seen = np.unique(np.asarray(list(touched.get(case.user, ())) + [case.target], dtype=np.int64))
        free = np.setdiff1d(pool, seen, assume_unique=True)
        if len(free) >= m:
            out[r] = rng.choice(free, size=m, replace=False)
            continue
        rest = np.setdiff1d(pool, np.concatenate([free, [case.target]]), assume_unique=False)
        out[r] = np.concatenate([free, rng.choice(rest, size=m - len(free), replace=False)])
    return out
