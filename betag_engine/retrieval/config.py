"""Retriever names and their parameters (validated dataclasses, saved with results as JSON)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from betag_engine.vocabulary import BIRANK, BM25, POPULAR, RETRIEVERS

WEIGHTINGS = ("uniform", "linear")


@dataclass(frozen=True)
class BM25Params:
    """BM25 over items-as-documents, tags-as-terms (BETag appendix A, eqs. 16-18)."""

    k1: float = field(default=1.5, metadata={"help": "Term-frequency saturation, >= 0 (0 = binary tags)."})
    b: float = field(default=0.75, metadata={"help": "Length normalisation in [0, 1] (0 = none)."})

    def __post_init__(self) -> None:
        if not self.k1 >= 0:
            raise ValueError(f"k1 must be >= 0, got {self.k1!r}")
        if not 0 <= self.b <= 1:
            raise ValueError(f"b must be in [0, 1], got {self.b!r}")


@dataclass(frozen=True)
class BiRankParams:
    """BiRank on the item-tag bipartite graph (appendix A, eqs. 20-21).

    ``alpha`` damps the tag side (where the query sits), ``beta`` the item side (networkx's convention with
    tags as the 'top' nodes)."""

    alpha: float = field(default=0.5, metadata={"help": "Tag-side damping in [0, 1)."})
    beta: float = field(default=0.5, metadata={"help": "Item-side damping in [0, 1)."})

    def __post_init__(self) -> None:
        for name in ("alpha", "beta"):
            value = getattr(self, name)
            if not 0 <= value < 1:
                raise ValueError(f"{name} must be in [0, 1), got {value!r}")


@dataclass(frozen=True)
class PopularParams:
    """Popular has no parameters: items ranked by their interaction count in the training data."""


PARAM_CLASSES = {BM25: BM25Params, BIRANK: BiRankParams, POPULAR: PopularParams}


def check_retriever(name: str) -> str:
    if name not in RETRIEVERS:
        raise ValueError(f"retriever must be one of {', '.join(RETRIEVERS)}, got {name!r}")
    return name


def check_weighting(name: str) -> str:
    if name not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {', '.join(WEIGHTINGS)}, got {name!r}")
    return name


def make_params(retriever: str, params: Any = None):
    """Turn None, a dict or a params object into the retriever's params dataclass (validated)."""
    cls = PARAM_CLASSES[check_retriever(retriever)]
    if params is None:
        return cls()
    if isinstance(params, cls):
        return params
    if isinstance(params, dict):
        known = set(cls.__dataclass_fields__)
        unknown = set(params) - known - {"weighting"}
        if unknown:
            raise ValueError(
                f"{retriever} parameters must be among {', '.join(sorted(known)) or 'none'}, got {sorted(unknown)}"
            )
        return cls(**{k: v for k, v in params.items() if k in known})
    raise ValueError(f"{retriever} parameters must be a dict or {cls.__name__}, got {type(params).__name__}")


def params_dict(params) -> dict[str, Any]:
    return asdict(params)
