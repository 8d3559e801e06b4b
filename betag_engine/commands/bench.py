"""Command: bench (benchmarks that print ratios against a named baseline)."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("bench", help="Benchmarks: retrieval (ours vs bm25s), generation (LLM tagging), scale "
                                     "(a synthetic catalog end to end).")
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


    c = bsub.add_parser("scale", help="A seeded synthetic catalog of the given size: import, evaluate --all, the "
                                      "app's retrieval calls and page data, each with time and peak memory "
                                      "(betag_engine.bench.scale).")
    c.add_argument("--items", type=int, default=100_000, help="Items.")
    c.add_argument("--users", type=int, default=50_000, help="Users (each with at least one interaction).")
    c.add_argument("--interactions", type=int, default=1_000_000, help="Interactions.")
    c.add_argument("--tags", type=int, default=5_000, help="Native tag vocabulary (Zipf).")
    c.add_argument("--tags-min", type=int, default=2, help="Fewest native tags per item.")
    c.add_argument("--tags-max", type=int, default=6, help="Most native tags per item.")
    c.add_argument("--tag-zipf", type=float, default=1.0, help="Zipf exponent of tag frequency.")
    c.add_argument("--item-zipf", type=float, default=1.0, help="Zipf exponent of item popularity.")
    c.add_argument("--seed", type=int, help="Seed of the catalog (default BETAG_SEED).")
    c.add_argument("--format", choices=("csv", "parquet"), default="csv", help="Files the import reads.")
    c.add_argument("--workdir", help="Files, database and logs (default DATA_DIR/bench-scale).")
    c.add_argument("--skip", action="append", choices=("catalog", "import", "evaluate", "retrieval", "pages"),
                   help="Leave a step out (repeatable; e.g. rerun pages on the database already built).")
    c.add_argument("--timeout", type=float, default=1800, help="Seconds after which a step is stopped.")
    c.add_argument("--json", help="Where the results go (default WORKDIR/bench-scale.json).")
    c.set_defaults(func=_scale)

    s = bsub.add_parser("scale-retrieval", help="The app's retrieval calls on the database, cold and warm (a step "
                                                "of bench scale).")
    s.add_argument("--system", default="native", help="Tagging system to rank with.")
    s.add_argument("--json-out", help="Also write the timings as JSON.")
    s.set_defaults(func=_scale_retrieval)


def _scale(args, settings) -> int:
    from betag_engine.bench.scale import main

    return main(args, settings)


def _scale_retrieval(args, settings) -> int:
    from betag_engine.bench.scale_retrieval import main

    return main(args, settings)


def _retrieval(args, settings) -> int:
    from betag_engine.bench.retrieval import main
    from betag_engine.commands.catalog import prepare_database

    prepare_database(settings)
    return main(args, settings)


def _generation(args, settings) -> int:
    from betag_engine.bench.generation import main  # imported only when asked (loads torch)

    return main(args, settings)
