"""``bench retrieval``: our precomputed BM25 operator against the ``bm25s`` package, same documents and queries.

Documents are items' tag lists (a tag repeated count times), queries are items' distinct tags (item-based
retrieval), top-k per query. Ours: W (eqs. 16-18) built once, queries batched as one sparse matrix and multiplied
chunk by chunk, top-k by argpartition. bm25s: ``method="lucene"`` (the same IDF and tf saturation; our scores are
its scores times the constant k1 + 1, which the score check divides out), its fastest installed backends
(``backend="auto"``: numba if installed, else numpy; jax top-k if installed; scipy index building), one query at
a time as its ``retrieve`` does. Both single-threaded. Also timed: building each index, the app's ``rank`` call and the
whole ``evaluate --all`` command on the database.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass

import numpy as np
import scipy.sparse as sp

from betag_engine.retrieval import kernel
from betag_engine.retrieval.bm25 import bm25_operator
from betag_engine.retrieval.fast import sparse_operator_scores, topk_block
from betag_engine.settings import DEFAULT_SEED
from betag_engine.vocabulary import BIRANK, BM25, NATIVE

K1, B = 1.5, 0.75
CHUNK = 256  # queries per sparse product: bounds the dense (CHUNK x n_items) score block


@dataclass
class CorpusResult:
    corpus: str
    n_items: int
    n_tags: int
    n_queries: int
    build_ours_s: float
    build_bm25s_s: float
    ours_product_qps: float
    ours_batched_qps: float
    ours_columns_qps: float
    bm25s_qps: float
    ratio_product: float
    ratio_batched: float
    ratio_columns: float
    max_abs_diff: float
    max_rel_diff: float
    top10_scores_equal: float


def synthetic_catalog(n_items: int = 100_000, n_tags: int = 20_000, tags_per_item: float = 10.0,
                      zipf_s: float = 1.0, seed: int = DEFAULT_SEED) -> sp.csr_matrix:
    """A seeded item x tag count matrix: Poisson(tags_per_item) draws per item (at least 1) from a Zipf(s) law."""
    rng = np.random.default_rng(seed)
    per_item = np.maximum(rng.poisson(tags_per_item, n_items), 1)
    p = 1.0 / np.arange(1, n_tags + 1) ** zipf_s
    cols = rng.choice(n_tags, size=int(per_item.sum()), p=p / p.sum())
    rows = np.repeat(np.arange(n_items), per_item)
    m = sp.csr_matrix((np.ones(len(cols)), (rows, cols)), shape=(n_items, n_tags))
    m.sum_duplicates()
    return m


def _documents(a: sp.csr_matrix) -> list[list[str]]:
    return [[f"t{c}" for c, v in zip(a.indices[a.indptr[r]:a.indptr[r + 1]], a.data[a.indptr[r]:a.indptr[r + 1]])
             for _ in range(int(v))] for r in range(a.shape[0])]


def _ours_batched(wt: sp.csr_matrix, q: sp.csr_matrix, k: int) -> np.ndarray:
    """Top-k rows per query: one sparse-sparse product per chunk of queries, then block top-k."""
    idx = np.empty((q.shape[0], k), dtype=np.int64)
    for start in range(0, q.shape[0], CHUNK):
        block = (q[start:start + CHUNK] @ wt).toarray()
        idx[start:start + CHUNK] = topk_block(block, k)[0]
    return idx


def _ours_product(wt: sp.csr_matrix, q: sp.csr_matrix, k: int) -> np.ndarray:
    """Top-k rows per query through the product's own path: ``retrieve``'s compiled kernel when numba is installed,
    else ``Index.score`` (SpGEMM or columns, chosen per batch) and block top-k."""
    if kernel.available():
        return kernel.sparse_topk(wt, q, k)[0]
    idx = np.empty((q.shape[0], k), dtype=np.int64)
    for start in range(0, q.shape[0], CHUNK):
        idx[start:start + CHUNK] = topk_block(sparse_operator_scores(wt, q[start:start + CHUNK]), k)[0]
    return idx


def _ours_columns(wc: sp.csc_matrix, q: sp.csr_matrix, k: int) -> np.ndarray:
    """Top-k rows per query: W's columns of the query's tags added (q_t-weighted), then block top-k."""
    idx = np.empty((q.shape[0], k), dtype=np.int64)
    n = wc.shape[0]
    for i in range(q.shape[0]):
        tags, vals = q.indices[q.indptr[i]:q.indptr[i + 1]], q.data[q.indptr[i]:q.indptr[i + 1]]
        spans = [slice(wc.indptr[t], wc.indptr[t + 1]) for t in tags]
        rows = np.concatenate([wc.indices[s] for s in spans])
        data = np.concatenate([v * wc.data[s] for v, s in zip(vals, spans)])
        scores = np.zeros(n, dtype=np.float32)
        np.add.at(scores, rows, data)
        idx[i] = topk_block(scores[None, :], k)[0][0]
    return idx


def bench_corpus(name: str, a: sp.csr_matrix, n_queries: int, k: int = 10, seed: int = DEFAULT_SEED,
                 check: int = 50) -> CorpusResult:
    """Time both libraries on one corpus; compare scores on ``check`` queries."""
    import bm25s

    a = sp.csr_matrix(a, dtype=np.float64)
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(np.flatnonzero(np.diff(a.indptr) > 0), size=min(n_queries, a.shape[0]),
                              replace=False))
    q = sp.csr_matrix(a[rows], dtype=np.float32)
    q.data[:] = 1.0  # distinct tags of the query item
    query_tokens = [[f"t{c}" for c in q.indices[q.indptr[i]:q.indptr[i + 1]]] for i in range(q.shape[0])]
    docs = _documents(a)

    t = time.perf_counter()
    w = bm25_operator(a, K1, B, dtype=np.float32)
    wt, wc = w.T.tocsr(), w.tocsc()
    build_ours = time.perf_counter() - t
    t = time.perf_counter()
    ref = bm25s.BM25(k1=K1, b=B, method="lucene", dtype="float32", backend="auto", csc_backend="auto")
    ref.index(docs, show_progress=False)
    build_ref = time.perf_counter() - t

    _ours_product(wt, q[:2], k)  # warm-up: the kernel compiles (or loads its cache) on first use
    t = time.perf_counter()
    prod_idx = _ours_product(wt, q, k)
    prod_s = time.perf_counter() - t
    t = time.perf_counter()
    ours_idx = _ours_batched(wt, q, k)
    ours_s = time.perf_counter() - t
    t = time.perf_counter()
    cols_idx = _ours_columns(wc, q, k)
    cols_s = time.perf_counter() - t
    _single_thread_numba()
    ref.retrieve(query_tokens[:2], k=k, show_progress=False, n_threads=0)  # warm-up: numba compiles on first use
    t = time.perf_counter()
    ref_res = ref.retrieve(query_tokens, k=k, show_progress=False, n_threads=0)
    ref_s = time.perf_counter() - t

    w64 = bm25_operator(a, K1, B)
    sample = rng.choice(len(rows), size=min(check, len(rows)), replace=False)
    abs_diff = rel_diff = 0.0
    for i in sample:
        ours = w64 @ q[i].toarray().ravel().astype(np.float64)
        theirs = (K1 + 1) * ref.get_scores(query_tokens[i]).astype(np.float64)
        abs_diff = max(abs_diff, float(np.abs(ours - theirs).max()))
        rel_diff = max(rel_diff, float((np.abs(ours - theirs) / np.maximum(np.abs(ours), 1e-12)).max()))
    # Coarse tags tie a lot, so the tied members of a top-10 may differ; the top-10 scores must not.
    same = []
    for i in sample:
        ours = w64 @ q[i].toarray().ravel().astype(np.float64)
        for idx in (prod_idx[i], ours_idx[i], cols_idx[i]):
            same.append(np.allclose(np.sort(ours[idx]), np.sort((K1 + 1) * ref_res.scores[i].astype(np.float64)),
                                    rtol=1e-5))
    overlap = float(np.mean(same))
    n = len(rows)
    return CorpusResult(name, a.shape[0], a.shape[1], n, round(build_ours, 4), round(build_ref, 4),
                        round(n / prod_s, 1), round(n / ours_s, 1), round(n / cols_s, 1), round(n / ref_s, 1),
                        round(ref_s / prod_s, 2), round(ref_s / ours_s, 2), round(ref_s / cols_s, 2), abs_diff,
                        rel_diff, round(overlap, 4))


def _db_corpora(url: str, systems: list[str]) -> dict[str, sp.csr_matrix]:
    from betag_engine.catalog.store import list_system_names, tag_matrix
    from db.session import session_scope

    with session_scope(url) as s:
        known = list_system_names(s)
        return {f"db:{name}": tag_matrix(s, name).matrix for name in systems if name in known}


def _time_rank(url: str, system: str, repeats: int = 10) -> float | None:
    """Mean seconds of one app-style ranking: load the system's tag matrix, then rank (BM25 / BiRank alternating)."""
    from betag_engine.catalog.store import list_system_names, tag_matrix
    from betag_engine.retrieval.what_if import rank
    from db.session import session_scope

    with session_scope(url) as s:
        if system not in list_system_names(s):
            return None
        rank(tag_matrix(s, system), BM25, 1)
        t = time.perf_counter()
        for i in range(repeats):
            rank(tag_matrix(s, system), BM25 if i % 2 else BIRANK, 1 + i, k=10)
        return (time.perf_counter() - t) / repeats


def _time_evaluate_all(url: str, system: str) -> float:
    cmd = [sys.executable, "-m", "betag_engine", "--database-url", url, "evaluate", "--all", "--system", system,
           "--no-report"]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ))
    elapsed = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"evaluate --all failed: {proc.stderr[-2000:]}")
    return elapsed


def _single_thread_numba() -> None:
    """bm25s's numba backend runs its queries in parallel; pin it to one thread, as ours is."""
    try:
        import numba
    except ImportError:
        return
    numba.set_num_threads(1)


def _bm25s_accelerators() -> str:
    """Which of bm25s's optional speed-ups are installed (numba scoring backend, jax top-k): they change its speed.
    numba is the same package our kernel needs, so ``kernel.available()`` answers for both."""
    import importlib.util

    import bm25s

    jax = importlib.util.find_spec("jax") is not None
    return (f"{bm25s.__version__}: scoring backend {'numba' if kernel.available() else 'numpy'}, "
            f"top-k {'jax' if jax else 'numpy'} "
            "(install numba and jax in the environment to time bm25s with its optional accelerators)")


def main(args, settings) -> int:
    """Run the retrieval benchmark and print a table with ratios ours / bm25s (queries per second)."""
    seed = settings.seed if args.seed is None else args.seed
    corpora = _db_corpora(settings.database_url, args.system or [NATIVE])
    corpora[f"synthetic {args.items // 1000}k x {args.tags // 1000}k zipf"] = synthetic_catalog(
        args.items, args.tags, args.tags_per_item, args.zipf, seed)
    results = []
    for name, a in corpora.items():
        results.append(bench_corpus(name, a, args.queries, args.k, seed))
    head = (f"{'corpus':<28} {'items':>6} {'tags':>5} {'queries':>7} {'ours q/s':>9} {'bm25s q/s':>9} "
            f"{'ours/bm25s':>10} {'batched/bm25s':>13} {'columns/bm25s':>13} {'build ours/bm25s s':>18} "
            f"{'max|diff|':>9} {'top10 scores =':>14}")
    print(head)
    print("-" * len(head))
    for r in results:
        print(f"{r.corpus:<28} {r.n_items:>6} {r.n_tags:>5} {r.n_queries:>7} {r.ours_product_qps:>9.1f} "
              f"{r.bm25s_qps:>9.1f} {r.ratio_product:>9.2f}x {r.ratio_batched:>12.2f}x {r.ratio_columns:>12.2f}x "
              f"{r.build_ours_s:>8.3f}/{r.build_bm25s_s:<9.3f} {r.max_abs_diff:>9.1e} {r.top10_scores_equal:>14.3f}")
    print("ratios are ours/bm25s in queries per second (top-10 included); ours = the product's path ("
          + ("retrieve's compiled score-and-select kernel" if kernel.available() else
             f"Index.score: chunks of {CHUNK} queries, SpGEMM or per-query columns chosen by the work per query")
          + "); batched = always SpGEMM; columns = always one query at a time over W's columns, both + block top-k")
    print("scores: ours = (k1 + 1) x bm25s(method='lucene'); max|diff| is after that constant (bm25s float32); "
          "'top10 scores =' is the share of sampled queries whose top-10 scores match bm25s (ties may swap items)")
    print(f"bm25s {_bm25s_accelerators()}")
    extra = {}
    system = (args.system or [NATIVE])[0]
    if not args.skip_evaluate and f"db:{system}" in corpora:
        extra["rank_s"] = _time_rank(settings.database_url, system)
        extra["evaluate_all_s"] = _time_evaluate_all(settings.database_url, system)
        print(f"app rank() on db:{system}, mean of 10 calls (bm25/birank, load included): {extra['rank_s']:.3f} s")
        print(f"python -m betag_engine evaluate --all --system {system} (whole command): "
              f"{extra['evaluate_all_s']:.2f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"corpora": [asdict(r) for r in results], "k1": K1, "b": B, **extra}, f, indent=2)
        print(f"wrote {args.json}")
    return 0
