"""Fixtures for tagging tests: a tiny in-process model set as BETAG_LLM_MODEL."""

from __future__ import annotations

import pytest

from betag_engine.settings import get_settings


@pytest.fixture(scope="session")
def _tiny_dir(tmp_path_factory):
    from tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture
def tiny_model(_tiny_dir, demo_url, tmp_path, monkeypatch):
    """The demo database plus the tiny model as the configured LLM (adapters go under tmp_path)."""
    monkeypatch.setenv("BETAG_LLM_MODEL", str(_tiny_dir))
    monkeypatch.setenv("BETAG_LLM_DEVICE", "cpu")
    monkeypatch.setenv("BETAG_MODEL_CACHE", str(tmp_path / "models"))
    monkeypatch.setenv("BETAG_REPORTS_DIR", str(tmp_path / "reports"))
    get_settings.cache_clear()
    yield _tiny_dir
    get_settings.cache_clear()
