"""Run Alembic migrations programmatically (on app start and from ``python -m betag_engine migrate``)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from betag_engine.settings import PROJECT_ROOT


def alembic_config(url: str) -> Config:
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    cfg.attributes["url"] = url
    return cfg


# Objects the migrations create outside the models: the catalog's text-search index (0004), an FTS5 virtual table
# with its shadow tables on SQLite and an expression index on PostgreSQL. Autogenerate and the models-versus-
# migrations test leave them alone.
UNMODELLED_PREFIXES = ("items_fts", "ix_items_text_search")


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic's include_object hook: False for :data:`UNMODELLED_PREFIXES`."""
    return not (name or "").startswith(UNMODELLED_PREFIXES)


def upgrade_head(url: str) -> None:
    """Bring the database at ``url`` to the newest schema."""
    command.upgrade(alembic_config(url), "head")
