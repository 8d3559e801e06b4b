"""How much behaviour a BETag system carries, and how much it could.

A finetuned model that learned the behaviour sequences (§3.3) answers an item's base-tag line with the lines of
the items users consume next. Two measurements follow from that:

* **Beam diagnosis**: each stored beam of a BETag run is compared, as a set of tags, with the base-tag lines of the
  pool's items. ``exact_line_share`` says how often a beam reproduces some item's line (the format and the
  catalog were learned); ``successor_share`` how often it is the line of one of the prompted item's ``top_k`` most
  frequent successors in the training split (the behaviour was learned); ``chance_share`` is what a uniformly
  random pool item's line would score on the second.
* **Oracle BETags**: eqs. 4-5 applied to the item's base tags (beam 0) and the base tags of its ``m`` most
  frequent training successors, i.e. what perfect finetuning and decoding would produce. Evaluated with the
  same protocol, it is the ceiling of the method on these base tags; a BETag run far below it was limited by
  the model or its training, not by retrieval.

* **Popular lines left out** (``max_line_items``): each system's stored beams counted again (eqs. 4-5, the item's
  base tags as beam 0 where its job had them) without the beams whose line more than K items' beams chose, and
  evaluated beside the oracle: whether the catalog-wide repeated lines carry behaviour or drown it. With K at least
  the number of items it is the system itself.

Only the training split is used (validation and test interactions never enter the successor counts).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from betag_engine.catalog.store import item_tags, user_sequences
from betag_engine.evaluation.protocol import EvalConfig
from betag_engine.evaluation.table import Table, evaluate_table
from betag_engine.jobs.runner import job_key
from betag_engine.settings import DEFAULT_SEED
from betag_engine.tagging.common import aggregate_beams
from betag_engine.tagging.sequences import training_sequences
from betag_engine.types import matrix_from_triples
from betag_engine.vocabulary import BASE, BETAG, BETAG_JOB, JOB_DONE
from db.models import Job, JobCheckpoint


@dataclass(frozen=True)
class BeamDiagnosis:
    system: str
    items: int
    beams: int
    exact_line_share: float
    successor_share: float
    chance_share: float
    distinct_items: int
    top_k: int

    def as_dict(self) -> dict:
        return asdict(self)

    def line(self) -> str:
        return (f"{self.system}: {self.beams} beams over {self.items} items; {self.exact_line_share:.1%} reproduce an "
                f"item's base-tag line ({self.distinct_items} different items); {self.successor_share:.1%} are one "
                f"of the prompted item's top-{self.top_k} training successors (chance {self.chance_share:.1%})")


def successor_counts(train: Mapping[int, Sequence[int]]) -> dict[int, Counter]:
    """item -> Counter of the items consumed right after it in the training sequences."""
    succ: dict[int, Counter] = defaultdict(Counter)
    for seq in train.values():
        for a, b in zip(seq, seq[1:]):
            succ[a][b] += 1
    return succ


def oracle_tags(base: Mapping[int, list[str]], succ: Mapping[int, Counter], item_ids: Sequence[int],
                m: int) -> dict[int, dict[str, int]]:
    """Eqs. 4-5 over the item's base tags and those of its ``m`` most frequent training successors."""
    out = {}
    for i in item_ids:
        beams = [base.get(i, [])] + [base.get(j, []) for j, _ in succ.get(i, Counter()).most_common(m)]
        out[int(i)] = aggregate_beams(beams)
    return out


def diagnose_beams(system: str, beams: Mapping[int, list[list[str]]], base: Mapping[int, list[str]],
                   succ: Mapping[int, Counter], pool: Sequence[int], top_k: int = 8) -> BeamDiagnosis:
    """Compare stored beams (item -> list of tag lists) with the pool's base-tag lines (see the module doc)."""
    owners: dict[frozenset, list[int]] = defaultdict(list)
    for i in pool:
        if base.get(i):
            owners[frozenset(base[i])].append(int(i))
    n = exact = hits = 0
    matched: set[int] = set()
    chance = []
    for item, item_beams in beams.items():
        top = {j for j, _ in succ.get(item, Counter()).most_common(top_k)}
        chance.append(len(top) / max(1, len(pool)))
        for beam in item_beams:
            n += 1
            items = owners.get(frozenset(beam), [])
            exact += bool(items)
            hits += any(j in top for j in items)
            matched.update(items[:1])
    return BeamDiagnosis(system, len(beams), n, exact / max(1, n), hits / max(1, n),
                         sum(chance) / max(1, len(chance)), len(matched), top_k)


def without_popular_lines(beams: Mapping[int, list[list[str]]], first: Mapping[int, list[str]],
                          max_items: int) -> dict[int, dict[str, int]]:
    """Eqs. 4-5 over ``first[item]`` (beam 0, when given) and the item's beams whose line (the beam's tags, in
    order) appears in the beams of at most ``max_items`` items."""
    items_of_line: Counter[tuple[str, ...]] = Counter()
    for item_beams in beams.values():
        items_of_line.update({tuple(b) for b in item_beams})
    return {item: aggregate_beams(([first[item]] if item in first else []) +
                                  [b for b in item_beams if items_of_line[tuple(b)] <= max_items])
            for item, item_beams in beams.items()}


def stored_beams(session: Session, system: str) -> tuple[dict[int, list[list[str]]], dict]:
    """The beams of the newest finished BETag job that wrote ``system`` (from its checkpoints), and its params.

    Raises:
        ValueError: no finished BETag job wrote ``system``.
    """
    jobs = session.scalars(select(Job).where(Job.kind == BETAG_JOB, Job.status == JOB_DONE).order_by(Job.id.desc()))
    job = next((j for j in jobs if (j.params or {}).get("system", BETAG) == system), None)
    if job is None:
        raise ValueError(f"no finished betag job wrote system {system!r}")
    rows = session.execute(select(JobCheckpoint.unit, JobCheckpoint.payload)
                           .where(JobCheckpoint.job_key == job_key(job.kind, job.params)))
    beams = {int(unit.split("-", 1)[1]): payload["beams"] for unit, payload in rows
             if unit.startswith("item-") and "beams" in (payload or {})}
    return beams, dict(job.params)


@dataclass
class Diagnosis:
    """Beam diagnoses of the systems asked for (those with a finished BETag job) and the oracle's evaluation."""

    beams: list[BeamDiagnosis]
    oracle_m: int
    oracle: Table  # the oracle BETags with BM25 and BiRank, plus Popular

    def as_dict(self) -> dict:
        return {"beams": [b.as_dict() for b in self.beams], "oracle_m": self.oracle_m,
                "oracle_table": json.loads(json.dumps(self.oracle.as_dict(), default=str))}


def diagnose(session: Session, systems: Sequence[str], pool, base_system: str = BASE, top_k: int = 8,
             oracle_m: int = 8, max_tags_per_item: int = 8, seed: int = DEFAULT_SEED,
             max_line_items: Sequence[int] = ()) -> Diagnosis:
    """Diagnose ``systems``' stored beams and evaluate oracle BETags with ``oracle_m`` successors on ``pool`` (and,
    for each K of ``max_line_items``, each system without the lines more than K items chose: ``<system>-lines<=K``).

    Args:
        pool: item ids, any order (the evaluation's candidates; sequences are restricted to it, as the
            evaluation does).
        max_tags_per_item: base tags per item in the oracle's lines (a BETag job's own value is used for its beams).
        seed: the evaluation's negative-sampling seed (BETAG_SEED).
    """
    pool = np.array(sorted({int(i) for i in pool}), dtype=np.int64)  # the TagMatrix row order
    sequences = user_sequences(session)
    succ = successor_counts(training_sequences(sequences, pool.tolist()))
    all_base = {i: [t.tag for t in ts] for i, ts in item_tags(session, base_system).items()}
    found, variants = [], {}
    for system in systems:
        try:
            beams, params = stored_beams(session, system)
        except ValueError:
            continue
        k = int(params.get("max_tags_per_item", 8))
        lines = {i: t[:k] for i, t in all_base.items()}
        found.append(diagnose_beams(system, beams, lines, succ, pool.tolist(), top_k))
        first = lines if params.get("include_base", True) else {}
        for most in max_line_items:
            variants[f"{system}-lines<={most}"] = without_popular_lines(beams, first, most)
    base = {i: t[:max_tags_per_item] for i, t in all_base.items()}
    variants = {f"oracle-m{oracle_m}": oracle_tags(base, succ, pool.tolist(), oracle_m), **variants}
    matrices = {name: matrix_from_triples(pool, [(i, tag, n) for i, tags in counts.items() for tag, n in tags.items()])
                for name, counts in variants.items()}
    table = evaluate_table(matrices, sequences, config=EvalConfig(seed=seed), item_ids=pool)
    return Diagnosis(found, oracle_m, table)
