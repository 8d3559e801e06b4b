"""How sure a metric is: standard errors of HR@k / NDCG@k and paired differences between two results.

Every case contributes one HR@k and one NDCG@k value; a mean over n cases has the standard error
``std(values, ddof=1) / sqrt(n)``. Two systems evaluated on the same cases (same split, same negatives, same
subset) pair up case by case, and the difference of their means has the standard error of the per-case
differences, usually much smaller than either system's own, because the cases' difficulty cancels out.

Per-case test values travel with each result (:class:`CaseValues`), stored compactly in reports as
little-endian float32 in base64 (a 50k-case catalog: about 270 kB per metric), with a fingerprint of the cases
so that values of different case sets are never paired.

Typical use::

    d = paired_difference(row_a.results["user"], row_b.results["user"], "ndcg")
    print(d.describe("betag / bm25", "native / bm25"))   # "betag / bm25 beats native / bm25 by 0.0123 ± 0.0041"
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

METRICS = ("hr", "ndcg")
ENCODING = "float32-le-base64"
TIE_SE = 2.0  # a difference under this many standard errors is a tie


def standard_error(values: np.ndarray) -> float:
    """std(values, ddof=1) / sqrt(n); 0.0 for fewer than 2 values."""
    v = np.asarray(values, dtype=np.float64)
    return float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) >= 2 else 0.0


def _encode(values: np.ndarray) -> str:
    return base64.b64encode(np.asarray(values, dtype="<f4").tobytes()).decode("ascii")


def _decode(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<f4").astype(np.float64)


@dataclass(frozen=True)
class CaseValues:
    """Per-case HR@k and NDCG@k of one result (shape (n_cases,) each), and the fingerprint of its cases."""

    hr: np.ndarray
    ndcg: np.ndarray
    fingerprint: str

    def as_dict(self) -> dict:
        return {"encoding": ENCODING, "n": int(len(self.hr)), "fingerprint": self.fingerprint,
                "hr": _encode(self.hr), "ndcg": _encode(self.ndcg)}

    @classmethod
    def from_dict(cls, payload: Mapping) -> CaseValues:
        if payload.get("encoding") != ENCODING:
            raise ValueError(f"per-case values must be encoded as {ENCODING}, got {payload.get('encoding')!r}")
        return cls(_decode(payload["hr"]), _decode(payload["ndcg"]), str(payload["fingerprint"]))


@dataclass(frozen=True)
class Difference:
    """mean(a - b) over paired cases, its standard error, and n."""

    mean: float
    se: float
    n: int
    metric: str

    @property
    def z(self) -> float:
        return self.mean / self.se if self.se > 0 else (math.inf if self.mean else 0.0)

    def is_tie(self, threshold: float = TIE_SE) -> bool:
        """True when |mean| is under ``threshold`` standard errors."""
        return abs(self.z) < threshold

    def describe(self, name_a: str, name_b: str, threshold: float = TIE_SE) -> str:
        """'A beats B by d ± se', 'A trails B by d ± se', or 'A ties B (d ± se)' under the threshold."""
        figure = f"{abs(self.mean):.4f} ± {self.se:.4f} {self.metric}"
        if self.is_tie(threshold):
            return f"{name_a} ties {name_b} ({self.mean:+.4f} ± {self.se:.4f} {self.metric}, n={self.n})"
        verb = "beats" if self.mean > 0 else "trails"
        return f"{name_a} {verb} {name_b} by {figure} (n={self.n})"

    def as_dict(self) -> dict:
        return {"metric": self.metric, "mean": self.mean, "se": self.se, "n": self.n}


def case_values(result) -> CaseValues:
    """The per-case test values of an ``EvalResult`` or of its ``as_dict()`` form (a report's result)."""
    if isinstance(result, Mapping):
        payload = result.get("test_cases")
        if payload is None:
            raise ValueError("this result has no per-case values (evaluated before they were stored?)")
        return CaseValues.from_dict(payload)
    if result.test_cases is None:
        raise ValueError(f"result {result.system}/{result.retriever}/{result.task} has no per-case values")
    return result.test_cases


def paired_difference(a, b, metric: str = "ndcg") -> Difference:
    """Paired difference a - b of a test metric over the same cases.

    Args:
        a, b: ``EvalResult`` objects or their dicts (``Table.as_dict()`` / report rows' results).
        metric: "hr" or "ndcg".

    Raises:
        ValueError: unknown metric, missing per-case values, or results over different cases.
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
    va, vb = case_values(a), case_values(b)
    if va.fingerprint != vb.fingerprint or len(va.hr) != len(vb.hr):
        raise ValueError("the two results were evaluated on different cases (fingerprints "
                         f"{va.fingerprint} / {vb.fingerprint}); pair only results of one split and subset")
    diff = getattr(va, metric) - getattr(vb, metric)
    return Difference(float(diff.mean()) if len(diff) else 0.0, standard_error(diff), int(len(diff)), metric)
