"""A rerun of a real tagging job (tiny model) proposes a rejected tag again: it stays rejected, the curated system
is untouched, and a job asked to write the curated system is refused before any work (recorded on its row).

The tiny random model writes no real tags, so its completions are replaced by a fixed one (the job's own parsing,
storing and checkpointing still run)."""

import pytest
from sqlalchemy import select

from betag_engine.catalog.store import item_tags
from betag_engine.curation import approve_tags, reject_tags
from betag_engine.curation.state import tag_states
from betag_engine.jobs.registry import run_kind
from betag_engine.settings import load_settings
from betag_engine.tagging import llm_access
from db.models import Item, Job
from db.session import session_scope


@pytest.fixture
def fixed_completion(monkeypatch):
    real_open = llm_access.open_backend

    def opened(*args, **kwargs):
        backend = real_open(*args, **kwargs)
        backend.generate = lambda prompts, config: [["Space Opera, Fantasy, C++, 100% cotton"] for _ in prompts]
        return backend

    monkeypatch.setattr(llm_access, "open_backend", opened)


def test_rerun_of_base_tags_keeps_reviewers_decisions(tiny_model, demo_url, fixed_completion):
    settings = load_settings().with_overrides(database_url=demo_url)
    run_kind("base-tags", {"limit": 2, "max_new_tokens": 12}, settings, progress_bar=False)
    with session_scope(demo_url) as s:
        tagged = {i: [t.tag for t in tags] for i, tags in item_tags(s, "base").items() if tags}
        item_id, tags = next(iter(tagged.items()))
        version = s.get(Item, item_id).review_version
        reject_tags(s, item_id, tags[:1], "base", "alice", version)
        if len(tags) > 1:
            approve_tags(s, item_id, tags[1:2], "base", "alice", version + 1)
    with session_scope(demo_url) as s:
        before = {t.tag for t in item_tags(s, "curated", [item_id]).get(item_id, [])}
    # another job key (batch size), so every item is generated again and written over the base system
    run_kind("base-tags", {"limit": 2, "max_new_tokens": 12, "batch_size": 1}, settings, progress_bar=False)
    with session_scope(demo_url) as s:
        again = [t.tag for t in item_tags(s, "base", [item_id])[item_id]]
        assert again == ["space opera", "fantasy", "c++", "100% cotton"]  # proposed again, symbols kept
        assert tag_states(s, item_id)[tags[0]] == "rejected"
        assert {t.tag for t in item_tags(s, "curated", [item_id]).get(item_id, [])} == before


def test_a_job_writing_the_curated_system_is_refused_and_recorded(tiny_model, demo_url):
    settings = load_settings().with_overrides(database_url=demo_url)
    with pytest.raises(ValueError, match="reviewers' decisions"):
        run_kind("base-tags", {"limit": 2, "system": "curated"}, settings, progress_bar=False)
    with session_scope(demo_url) as s:
        job = s.scalar(select(Job))
        assert job.status == "failed" and "reviewers' decisions" in job.error
        assert job.progress_total == 0  # refused before any work
