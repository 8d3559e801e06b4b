"""Command: evaluate (the paper's Table 2 for the systems in the database)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from betag_engine.errors import BetagError
from betag_engine.vocabulary import BASE, BETAG, BETAG_NOFT, BM25, EVALUATE, POPULAR, RETRIEVERS, TASKS


def register(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        help="HR@10/NDCG@10 of tagging systems x retrievers x tasks (leave-one-last, 100 sampled negatives).",
    )
    p.add_argument("--system", action="append", default=[], help="Tagging system (repeatable); --all: restrict.")
    p.add_argument("--retriever", action="append", choices=RETRIEVERS, default=[],
                   help="Retriever (repeatable; default bm25).")
    p.add_argument("--task", action="append", choices=TASKS, default=[],
                   help="user- or item-based retrieval (repeatable; default both).")
    p.add_argument("--all", action="store_true",
                   help="Every system with tags (or the --system ones) x bm25, birank x user, item, plus Popular.")
    p.add_argument("--json", metavar="OUT", help="Write metrics, chosen params, grid and metadata as JSON.")
    p.add_argument("--seed", type=int, help="Negative-sampling seed (default BETAG_SEED).")
    p.add_argument("--negatives", type=int, default=100, help="Sampled negatives per case.")
    p.add_argument("--k", type=int, default=10, help="Cut-off of HR@k / NDCG@k.")
    p.add_argument("--ties", choices=("expected", "pessimistic", "optimistic"), default="expected",
                   help="How tied scores rank the target (default: expectation under random order).")
    p.add_argument("--job", action="store_true", help="Run as a recorded, resumable job (cells checkpointed).")
    p.add_argument("--no-report", action="store_true", help="Do not store a Report row for the dashboard.")
    p.add_argument("--name", default="", help="Report name.")
    p.add_argument("--dataset", default="", help="Dataset label for the report (default: native system's "
                   "params['dataset'], else the database file name).")
    p.set_defaults(func=_evaluate)

    d = sub.add_parser("diagnose", help="How much behaviour BETag beams carry, and the ceiling of oracle BETags "
                                        "(betag_engine.experiments.diagnosis).")
    d.add_argument("--system", action="append", default=[], help="BETag system(s) (default: betag, betag-noft).")
    d.add_argument("--limit", type=int, help="Pool: the N most popular items (the quick profile's 150).")
    d.add_argument("--base-system", default=BASE)
    d.add_argument("--top-k", type=int, default=8, help="Successors that count as a hit.")
    d.add_argument("--oracle-m", type=int, default=8, help="Successors per item in the oracle BETags.")
    d.add_argument("--max-tags-per-item", type=int, default=6, help="Base tags per line in the oracle.")
    d.add_argument("--max-line-items", type=int, action="append", default=[], metavar="K",
                   help="Also evaluate each system counted again without the beams whose line more than K items "
                        "chose (repeatable): do the catalog-wide popular lines carry behaviour?")
    d.set_defaults(func=_diagnose)


def _params(args, seed: int) -> dict:
    if args.all:
        retrievers = list(dict.fromkeys(args.retriever or RETRIEVERS))
    else:
        if not args.system and set(args.retriever) != {POPULAR}:
            raise BetagError("give --system NAME (repeatable) or --all")
        retrievers = list(dict.fromkeys(args.retriever or [BM25]))
    return {
        "systems": list(dict.fromkeys(args.system)) or None,
        "retrievers": [r for r in retrievers if r != POPULAR],
        "include_popular": POPULAR in retrievers,
        "tasks": list(dict.fromkeys(args.task or TASKS)),
        "seed": args.seed if args.seed is not None else seed,
        "n_negatives": args.negatives, "k": args.k, "ties": args.ties, "name": args.name, "dataset": args.dataset,
    }


def _evaluate(args, settings) -> int:
    from betag_engine.commands.catalog import prepare_database

    params = _params(args, settings.seed)
    prepare_database(settings)
    payload = _run_job(params, settings) if args.job else _run_direct(params, settings, save=not args.no_report)
    print(payload["text"])
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(payload, indent=2, default=float))
        print(f"wrote {out}")
    return 0


class _Bar:
    """A tqdm bar on stderr over the evaluation's cells, its postfix the current step (from the first second)."""

    def __init__(self, total: int):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, desc="evaluate", unit="cell", file=sys.stderr)
        self.shown = 0.0

    def __call__(self, n: int, total: int, message: str) -> None:
        self.bar.total, self.bar.n = total, n
        self.bar.set_postfix_str(message[-70:], refresh=False)
        now = time.monotonic()
        if now - self.shown >= 0.2 or n >= total:
            self.shown = now
            self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


def _run_direct(params: dict, settings, save: bool) -> dict:
    from betag_engine.experiments.evaluate import (
        EvaluateParams,
        evaluate_catalog,
        load_inputs,
        planned_cells,
        save_report,
        system_names,
    )
    from db.session import session_scope

    p = EvaluateParams(**params)
    with session_scope(settings.database_url) as s:
        bar = _Bar(planned_cells(p, len(system_names(s, p.systems))))
        try:
            bar(0, bar.bar.total, "loading the catalog")
            inputs = load_inputs(s, p.systems)
            inputs.dataset = p.dataset or inputs.dataset
            if not inputs.systems and p.retrievers:
                raise BetagError("no tagging system with tags in the database (load-demo or import first)")
            _table, payload = evaluate_catalog(inputs, p, progress=bar)
        finally:
            bar.close()
        if save:
            payload["report_id"] = save_report(s, payload, p.name, inputs.dataset)
    return payload


def _run_job(params: dict, settings) -> dict:
    from betag_engine.jobs.registry import run_kind
    from db.models import Report
    from db.session import session_scope

    result = run_kind(EVALUATE, params, settings, name=params["name"] or EVALUATE)
    with session_scope(settings.database_url) as s:
        report = s.get(Report, result["report_id"])
        return {**report.payload, "report_id": report.id}


def _diagnose(args, settings) -> int:
    import numpy as np

    from betag_engine.commands.catalog import prepare_database
    from betag_engine.evaluation.table import format_table
    from betag_engine.experiments.diagnosis import diagnose
    from betag_engine.tagging.common import select_items
    from db.session import session_scope

    prepare_database(settings)
    with session_scope(settings.database_url) as s:
        pool = np.array(sorted(select_items(s, {"limit": args.limit})), dtype=np.int64)
        result = diagnose(s, args.system or [BETAG, BETAG_NOFT], pool, args.base_system, args.top_k,
                          args.oracle_m, args.max_tags_per_item, seed=settings.seed,
                          max_line_items=args.max_line_items)
    for b in result.beams:
        print(b.line())
    if not result.beams:
        print("no finished BETag job wrote these systems: only the oracle is evaluated")
    print(f"oracle BETags (base tags + those of the {args.oracle_m} most frequent training successors)"
          + (", and the systems without their popular lines" if args.max_line_items else "") + ":")
    print(format_table(result.oracle))
    return 0
