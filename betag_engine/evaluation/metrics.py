"""HR@k and NDCG@k for one target among sampled candidates (1 + 100 protocol).

Ranks are 0-based: rank 0 is the top. Tag scores tie often (coarse tags such as genres give many items the
same score), so ties are resolved explicitly: "expected" (default) gives the exact expectation under a uniformly
random order among tied items; "pessimistic" puts the target after all ties, "optimistic" before them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from betag_engine.evaluation.uncertainty import standard_error

TIE_POLICIES = ("expected", "pessimistic", "optimistic")


@dataclass(frozen=True)
class Metrics:
    """Mean HR@k and NDCG@k over ``n_cases`` cases, each with its standard error (std of the per-case values,
    ddof=1, over sqrt(n_cases); ``evaluation.uncertainty``)."""

    hr: float
    ndcg: float
    n_cases: int
    k: int = 10
    hr_se: float = 0.0
    ndcg_se: float = 0.0

    def as_dict(self) -> dict:
        return {"hr": self.hr, "ndcg": self.ndcg, "n_cases": self.n_cases, "k": self.k, "hr_se": self.hr_se,
                "ndcg_se": self.ndcg_se}

    @classmethod
    def from_dict(cls, d: dict) -> Metrics:
        return cls(d["hr"], d["ndcg"], d["n_cases"], d["k"], d.get("hr_se", 0.0), d.get("ndcg_se", 0.0))


def hr_at_k(ranks: np.ndarray, k: int = 10) -> np.ndarray:
    """1 where the 0-based rank is below k, else 0; shape of ``ranks``."""
    return (np.asarray(ranks) < k).astype(np.float64)


def ndcg_at_k(ranks: np.ndarray, k: int = 10) -> np.ndarray:
    """1 / log2(rank + 2) where rank < k, else 0 (one relevant item, so IDCG = 1)."""
    r = np.asarray(ranks, dtype=np.float64)
    return np.where(r < k, 1.0 / np.log2(r + 2.0), 0.0)


def rank_counts(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(negatives scoring above the target, negatives tied with it) per case.

    Args:
        scores: shape (n_cases, 1 + n_negatives), column 0 the target.
    """
    s = np.asarray(scores, dtype=np.float64)
    target = s[:, :1]
    return (s[:, 1:] > target).sum(axis=1), (s[:, 1:] == target).sum(axis=1)


def case_metrics(scores: np.ndarray, k: int = 10, ties: str = "expected") -> tuple[np.ndarray, np.ndarray]:
    """Per-case HR@k and NDCG@k, each shape (n_cases,), from candidate scores (column 0 = target)."""
    if ties not in TIE_POLICIES:
        raise ValueError(f"ties must be one of {', '.join(TIE_POLICIES)}, got {ties!r}")
    greater, tied = rank_counts(scores)
    if ties == "pessimistic":
        return hr_at_k(greater + tied, k), ndcg_at_k(greater + tied, k)
    if ties == "optimistic":
        return hr_at_k(greater, k), ndcg_at_k(greater, k)
    # Expectation over the target's position greater + u, u uniform in {0..tied}: only positions < k count,
    # so a table of cumulative gains over 0..k-1 gives it in O(1) per case.
    gains = np.concatenate([[0.0], np.cumsum(1.0 / np.log2(np.arange(k) + 2.0))])
    lo = np.minimum(greater, k)
    hi = np.minimum(greater + tied + 1, k)
    n_in = np.maximum(hi - lo, 0)
    hr = n_in / (tied + 1.0)
    ndcg = (gains[np.maximum(hi, lo)] - gains[lo]) / (tied + 1.0)
    return hr, ndcg


def summarize(hr: np.ndarray, ndcg: np.ndarray, k: int = 10) -> Metrics:
    """Means and standard errors of per-case HR@k and NDCG@k."""
    n = len(hr)
    return Metrics(float(hr.mean()) if n else 0.0, float(ndcg.mean()) if n else 0.0, n, k,
                   standard_error(hr), standard_error(ndcg))


def evaluate_scores(scores: np.ndarray, k: int = 10, ties: str = "expected") -> Metrics:
    """Mean HR@k and NDCG@k (with standard errors) over cases; ``scores`` (n_cases, 1 + n_negatives), column 0
    the target."""
    return summarize(*case_metrics(scores, k, ties), k)
