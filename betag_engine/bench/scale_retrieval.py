"""``bench scale-retrieval``: the retrieval calls the app makes, on the database's native tags, cold and warm.

Cold is the first call in this process (it includes loading what the call needs from the database: the tag
matrix, the interaction counts for Popular); warm is the mean of the next ``REPEATS`` calls with other queries.
Run by ``bench scale`` (step "retrieval") in a process of its own, or alone on any database.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import numpy as np
from sqlalchemy import func, select

from betag_engine.catalog.store import interaction_counts, tag_matrix
from betag_engine.curation.preview import preview
from betag_engine.retrieval import rank
from betag_engine.vocabulary import BIRANK, BM25, NATIVE, POPULAR
from db.models import Interaction, Item
from db.session import session_scope

REPEATS = 5


def _timed(fn: Callable[[int], object], n: int = REPEATS) -> tuple[float, float]:
    """(first call's seconds, mean seconds of the next ``n``); ``fn`` gets the call's index."""
    t = time.perf_counter()
    fn(0)
    cold = time.perf_counter() - t
    t = time.perf_counter()
    for i in range(1, n + 1):
        fn(i)
    return cold, (time.perf_counter() - t) / n


def measure(url: str, system: str = NATIVE) -> list[dict]:
    rows = []

    def add(name: str, cold: float, warm: float, note: str = "") -> None:
        rows.append({"name": name, "cold_s": round(cold, 4), "warm_s": round(warm, 4), "note": note})

    with session_scope(url) as s:
        t = time.perf_counter()
        tm = tag_matrix(s, system)
        load_tm = time.perf_counter() - t
        t = time.perf_counter()
        pop = interaction_counts(s, tm.item_ids)  # what the app's Popular uses
        load_pop = time.perf_counter() - t
        # queries: items that have tags, and users with a typical history (the median length)
        tagged = tm.item_ids[np.diff(tm.matrix.indptr) > 0]
        items = [int(i) for i in np.random.default_rng(0).choice(tagged, size=REPEATS + 1, replace=False)]
        lengths = s.execute(select(Interaction.user_id, func.count()).group_by(Interaction.user_id)).all()
        median = int(np.median([n for _, n in lengths]))
        users = [u for u, n in lengths if n == median][:REPEATS + 1]
        histories = []
        for u in users:
            histories.append(list(s.scalars(select(Interaction.item_id).where(Interaction.user_id == u)
                                            .order_by(Interaction.timestamp, Interaction.position))))
        n_items = s.scalar(select(func.count(Item.id)))
    add("load tag matrix (native)", load_tm, load_tm, f"{tm.matrix.shape[0]:,} items x {tm.matrix.shape[1]:,} tags")
    add("load interaction counts (Popular)", load_pop, load_pop, f"{n_items:,} items")
    for retriever in (BM25, BIRANK, POPULAR):
        cold, warm = _timed(lambda i, r=retriever: rank(tm, r, items[i], k=10, popularity=pop))
        add(f"rank {retriever}, item query", cold, warm)
    cold, warm = _timed(lambda i: rank(tm, BM25, histories[i % len(histories)], k=10, params={"weighting": "linear"}))
    add("rank bm25, user history", cold, warm, f"history of {median} items")
    cold, warm = _timed(lambda i: rank(tm, BIRANK, histories[i % len(histories)], k=10))
    add("rank birank, user history", cold, warm)
    tags = tm.tags[:3]
    cold, warm = _timed(lambda i: rank(tm, BM25, list(tags), k=10))
    add("rank bm25, typed tags", cold, warm)
    cold, warm = _timed(lambda i: preview(tm, BM25, items[i], items[i], {"draft tag": 1.0, tags[0]: 1.0}, k=10))
    add("preview a draft (before and after), bm25", cold, warm)
    return rows


def main(args, settings) -> int:
    rows = measure(settings.database_url, args.system)
    for r in rows:
        print(f"{r['name']:<44} cold {r['cold_s']:>7.3f} s  warm {r['warm_s']:>7.3f} s  {r['note']}")
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump({"rows": rows}, f, indent=2)
    return 0
