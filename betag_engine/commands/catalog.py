"""Commands: migrate, load-demo, import."""

from __future__ import annotations

from dataclasses import asdict

from betag_engine.vocabulary import BUILTIN_DATASETS, DEFAULT_DATASET, NATIVE


def register(sub) -> None:
    p = sub.add_parser("migrate", help="Create or upgrade the database schema (alembic upgrade head).")
    p.set_defaults(func=_migrate)
    p = sub.add_parser("load-demo", help="Import a built-in MovieLens catalog (idempotent).")
    p.add_argument("--dataset", default=DEFAULT_DATASET, choices=BUILTIN_DATASETS)
    p.set_defaults(func=_load_demo)
    p = sub.add_parser("import", help="Import items / interactions / tags files (CSV, TSV, Parquet, JSONL).")
    p.add_argument("--items")
    p.add_argument("--interactions")
    p.add_argument("--tags", help="Long-form tags file: item_id,tag.")
    p.add_argument("--native-system", default=NATIVE)
    p.add_argument("--map", action="append", default=[], metavar="FIELD=COLUMN",
                   help="Column mapping, e.g. --map item_id=sku --map title=name --map tag_separator=';'.")
    p.set_defaults(func=_import)


def prepare_database(settings, dataset: str = DEFAULT_DATASET) -> None:
    """Migrate, and into an empty catalog import the built-in ``dataset`` (what the app does on first start)."""
    from betag_engine.catalog.movielens import ensure_builtin
    from db.migrate import upgrade_head
    from db.session import session_scope

    upgrade_head(settings.database_url)
    with session_scope(settings.database_url) as s:
        ensure_builtin(s, dataset, progress=lambda msg: print(f"empty catalog, importing built-in {dataset}: {msg}"))


def _migrate(args, settings) -> int:
    from db.migrate import upgrade_head

    upgrade_head(settings.database_url)
    print("database is at the newest schema")
    return 0


def _load_demo(args, settings) -> int:
    from betag_engine.catalog.movielens import import_builtin
    from db.migrate import upgrade_head
    from db.session import session_scope

    upgrade_head(settings.database_url)
    with session_scope(settings.database_url) as s:
        summary = import_builtin(s, args.dataset, progress=print)
    print(asdict(summary))
    return 0


def _import(args, settings) -> int:
    from betag_engine.catalog.importer import ColumnMapping, import_files
    from db.migrate import upgrade_head
    from db.session import session_scope

    overrides = dict(kv.split("=", 1) for kv in args.map)
    known = set(ColumnMapping.__dataclass_fields__)
    unknown = set(overrides) - known
    if unknown:
        raise ValueError(f"--map field must be one of {', '.join(sorted(known))}, got {', '.join(sorted(unknown))}")
    upgrade_head(settings.database_url)
    with session_scope(settings.database_url) as s:
        summary = import_files(s, args.items, args.interactions, args.tags, ColumnMapping(**overrides),
                               native_system=args.native_system, progress=print)
    print(asdict(summary))
    return 0
