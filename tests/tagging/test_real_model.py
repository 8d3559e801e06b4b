"""One test with the real default model (Gemma 3 270M from PyPI, converted once to safetensors).

The first run converts the GGUF (about 60-90 s); set BETAG_MODEL_CACHE to a shared folder to keep the copy.
"""

import os

from betag_engine.catalog.store import get_system, item_tags
from betag_engine.jobs.runner import run_job
from betag_engine.settings import load_settings
from betag_engine.tagging.base_tags import base_tags_job
from db.session import session_scope


def test_default_model_base_tags_three_items(demo_url, monkeypatch):
    shared_cache = os.environ.get("BETAG_MODEL_CACHE")
    if shared_cache:
        monkeypatch.setenv("BETAG_MODEL_CACHE", shared_cache)
    monkeypatch.delenv("BETAG_LLM_MODEL", raising=False)
    settings = load_settings()
    params = {"item_ids": [1, 50, 82], "batch_size": 3}  # Toy Story, Star Wars, Jurassic Park
    result = run_job("base-tags", params, lambda ctx: base_tags_job(ctx, params), settings, progress_bar=False)
    assert result["processed"] == 3 and result["model"] == "transformers:gemma3-270m"
    with session_scope(demo_url) as s:
        tags = item_tags(s, "base", [1, 50, 82])
        system_params = get_system(s, "base").params
    assert len(tags) >= 2  # a real model tags most items
    assert all(1 <= len(ts) <= 12 for ts in tags.values())
    assert "{item}" in system_params["prompt"]["base_template"]
