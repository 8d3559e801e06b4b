"""The protocol's data (BETag §4.1-4.2): settings, the prepared split with its sampled candidates, the grid.

Works on plain data (a TagMatrix and user sequences), so a caller can evaluate any subset of items or users.
:func:`prepare` splits once and samples the 1 + n_negatives candidates of every case; every system, retriever
and task is then scored on those rows only (``evaluation.grid_search``). A :class:`Prepared` can be narrowed to
a subset of its cases (e.g. the cases whose target is a cold item, and the complement) that shares the split and
the negatives, and can carry a popularity vector given by the caller instead of the one counted from the split.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import scipy.sparse as sp

from betag_engine.evaluation.metrics import TIE_POLICIES, Metrics
from betag_engine.evaluation.negatives import sample_negatives
from betag_engine.evaluation.uncertainty import CaseValues
from betag_engine.retrieval.config import WEIGHTINGS, check_retriever
from betag_engine.retrieval.popular import popularity as count_popularity
from betag_engine.settings import DEFAULT_SEED
from betag_engine.split import Split, leave_one_last, restrict_sequences
from betag_engine.types import TagMatrix
from betag_engine.vocabulary import BIRANK, BM25, ITEM_TASK, POPULAR, TASKS, row_label

PHASES = ("validation", "test")
GRID_SAMPLE_PHASE = 3  # seeds the grid's validation sample apart from the negatives' phases (1, 2)


@dataclass(frozen=True)
class EvalConfig:
    """The protocol's knobs (BETag §4.1-4.2); saved with every result."""

    k: int = field(default=10, metadata={"help": "Cut-off of HR@k and NDCG@k."})
    n_negatives: int = field(default=100, metadata={"help": "Sampled negatives per case."})
    seed: int = field(default=DEFAULT_SEED, metadata={"help": "Seed of the negative sampling (the evaluate "
                                                              "command and job use BETAG_SEED unless given)."})
    ties: str = field(default="expected", metadata={"help": "Tie policy: expected | pessimistic | optimistic."})
    bm25_k1: tuple[float, ...] = field(default=(0.0, 0.5, 1.0, 1.5, 2.0),
                                       metadata={"help": "BM25 k1 values of the validation grid."})
    bm25_b: tuple[float, ...] = field(default=(0.0, 0.25, 0.5, 0.75),
                                      metadata={"help": "BM25 b values of the validation grid."})
    birank_values: tuple[float, ...] = field(default=tuple(round(float(v), 4) for v in np.linspace(0.1, 0.9, 10)),
                                             metadata={"help": "BiRank alpha = beta values of the validation grid."})
    weightings: tuple[str, ...] = field(default=WEIGHTINGS, metadata={"help": "History weightings tried for "
                                                                               "user-based retrieval (eqs. 7-8)."})
    max_validation_cases: int = field(default=5_000, metadata={
        "help": "Grid search on at most this many validation cases (a seeded sample of them; 0 = all). Test "
                "metrics always use every test case."})

    def __post_init__(self) -> None:
        if self.k < 1 or self.n_negatives < 1:
            raise ValueError(f"k and n_negatives must be >= 1, got k={self.k}, n_negatives={self.n_negatives}")
        if self.ties not in TIE_POLICIES:
            raise ValueError(f"ties must be one of {', '.join(TIE_POLICIES)}, got {self.ties!r}")
        bad = [w for w in self.weightings if w not in WEIGHTINGS]
        if bad or not self.weightings:
            raise ValueError(f"weightings must be among {', '.join(WEIGHTINGS)}, got {list(self.weightings)}")
        if self.max_validation_cases < 0:
            raise ValueError(f"max_validation_cases must be >= 0 (0 = all), got {self.max_validation_cases}")


@dataclass
class Prepared:
    """Everything shared by every system evaluated on one item pool: split, candidates, queries' rows.

    Attributes:
        item_ids: the pool, ascending (TagMatrix row order).
        split: the leave-one-last split of the pool's sequences (every case, whatever subset is selected).
        candidates: phase -> rows, (n_cases, 1 + n_neg), column 0 the target, for the selected cases.
        histories: phase -> history rows per selected case, oldest first.
        popularity: Popular's score per row (train interaction counts unless given).
        cases: phase -> indices of the selected cases in ``split.cases(phase)`` (user order).
        label: names a subset in cell keys and metadata ("" for every case).
    """

    item_ids: np.ndarray
    split: Split
    candidates: dict[str, np.ndarray]
    histories: dict[str, list[np.ndarray]]
    popularity: np.ndarray
    n_users: int
    n_interactions: int
    cases: dict[str, np.ndarray] = field(default_factory=dict)
    label: str = ""

    def n_cases(self, phase: str) -> int:
        return len(self.candidates[phase])

    def targets(self, phase: str) -> np.ndarray:
        """Item ids of the selected cases' targets, shape (n_cases,)."""
        return self.item_ids[self.candidates[phase][:, 0]] if self.n_cases(phase) else np.zeros(0, np.int64)

    def users(self, phase: str) -> np.ndarray:
        all_cases = self.split.cases(phase)
        return np.array([all_cases[i].user for i in self.cases[phase]], dtype=np.int64)

    def fingerprint(self, phase: str = "test") -> str:
        """A short hash of the selected cases (users and targets): per-case values of two results pair up only
        when their fingerprints match."""
        blob = np.concatenate([self.users(phase), self.targets(phase)]).astype(np.int64).tobytes()
        return hashlib.sha1(blob).hexdigest()[:16]

    def subset(self, keep: Mapping[str, np.ndarray], label: str) -> Prepared:
        """The selected cases where ``keep[phase]`` (a boolean mask over them) is true, same split and negatives.

        Args:
            keep: phase -> bool array of shape (n_cases(phase),); a phase left out keeps every case.
            label: the subset's name (cell keys, metadata); must be non-empty.
        """
        if not label:
            raise ValueError("a subset needs a label (it keeps its cells apart from the full evaluation's)")
        cand, hist, cases = {}, {}, {}
        for phase in PHASES:
            mask = np.asarray(keep.get(phase, np.ones(self.n_cases(phase), bool)), dtype=bool)
            if mask.shape != (self.n_cases(phase),):
                raise ValueError(f"keep[{phase!r}] must have shape ({self.n_cases(phase)},), got {mask.shape}")
            cand[phase] = self.candidates[phase][mask]
            hist[phase] = [h for h, m in zip(self.histories[phase], mask) if m]
            cases[phase] = self.cases[phase][mask]
        full = f"{self.label}/{label}" if self.label else label
        return replace(self, candidates=cand, histories=hist, cases=cases, label=full)

    def by_target(self, item_ids, complement: bool = False, label: str = "") -> Prepared:
        """The cases whose target item is in ``item_ids`` (or, with ``complement``, is not), in both phases, so
        the grid is chosen on the same subset's validation cases. Default label "target-in" / "target-not-in"."""
        wanted = np.asarray(list(item_ids), dtype=np.int64)
        keep = {p: np.isin(self.targets(p), wanted) != complement for p in PHASES}
        return self.subset(keep, label or ("target-not-in" if complement else "target-in"))

    def with_popularity(self, counts) -> Prepared:
        """A copy whose Popular scores are ``counts`` (shape (n_items,), one per row of ``item_ids``), e.g.
        train counts with the cold items' interactions removed."""
        return replace(self, popularity=_check_popularity(counts, len(self.item_ids)))

    def grid_rows(self, config: EvalConfig) -> np.ndarray:
        """Indices of the validation cases the grid search uses: all of them, or a seeded sample of
        ``config.max_validation_cases`` (sorted, so it is a subset in user order)."""
        n = self.n_cases("validation")
        cap = config.max_validation_cases
        if not cap or n <= cap:
            return np.arange(n)
        rng = np.random.default_rng([config.seed, GRID_SAMPLE_PHASE])
        return np.sort(rng.choice(n, size=cap, replace=False))


def _check_popularity(counts, n_items: int) -> np.ndarray:
    counts = np.asarray(counts, dtype=np.float64)
    if counts.shape != (n_items,):
        raise ValueError(f"popularity must have one value per pool item, shape ({n_items},), got {counts.shape}")
    return counts


def prepare(
    item_ids: np.ndarray, sequences: Mapping[int, list[int]], config: EvalConfig,
    popularity: np.ndarray | None = None, progress: Callable[[str], None] | None = None,
) -> Prepared:
    """Restrict sequences to the pool, split them, sample negatives and map everything to row indices.

    Args:
        item_ids: the pool, strictly ascending.
        sequences: user -> item ids, oldest first.
        config: protocol settings (seed, negatives).
        popularity: Popular's scores per pool item (shape (n_items,)); default the split's train counts.
        progress: called with a short status line while negatives are drawn (large catalogs take seconds).
    """
    item_ids = np.asarray(item_ids, dtype=np.int64)
    if len(item_ids) and np.any(np.diff(item_ids) <= 0):
        raise ValueError("item_ids must be strictly ascending (TagMatrix row order)")
    seqs = restrict_sequences(sequences, item_ids)
    split = leave_one_last(seqs)
    candidates, histories = {}, {}
    for phase in PHASES:
        cases = split.cases(phase)
        note = (lambda n, ph=phase, total=len(cases): progress(f"negatives ({ph}): {n}/{total} cases")) \
            if progress else None
        if progress:
            progress(f"negatives ({phase}): 0/{len(cases)} cases")
        neg = sample_negatives(cases, seqs, item_ids, config.n_negatives, config.seed, phase, progress=note)
        ids = np.column_stack([np.array([c.target for c in cases], dtype=np.int64).reshape(-1, 1), neg])
        candidates[phase] = np.searchsorted(item_ids, ids)
        histories[phase] = [np.searchsorted(item_ids, np.asarray(c.history, dtype=np.int64)) for c in cases]
    pop = count_popularity(split.train, item_ids) if popularity is None else _check_popularity(popularity,
                                                                                              len(item_ids))
    cases = {p: np.arange(len(split.cases(p))) for p in PHASES}
    return Prepared(item_ids, split, candidates, histories, pop, len(seqs), sum(len(s) for s in seqs.values()),
                    cases)


def align(tag_matrix: TagMatrix, item_ids: np.ndarray) -> TagMatrix:
    """Re-index a TagMatrix onto ``item_ids`` (missing items get empty rows, extra items are dropped)."""
    item_ids = np.asarray(item_ids, dtype=np.int64)
    if np.array_equal(tag_matrix.item_ids, item_ids):
        return tag_matrix
    src = {int(i): r for r, i in enumerate(tag_matrix.item_ids)}
    pairs = [(r, src[int(i)]) for r, i in enumerate(item_ids) if int(i) in src]
    sel = sp.csr_matrix((np.ones(len(pairs)), ([p[0] for p in pairs], [p[1] for p in pairs])),
                        shape=(len(item_ids), len(tag_matrix.item_ids)))
    return TagMatrix(sp.csr_matrix(sel @ tag_matrix.matrix), item_ids, list(tag_matrix.tags))


def grid(retriever: str, task: str, config: EvalConfig) -> list[dict]:
    """The validation grid: BM25 k1 x b, BiRank alpha = beta, times weightings for user-based BM25/BiRank."""
    check_retriever(retriever)
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    if retriever == POPULAR:
        return [{}]
    if retriever == BM25:
        base = [{"k1": float(k1), "b": float(b)} for k1 in config.bm25_k1 for b in config.bm25_b]
    else:
        base = [{"alpha": float(v), "beta": float(v)} for v in config.birank_values]
    if task == ITEM_TASK:
        return base
    return [{**p, "weighting": w} for p in base for w in config.weightings]


def cell_key(system: str, retriever: str, task: str, params: Mapping | str, subset: str = "") -> str:
    """A stable unit name for one grid cell (or 'test') of one evaluation (of one case subset)."""
    label = params if isinstance(params, str) else ",".join(f"{k}={v}" for k, v in sorted(params.items()))
    key = f"{system}|{retriever}|{task}|{label or 'default'}"
    return f"{key}|{subset}" if subset else key


def cell_label(key: str) -> str:
    """A unit name of :func:`cell_key` as a person reads it in a job's progress line:
    "-|popular|item|test" -> "Popular, item-based, test"; "base|bm25|user|k1=0.5" -> "base, BM25, user-based,
    validation k1=0.5"; a row's "<system>|<retriever>" -> "base, BM25"."""
    parts = key.split("|", 4)
    if len(parts) not in (2, 4, 5):
        return key
    system, retriever = parts[:2]
    who = row_label(system, retriever)
    how = "" if retriever == POPULAR else f", {({BM25: 'BM25', BIRANK: 'BiRank'}).get(retriever, retriever)}"
    if len(parts) == 2:  # a system x retriever row starting
        return f"{who}{how}"
    task, label = parts[2:4]
    what = "test" if label == "test" else f"validation {label.replace(',', ', ')}"
    subset = f" ({parts[4]})" if len(parts) == 5 else ""
    return f"{who}{how}, {task}-based, {what}{subset}"


@dataclass
class EvalResult:
    """Best validation configuration of one (system, retriever, task) and its test metrics.

    ``test_cases`` holds the per-case test HR@k / NDCG@k (for paired differences, ``uncertainty``)."""

    system: str
    retriever: str
    task: str
    params: dict
    validation: Metrics
    test: Metrics
    grid: list[dict]
    test_cases: CaseValues | None = None

    def as_dict(self) -> dict:
        out = {"system": self.system, "retriever": self.retriever, "task": self.task, "params": self.params,
               "validation": self.validation.as_dict(), "test": self.test.as_dict(), "grid": self.grid}
        if self.test_cases is not None:
            out["test_cases"] = self.test_cases.as_dict()
        return out


CellCallback = Callable[[str, dict], None]


def count_cells(systems: int, retrievers: list[str], tasks: list[str], config: EvalConfig, popular: bool) -> int:
    """How many units :func:`evaluation.table.evaluate_table` computes (for progress totals)."""
    per_system = sum(len(grid(r, t, config)) + 1 for r in retrievers if r != POPULAR for t in tasks)
    return systems * per_system + (sum(len(grid(POPULAR, t, config)) + 1 for t in tasks) if popular else 0)
