import json

from sqlalchemy import inspect, text

from db.migrate import upgrade_head
from db.session import make_engine


def test_upgrade_head_creates_every_table_and_is_repeatable(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.sqlite'}"
    upgrade_head(url)
    upgrade_head(url)  # second run is a no-op
    engine = make_engine(url)
    names = set(inspect(engine).get_table_names())
    assert {"items", "users", "interactions", "tagging_systems", "item_tags", "jobs", "job_checkpoints",
            "review_decisions", "reports", "alembic_version"} <= names
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()


def test_models_match_migrations(db_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from db.base import Base

    engine = make_engine(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == [], f"models and migrations disagree; add a migration: {diff}"


def test_old_pipeline_reports_get_the_one_report_format(tmp_path):
    """0002: a pipeline report stored with 'full_table' is read by the app like an evaluation report ('rows')."""
    from alembic import command

    from betag_engine.experiments.report import metric_rows
    from db.migrate import alembic_config

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    command.upgrade(alembic_config(url), "0001")
    row = {"system": "-", "retriever": "popular", "results": {"user": {"test": {"hr": 0.4, "ndcg": 0.2}}}}
    old = {"profile": "quick", "meta": {"n_items": 3}, "full_table": {"meta": {"n_items": 3}, "rows": [row]}}
    evaluation = {"meta": {"n_items": 3}, "rows": [row], "text": "..."}
    engine = make_engine(url)
    with engine.begin() as conn:
        for kind, payload in (("pipeline", old), ("evaluation", evaluation)):
            conn.execute(text("INSERT INTO reports (kind, name, dataset, payload, created_at) "
                              "VALUES (:k, 'r', 'ml-100k', :p, '2026-01-01')"), {"k": kind, "p": json.dumps(payload)})
    upgrade_head(url)
    with engine.connect() as conn:
        payloads = [json.loads(p) for p in conn.execute(text("SELECT payload FROM reports ORDER BY id")).scalars()]
    engine.dispose()
    assert "full_table" not in payloads[0] and payloads[0]["rows"] == [row]
    assert payloads[1] == evaluation
    assert metric_rows(payloads[0]) == [{"system": "Popular", "retriever": "popular", "task": "user", "HR@k": 0.4,
                                         "NDCG@k": 0.2, "params": ""}]
