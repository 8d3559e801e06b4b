"""Migrations on SQLite and PostgreSQL: head creates every table, models and migrations agree, data migrations."""

import json

from sqlalchemy import inspect, text

from db.migrate import upgrade_head
from db.session import make_engine


def test_upgrade_head_creates_every_table_and_is_repeatable(empty_url, backend):
    upgrade_head(empty_url)
    upgrade_head(empty_url)  # second run is a no-op
    engine = make_engine(empty_url)
    names = set(inspect(engine).get_table_names())
    assert {"items", "users", "interactions", "tagging_systems", "item_tags", "jobs", "job_checkpoints",
            "review_decisions", "reports", "alembic_version"} <= names
    if backend == "sqlite":
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30000
    engine.dispose()


def test_models_match_migrations(db_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from db.base import Base
    from db.migrate import include_object

    engine = make_engine(db_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": include_object})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diff == [], f"models and migrations disagree; add a migration: {diff}"


def _insert(engine, table: str, rows: list[dict], json_columns=("payload", "params", "result")) -> None:
    """Rows written as an older revision's code would (JSON bound as JSON on either backend)."""
    from datetime import datetime

    from sqlalchemy import JSON, DateTime, column
    from sqlalchemy import table as sql_table

    cols = [column(k, JSON if k in json_columns else DateTime if k == "created_at" else None) for k in rows[0]]
    with engine.begin() as conn:
        conn.execute(sql_table(table, *cols).insert(),
                     [{**r, "created_at": datetime(2026, 1, 1)} if "created_at" in r else r for r in rows])


def test_old_pipeline_reports_get_the_one_report_format(empty_url):
    """0002: a pipeline report stored with 'full_table' is read by the app like an evaluation report ('rows')."""
    from alembic import command

    from betag_engine.experiments.report import metric_rows
    from db.migrate import alembic_config

    command.upgrade(alembic_config(empty_url), "0001")
    row = {"system": "-", "retriever": "popular", "results": {"user": {"test": {"hr": 0.4, "ndcg": 0.2}}}}
    old = {"profile": "quick", "meta": {"n_items": 3}, "full_table": {"meta": {"n_items": 3}, "rows": [row]}}
    evaluation = {"meta": {"n_items": 3}, "rows": [row], "text": "..."}
    engine = make_engine(empty_url)
    _insert(engine, "reports", [{"kind": kind, "name": "r", "dataset": "ml-100k", "payload": p, "created_at": None}
                                for kind, p in (("pipeline", old), ("evaluation", evaluation))])
    upgrade_head(empty_url)
    with engine.connect() as conn:
        payloads = [p if isinstance(p, dict) else json.loads(p)
                    for p in conn.execute(text("SELECT payload FROM reports ORDER BY id")).scalars()]
    engine.dispose()
    assert "full_table" not in payloads[0] and payloads[0]["rows"] == [row]
    assert payloads[1] == evaluation
    assert metric_rows(payloads[0]) == [{"system": "Popular", "retriever": "popular", "task": "user", "HR@k": 0.4,
                                         "NDCG@k": 0.2, "HR@k se": None, "NDCG@k se": None, "params": ""}]


def test_job_rows_get_their_key_newest_first(empty_url):
    """0003: existing job rows get the key of their parameters; of several with one key, the newest keeps it."""
    from alembic import command

    from betag_engine.jobs.runner import job_key
    from db.migrate import alembic_config

    command.upgrade(alembic_config(empty_url), "0002")
    engine = make_engine(empty_url)
    _insert(engine, "jobs", [{"kind": "base-tags", "name": "j", "status": "failed", "params": p, "progress_done": 0,
                              "progress_total": 0, "message": "", "log": "", "error": "", "result": {},
                              "cancel_requested": False, "created_at": None}
                             for p in ({"limit": 3}, {"limit": 3}, {"limit": 4})])
    upgrade_head(empty_url)
    with engine.connect() as conn:
        keys = list(conn.execute(text("SELECT key FROM jobs ORDER BY id")).scalars())
    engine.dispose()
    assert keys == [None, job_key("base-tags", {"limit": 3}), job_key("base-tags", {"limit": 4})]


def test_a_database_from_before_summed_run_times_lists_its_jobs(empty_url, capsys):
    """0006: the jobs command on a database at 0005 migrates it first; an old job row's run time is its last run."""
    from datetime import datetime

    from alembic import command

    from betag_engine.cli import main
    from db.migrate import alembic_config

    command.upgrade(alembic_config(empty_url), "0005")
    engine = make_engine(empty_url)
    _insert(engine, "jobs", [{"kind": "base-tags", "name": "j", "status": "done", "params": {"limit": 3},
                              "progress_done": 3, "progress_total": 3, "message": "base tags: 3/3", "log": "",
                              "error": "", "result": {}, "cancel_requested": False, "created_at": None}])
    with engine.begin() as conn:
        conn.execute(text("UPDATE jobs SET started_at = :a, finished_at = :b"),
                     {"a": datetime(2026, 1, 1, 10, 0, 0), "b": datetime(2026, 1, 1, 10, 1, 40)})
    engine.dispose()
    assert main(["--database-url", empty_url, "jobs"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.split()[0] == "1")
    assert line.split()[1:5] == ["base-tags", "done", "3/3", "100"]
