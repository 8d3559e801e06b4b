"""Command: bench (benchmarks that print ratios against a named baseline)."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("bench", help="Benchmarks: retrieval (ours vs bm25s), generation (LLM tagging).")
    bsub = p.add_subparsers(dest="bench", required=True)

    r = bsub.add_parser("retrieval", help="BM25 queries/s: precomputed operator vs the bm25s package.")
    r.add_argument("--system", action="append", default=[],
                   help="Tagging system(s) from the database as corpora (default native; first one also times "
                        "evaluate --all and the app's rank).")
    r.add_argument("--queries", type=int, default=2000, help="Item-based queries per corpus.")
    r.add_argument("--items", type=int, default=100_000, help="Synthetic catalog: items.")
    r.add_argument("--tags", type=int, default=20_000, help="Synthetic catalog: distinct tags.")
    r.add_argument("--tags-per-item", type=float, default=10.0, help="Synthetic catalog: mean tags per item.")
    r.add_argument("--zipf", type=float, default=1.0, help="Synthetic catalog: Zipf exponent of tag frequency.")
    r.add_argument("--k", type=int, default=10, help="Top-k per query.")
    r.add_argument("--seed", type=int, help="Sampling seed (default BETAG_SEED).")
    r.add_argument("--skip-evaluate", action="store_true", help="Do not time evaluate --all and rank().")
    r.add_argument("--json", help="Also write the numbers as JSON.")
    r.set_defaults(func=_retrieval)

    g = bsub.add_parser("generation", help="LLM tag generation throughput (betag_engine.bench.generation).")
    g.add_argument("--model", help="Model key or local model directory.")
    g.add_argument("--items", type=int, help="Items to tag.")
    g.add_argument("--beams", type=int, help="Sampled beams per item.")
    g.add_argument("--batch-size", type=int, help="Prompts per batch.")
    g.set_defaults(func=_generation)


def _retrieval(args, settings) -> int:
    from betag_engine.bench.retrieval import main
    from betag_engine.commands.catalog import prepare_database

    prepare_database(settings)
    return main(args, settings)


def _generation(args, settings) -> int:
    from betag_engine.bench.generation import main  # imported only when asked (loads torch)

    return main(args, settings)
