"""Run Alembic migrations programmatically (on app start and from ``python -m betag_engine migrate``)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from betag_engine.settings import PROJECT_ROOT, get_settings


def alembic_config(url: str | None = None) -> Config:
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    cfg.attributes["url"] = url or get_settings().database_url
    return cfg


def upgrade_head(url: str | None = None) -> None:
    """Bring the database at ``url`` (default: the configured one) to the newest schema."""
    command.upgrade(alembic_config(url), "head")
