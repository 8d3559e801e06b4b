"""Commands: generate (base | taggpt | betag | confidence), finetune, pipeline. Each runs a resumable job:
rerunning the same command continues where it stopped."""

from __future__ import annotations

import json
from pathlib import Path

from betag_engine.experiments.profiles import DEFAULT_PROFILE, PARALLEL_HELP, PROFILES
from betag_engine.tagging.config import DOMAIN_PRESETS, read_prompt_file
from betag_engine.vocabulary import (
    BETAG_JOB,
    BUILTIN_DATASETS,
    CONFIDENCE,
    CURRENT_CATALOG,
    DEFAULT_ADAPTER,
    DEFAULT_DATASET,
    FINETUNE,
    JOB_KINDS,
    PIPELINE,
)

GENERATE_KINDS = {k.generate_method: k.name for k in JOB_KINDS.values() if k.generate_method}


def _selection(p) -> None:
    p.add_argument("--items", type=lambda s: [int(x) for x in s.split(",") if x], help="Comma-separated item ids.")
    p.add_argument("--limit", type=int, help="Only the N most popular items.")
    p.add_argument("--model", help="Model spec (default BETAG_LLM_MODEL).")
    p.add_argument("--param", action="append", default=[], metavar="KEY=JSON",
                   help="Any job param, e.g. --param temperature=1.0 --param 'sweep=[1,2,4]'.")


def register(sub) -> None:
    p = sub.add_parser("generate", help="Generate tags with one method (a resumable job).")
    p.add_argument("method", choices=sorted(GENERATE_KINDS))
    p.add_argument("--system", help="Tagging system to write (default: base, taggpt, betag; confidence: required).")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--samples", type=int, help="TagGPT: samples per item.")
    p.add_argument("--m", type=int, help="BETag: beams per item.")
    p.add_argument("--adapter", help="BETag: adapter name ('none' = base model, the no-finetuning ablation).")
    p.add_argument("--sweep", type=lambda s: [int(x) for x in s.split(",") if x], help="BETag: e.g. 1,2,4.")
    p.add_argument("--sampling", action="store_true",
                   help="BETag: i.i.d. samples at --param temperature (0.8) instead of diverse greedy beams.")
    p.add_argument("--domain", choices=list(DOMAIN_PRESETS), help="Prompt preset.")
    _selection(p)
    p.set_defaults(func=_generate)
    p = sub.add_parser("finetune", help="LoRA-finetune on behaviour sequences of base tags (BETag §3.3).")
    p.add_argument("--adapter", default=DEFAULT_ADAPTER)
    p.add_argument("--epochs", type=int)
    p.add_argument("--users", type=int)
    p.add_argument("--rank", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--window", type=int)
    p.add_argument("--batch-size", type=int)
    _selection(p)
    p.set_defaults(func=_finetune)
    p = sub.add_parser("pipeline", help="Base -> TagGPT -> finetune -> BETag (+ablations) -> evaluation -> report.")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--dataset", default=DEFAULT_DATASET, choices=BUILTIN_DATASETS,
                       help="A built-in catalog, imported into an empty database first.")
    where.add_argument("--catalog", choices=[CURRENT_CATALOG],
                       help="current: the catalog already in the database (your own import).")
    p.add_argument("--domain", choices=list(DOMAIN_PRESETS),
                   help="Prompt preset; default: the one recorded with the catalog (built-in: movies).")
    p.add_argument("--prompt-file", type=Path, help="Your own PromptConfig as JSON (see docs/JOBS.md).")
    p.add_argument("--profile", default=DEFAULT_PROFILE, choices=list(PROFILES))
    p.add_argument("--seeds", type=lambda s: [int(x) for x in s.split(",") if x], default=[],
                   help="More finetuning seeds for BETag's best configuration, e.g. 2025,2026: the report gives "
                        "its mean and spread over them and BETAG_SEED.")
    p.add_argument("--override", action="append", default=[], metavar="STAGE.KEY=JSON",
                   help="Change one stage param, e.g. --override betag.m=10 --override finetune.epochs=2.")
    p.add_argument("--report-name")
    p.add_argument("--interim", action="store_true",
                   help="Run no stage: report the stages finished so far (e.g. while a long run is still going), "
                        "as <report name>-interim.")
    p.add_argument("--parallel", action="store_true", help=PARALLEL_HELP)
    p.set_defaults(func=_pipeline)


def _extra(args) -> dict:
    out = {}
    for kv in args.param:
        key, _, value = kv.partition("=")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _common(args) -> dict:
    params = {"item_ids": args.items, "limit": args.limit, "model": args.model}
    return {k: v for k, v in params.items() if v is not None}


def _run(kind: str, params: dict, settings, demo: str | None = DEFAULT_DATASET) -> int:
    """Run job ``kind``; an empty catalog first gets the built-in ``demo`` dataset (None: the job imports its own)."""
    from betag_engine.commands.catalog import prepare_database
    from betag_engine.jobs.registry import run_kind
    from db.migrate import upgrade_head

    if demo:
        prepare_database(settings, demo)
    else:
        upgrade_head(settings.database_url)
    result = run_kind(kind, params, settings)
    result.pop("loss_curve", None)
    print(json.dumps(result, indent=1, default=str))
    return 0


def _generate(args, settings) -> int:
    params = _common(args)
    if args.domain:
        params["prompt"] = {"domain": args.domain}
    for key in ("system", "batch_size", "samples", "m", "sweep"):
        value = getattr(args, key)
        if value is not None:
            params[key] = value
    if GENERATE_KINDS[args.method] == BETAG_JOB and args.adapter is not None:
        params["adapter"] = None if args.adapter == "none" else args.adapter
    if args.sampling:
        params.update(diverse_beams=False, temperature=0.8)
    if GENERATE_KINDS[args.method] == CONFIDENCE and not params.get("system"):
        raise ValueError("generate confidence needs --system (the tagging system to score)")
    params.update(_extra(args))
    return _run(GENERATE_KINDS[args.method], params, settings)


def _finetune(args, settings) -> int:
    params = {**_common(args), "adapter": args.adapter}
    for key in ("epochs", "users", "rank", "lr", "window", "batch_size"):
        value = getattr(args, key)
        if value is not None:
            params[key] = value
    params.update(_extra(args))
    return _run(FINETUNE, params, settings)


def _pipeline(args, settings) -> int:
    overrides: dict[str, dict] = {}
    for kv in args.override:
        key, _, value = kv.partition("=")
        stage, _, name = key.partition(".")
        if not name:
            raise ValueError(f"--override must look like STAGE.KEY=JSON, got {kv!r}")
        try:
            overrides.setdefault(stage, {})[name] = json.loads(value)
        except json.JSONDecodeError:
            overrides.setdefault(stage, {})[name] = value
    params = {"dataset": args.catalog or args.dataset, "profile": args.profile}
    if args.domain:
        params["domain"] = args.domain
    if args.seeds:
        params["seeds"] = args.seeds
    if args.prompt_file:
        params["prompt"] = read_prompt_file(args.prompt_file)
    if overrides:
        params["overrides"] = overrides
    if args.report_name:
        params["report_name"] = args.report_name
    if args.parallel:
        params["parallel"] = True
    if args.interim:
        params["interim"] = True
    from betag_engine.jobs.registry import run_kind
    from db.migrate import upgrade_head

    upgrade_head(settings.database_url)
    result = run_kind(PIPELINE, params, settings)
    print(Path(result["markdown"]).read_text())
    print(f"report: {result['markdown']} (and {result['json']})")
    return 0
