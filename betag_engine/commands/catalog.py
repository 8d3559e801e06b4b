"""Commands: migrate, load-demo, import."""

from __future__ import annotations

from dataclasses import asdict

from betag_engine.errors import BetagError
from betag_engine.tagging.config import DOMAIN_PRESETS, read_prompt_file
from betag_engine.vocabulary import BUILTIN_DATASETS, DEFAULT_DATASET, NATIVE


def register(sub) -> None:
    p = sub.add_parser("migrate", help="Create or upgrade the database schema (alembic upgrade head).")
    p.set_defaults(func=_migrate)
    p = sub.add_parser("load-demo", help="Import a built-in MovieLens catalog (idempotent).")
    p.add_argument("--dataset", default=DEFAULT_DATASET, choices=BUILTIN_DATASETS)
    p.set_defaults(func=_load_demo)
    p = sub.add_parser("import", help="Import items / interactions / tags files (CSV, TSV, Parquet, JSONL): every row "
                       "is checked; by default one bad row refuses the whole import.")
    p.add_argument("--items")
    p.add_argument("--interactions")
    p.add_argument("--tags", help="Long-form tags file: item_id,tag.")
    p.add_argument("--native-system", default=NATIVE, help="Tagging system that receives the files' tags.")
    p.add_argument("--map", action="append", default=[], metavar="FIELD=COLUMN",
                   help="Column mapping, e.g. --map item_id=sku --map title=name --map tag_separator=';'.")
    p.add_argument("--timestamp-format", default="auto",
                   help="auto (epoch seconds or ISO 8601, the default) | epoch | iso | a strptime pattern such as "
                        "%%d/%%m/%%Y (needed for day/month dates, which are ambiguous otherwise).")
    p.add_argument("--years", default="1900:2100", metavar="MIN:MAX", help="Allowed timestamp years.")
    p.add_argument("--rating-range", default="0:10", metavar="MIN:MAX", help="Allowed ratings.")
    p.add_argument("--skip-invalid", action="store_true",
                   help="Import the valid rows and write every refused row with its reason to --report "
                        "(default: all or nothing).")
    p.add_argument("--report", metavar="PATH",
                   help="Refused-rows CSV of --skip-invalid (default: DATA_DIR/import-reports/refused-<time>.csv).")
    p.add_argument("--domain", choices=list(DOMAIN_PRESETS),
                   help="Record the catalog's prompt preset (what its items are), read by every later run.")
    p.add_argument("--prompt-file", help="Record your own PromptConfig JSON as the catalog's prompt instead.")
    p.set_defaults(func=_import)


def prepare_database(settings, dataset: str = DEFAULT_DATASET) -> None:
    """Migrate, and into an empty catalog import the built-in ``dataset`` (what the app does on first start)."""
    from betag_engine.catalog.movielens import ensure_builtin
    from db.migrate import upgrade_head

    upgrade_head(settings.database_url)
    ensure_builtin(settings.database_url, dataset,
                   progress=lambda msg: print(f"empty catalog, importing built-in {dataset}: {msg}"))


def _migrate(args, settings) -> int:
    from db.migrate import upgrade_head

    upgrade_head(settings.database_url)
    print("database is at the newest schema")
    return 0


def _load_demo(args, settings) -> int:
    from betag_engine.catalog.movielens import import_builtin
    from db.migrate import upgrade_head

    upgrade_head(settings.database_url)
    summary = import_builtin(settings.database_url, args.dataset, progress=print)
    print(asdict(summary))
    return 0


def _import(args, settings) -> int:
    from betag_engine.catalog.importer import import_files
    from db.migrate import upgrade_head

    mapping, options = _import_options(args, settings)
    prompt = None  # checked before anything is imported
    if args.prompt_file:
        try:
            prompt = read_prompt_file(args.prompt_file)
        except ValueError as exc:
            raise BetagError(str(exc)) from None
    elif args.domain:
        prompt = {"domain": args.domain}
    upgrade_head(settings.database_url)
    summary = import_files(settings.database_url, args.items, args.interactions, args.tags, mapping=mapping,
                           options=options, progress=lambda note: print(note, flush=True))
    print(asdict(summary))
    if prompt is not None:
        from betag_engine.catalog.info import PROMPT_SETTING, SOURCE_SETTING, set_setting
        from db.session import session_scope

        with session_scope(settings.database_url) as s:
            set_setting(s, PROMPT_SETTING, prompt)
            set_setting(s, SOURCE_SETTING, "import")
        print(f"recorded the catalog's prompt preset: {prompt.get('domain', 'custom')}")
    if summary.rows_refused:
        print(f"{summary.rows_refused} row(s) refused and left out; each one with its reason: {summary.report_path}")
    return 0


def _pair(text: str, flag: str, kind=float) -> tuple:
    low, sep, high = text.partition(":")
    try:
        if not sep:
            raise ValueError
        return kind(low), kind(high)
    except ValueError:
        raise BetagError(f"{flag} {text!r}: write MIN:MAX, e.g. {'0:5' if kind is float else '1990:2030'}") from None


def _import_options(args, settings):
    """The mapping and options of ``import``; a bad flag is a BetagError naming it (exit 2, no traceback)."""
    from datetime import UTC, datetime

    from betag_engine.catalog.importer import ColumnMapping, ImportOptions

    min_year, max_year = _pair(args.years, "--years", int)
    rating_min, rating_max = _pair(args.rating_range, "--rating-range")
    report = args.report
    if args.skip_invalid and not report:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        report = str(settings.data_dir / "import-reports" / f"refused-{stamp}.csv")
    try:
        mapping = ColumnMapping.from_pairs(args.map)
        options = ImportOptions(native_system=args.native_system, timestamp_format=args.timestamp_format,
                                min_year=min_year, max_year=max_year, rating_min=rating_min, rating_max=rating_max,
                                skip_invalid=args.skip_invalid, report_path=report)
    except ValueError as exc:
        raise BetagError(str(exc)) from None
    return mapping, options
