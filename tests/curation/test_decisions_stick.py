"""Decisions are sticky: a tag a person rejected, edited or removed is never re-approved, re-added or overwritten
by a bulk action, "approve all", a saved draft, a later generation run or an import; what was skipped is
reported with the reason. Only a decision on that one tag, asked for as such (``overrule``), changes it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app_data.queries import ItemFilter, item_versions, review_queue
from betag_engine.catalog.importer import ImportOptions, import_files
from betag_engine.catalog.store import ensure_system, item_tags, set_item_tags
from betag_engine.curation import add_tag, approve_tags, bulk_decide, edit_tag, reject_tags, remove_tag, save_draft
from betag_engine.curation.state import tag_decisions, tag_states
from betag_engine.jobs.registry import check_params
from db.models import Item, ReviewDecision

TAGS = {"space opera": 3.0, "fantasy": 2.0, "adventure": 1.0}


@pytest.fixture
def star_wars(session):
    """Star Wars with three base tags (the issue's example)."""
    item = session.scalar(select(Item).where(Item.title.like("Star Wars%")))
    set_item_tags(session, ensure_system(session, "base", "base"), item.id, TAGS)
    session.commit()
    return item


def _version(session, item_id):
    session.expire_all()
    return session.get(Item, item_id).review_version


def _curated(session, item_id):
    return {t.tag for t in item_tags(session, "curated", [item_id]).get(item_id, [])}


def test_approve_reject_then_bulk_approve_keeps_the_rejection(session, star_wars):
    i = star_wars.id
    approve_tags(session, i, ["fantasy"], "base", "alice", _version(session, i))
    reject_tags(session, i, ["fantasy"], "base", "alice", _version(session, i), overrule=True)
    session.commit()
    result = bulk_decide(session, "approve", item_versions(session, [i]), "base", "bob", top_k=3)
    session.commit()
    assert _curated(session, i) == {"space opera", "adventure"}
    assert tag_states(session, i)["fantasy"] == "rejected"
    assert [(s.tag, s.reason) for s in result.skipped] == [("fantasy", "rejected by alice")]
    assert "1 rejected by alice ('fantasy' on Star Wars)" in result.skip_summary()
    bulk = session.scalars(select(ReviewDecision).where(ReviewDecision.batch_id == result.batch_id)).all()
    assert {d.tag for d in bulk} == {"space opera", "adventure"}  # no decision touched 'fantasy'


def test_single_decisions_need_overrule_to_change_a_decided_tag(session, star_wars):
    i = star_wars.id
    reject_tags(session, i, ["fantasy"], "base", "alice", _version(session, i))
    session.commit()
    kept = approve_tags(session, i, ["fantasy"], "base", "bob", _version(session, i))
    assert [s.reason for s in kept.skipped] == ["rejected by alice"] and not kept.decision_ids
    approve_tags(session, i, ["fantasy"], "base", "bob", _version(session, i), overrule=True)
    session.commit()
    assert _curated(session, i) == {"fantasy"}
    assert tag_decisions(session, i)["fantasy"].describe() == "approved by bob"


def test_approve_all_skips_rejected_edited_and_removed_tags(session, star_wars):
    i = star_wars.id
    reject_tags(session, i, ["fantasy"], "base", "alice", _version(session, i))
    edit_tag(session, i, "space opera", "Space-Opera!", "base", "alice", _version(session, i))
    session.commit()
    assert _curated(session, i) == {"space-opera"}
    result = approve_tags(session, i, list(TAGS), "base", "bob", _version(session, i))
    session.commit()
    assert _curated(session, i) == {"space-opera", "adventure"}
    assert {s.tag: s.reason for s in result.skipped} == {"fantasy": "rejected by alice",
                                                         "space opera": "edited by alice"}
    remove_tag(session, i, "adventure", "carol", _version(session, i))
    session.commit()
    again = bulk_decide(session, "approve", item_versions(session, [i]), "base", "dave")
    session.commit()
    assert _curated(session, i) == {"space-opera"} and not again.decision_ids
    assert {s.reason for s in again.skipped} == {"rejected by alice", "edited by alice", "removed by carol"}


def test_bulk_reject_leaves_a_persons_approval(session, star_wars):
    i = star_wars.id
    approve_tags(session, i, ["fantasy"], "base", "alice", _version(session, i))
    session.commit()
    result = bulk_decide(session, "reject", item_versions(session, [i]), "base", "bob")
    session.commit()
    assert _curated(session, i) == {"fantasy"}
    assert [s.reason for s in result.skipped] == ["approved by alice"]
    states = tag_states(session, i)
    assert [states[t] for t in TAGS] == ["rejected", "approved", "rejected"]


def test_a_saved_draft_keeps_rejections_and_a_persons_own_tags(session, star_wars):
    i = star_wars.id
    reject_tags(session, i, ["fantasy"], "base", "alice", _version(session, i))
    add_tag(session, i, "C++", "alice", _version(session, i))
    session.commit()
    result = save_draft(session, i, {"space opera": 3.0, "fantasy": 2.0, "jedi": 1.0}, "base", "bob",
                        _version(session, i))
    session.commit()
    assert _curated(session, i) == {"c++", "space opera", "jedi"}
    assert {s.tag: s.reason for s in result.skipped} == {
        "fantasy": "rejected by alice", "c++": "curated, not in this system's draft (remove it on Review)"}
    # a draft of the curated tags themselves is the reviewer's own list: what they deleted goes
    save_draft(session, i, {"space opera": 3.0}, "", "bob", _version(session, i))
    session.commit()
    assert _curated(session, i) == {"space opera"}


def test_a_later_generation_run_does_not_reopen_a_decision(session, star_wars):
    """A rerun of a tagging job rewrites its own system (set_item_tags, as the jobs do): the rejected tag comes
    back as a proposal but stays rejected, out of the queue, and out of the curated system."""
    i = star_wars.id
    reject_tags(session, i, ["fantasy"], "base", "alice", _version(session, i))
    session.commit()
    set_item_tags(session, ensure_system(session, "base", "base"), i, {"fantasy": 5.0, "jedi": 4.0})
    session.commit()
    assert tag_states(session, i)["fantasy"] == "rejected"
    queue = review_queue(session, ItemFilter(text="Star Wars"), "base", limit=5)
    assert [q.pending for q in queue if q.item_id == i] == [["jedi"]]
    bulk_decide(session, "approve", item_versions(session, [i]), "base", "bob")
    session.commit()
    assert _curated(session, i) == {"jedi"}


def test_no_job_or_import_can_write_the_curated_system(session, star_wars, tmp_path, demo_url):
    for kind in ("base-tags", "taggpt", "betag", "confidence"):
        with pytest.raises(ValueError, match="reviewers' decisions"):
            check_params(kind, {"system": "curated"})
    with pytest.raises(ValueError, match="reviewers' decisions"):
        ensure_system(session, "curated", "base")
    session.rollback()
    with pytest.raises(ValueError, match="reviewers' decisions"):
        import_files(demo_url, tags=tmp_path / "tags.csv", options=ImportOptions(native_system="curated"))


def test_an_import_does_not_reopen_a_decision(session, star_wars, tmp_path, demo_url):
    i = star_wars.id
    native = [t.tag for t in item_tags(session, "native", [i])[i]]
    reject_tags(session, i, native[:1], "native", "alice", _version(session, i))
    approve_tags(session, i, native[1:2], "native", "alice", _version(session, i))
    session.commit()
    tags = tmp_path / "tags.csv"
    tags.write_text("item_id,tag\n" + "".join(f"{star_wars.external_id},{t}\n" for t in native))
    session.close()
    import_files(demo_url, tags=tags)
    states = tag_states(session, i)
    assert states[native[0]] == "rejected" and states[native[1]] == "approved"
    assert _curated(session, i) == {native[1]}
