"""Engine-level curation: decisions and the curated system, version conflicts, undo, audit, export escaping."""

from __future__ import annotations

import csv
import io
import json

import pytest
from sqlalchemy import select

from app_data.queries import ItemFilter, filtered_item_ids, item_detail, item_versions, review_queue
from betag_engine.catalog.store import ensure_system, item_tags, set_item_tags
from betag_engine.curation import add_tag, approve_tags, bulk_decide, edit_tag, reject_tags, undo
from betag_engine.curation.audit import AuditFilter, audit_rows
from betag_engine.curation.export import escape_cell, export_curated
from betag_engine.errors import ConflictError
from db.models import Item, ReviewDecision


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request) -> str:
    """Curation runs on both database backends (tests/conftest.py)."""
    return request.param


def _first(session):
    item = session.scalar(select(Item).order_by(Item.id).limit(1))
    return item.id, item.review_version, [t.tag for t in item_tags(session, "native", [item.id])[item.id]]


def test_approve_writes_curated_and_audit(session):
    item_id, version, tags = _first(session)
    res = approve_tags(session, item_id, tags[:1], "native", "alice", version)
    session.commit()
    assert res.versions[item_id] == version + 1
    assert [t.tag for t in item_tags(session, "curated", [item_id])[item_id]] == tags[:1]
    d = session.get(ReviewDecision, res.decision_ids[0])
    assert (d.reviewer, d.action, d.source_system) == ("alice", "approve", "native")
    assert d.before == {"tags": {tags[0]: None}} and d.after["tags"][tags[0]]["count"] == 1.0
    assert session.get(Item, item_id).review_status in ("in_review", "reviewed")


def test_stale_version_raises_conflict_and_changes_nothing(session):
    item_id, version, tags = _first(session)
    approve_tags(session, item_id, tags[:1], "native", "alice", version)
    session.commit()
    with pytest.raises(ConflictError, match="alice"):
        reject_tags(session, item_id, tags[:1], "native", "bob", version)
    session.rollback()
    assert [t.tag for t in item_tags(session, "curated", [item_id])[item_id]] == tags[:1]
    assert session.scalar(select(ReviewDecision.reviewer).where(ReviewDecision.reviewer == "bob")) is None


def test_undo_restores_and_refuses_when_changed_since(session):
    item_id, version, tags = _first(session)
    res = approve_tags(session, item_id, tags[:1], "native", "alice", version)
    res2 = edit_tag(session, item_id, tags[0], "Film  Noir!", "native", "alice", version + 1)
    session.commit()
    assert [t.tag for t in item_tags(session, "curated", [item_id])[item_id]] == ["film noir"]
    with pytest.raises(ConflictError, match="undo the later decision first"):
        undo(session, "alice", decision_id=res.decision_ids[0])
    session.rollback()
    undo(session, "alice", decision_id=res2.decision_ids[0])
    undo(session, "alice", decision_id=res.decision_ids[0])
    session.commit()
    assert item_id not in item_tags(session, "curated", [item_id])
    assert session.get(Item, item_id).review_status == "unreviewed"
    with pytest.raises(ConflictError, match="already undone"):
        undo(session, "alice", decision_id=res.decision_ids[0])


def test_bulk_top_k_by_confidence_and_batch_undo(session):
    ids = filtered_item_ids(session, ItemFilter(native_tag="comedy"))[:5]
    system = ensure_system(session, "betag", "betag")
    for i in ids:
        set_item_tags(session, system, i, {"funny": 3.0, "quirky": 2.0, "dark": 1.0})
    session.commit()
    res = bulk_decide(session, "approve", item_versions(session, ids), "betag", "carol", top_k=2)
    session.commit()
    curated = item_tags(session, "curated", ids)
    assert all([t.tag for t in curated[i]] == ["funny", "quirky"] for i in ids)
    assert len(audit_rows(session, AuditFilter(batch_id=res.batch_id))) == 10
    with pytest.raises(ConflictError, match="5 item"):
        bulk_decide(session, "reject", {i: 0 for i in ids}, "betag", "dave")
    session.rollback()
    undo(session, "carol", batch_id=res.batch_id)
    session.commit()
    assert not item_tags(session, "curated", ids)
    assert review_queue(session, ItemFilter(native_tag="comedy"), "betag", limit=5)[0].pending == ["funny", "quirky",
                                                                                                 "dark"]


def test_export_escapes_formulas_and_respects_filter(session):
    item = session.scalar(select(Item).order_by(Item.id).limit(1))
    item.title = "<script>alert(1)</script>"
    session.commit()
    add_tag(session, item.id, "=HYPERLINK(\"http://x\")", "alice", item.review_version)
    other = session.scalar(select(Item).where(Item.id != item.id).limit(1))
    add_tag(session, other.id, "drama", "alice", other.review_version)
    session.commit()
    tags = [t.tag for t in item_tags(session, "curated", [item.id])[item.id]]
    assert tags == ["hyperlink http //x"]  # normalisation strips the formula characters of an added tag
    # a tag imported from elsewhere keeps them: the export must neutralise it
    cur = ensure_system(session, "curated", "curated")
    set_item_tags(session, cur, item.id, {'=HYPERLINK("http://x")': 1.0, "-1+2": 1.0})
    session.commit()
    text = export_curated(session, "csv", item_ids=[item.id])
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {r["tag"] for r in rows} == {"'=HYPERLINK(\"http://x\")", "'-1+2"}
    assert rows[0]["title"] == "<script>alert(1)</script>"
    data = json.loads(export_curated(session, "json", item_ids=[item.id]))
    assert len(data) == 1 and {t["tag"] for t in data[0]["tags"]} == {'=HYPERLINK("http://x")', "-1+2"}  # as stored
    assert escape_cell("\tx") == "'\tx" and escape_cell("ok") == "ok" and escape_cell(-1) == -1


def test_item_detail_lists_every_system(session):
    item_id, _, tags = _first(session)
    detail = item_detail(session, item_id)
    assert [t.tag for t in detail.tags["native"]] == tags and detail.interactions > 0


def test_compare_marks_tags_shared_among_the_shown_systems_only(session):
    from app_data.views import compare_rows, default_compare_systems

    item = session.scalars(select(Item).order_by(Item.id)).first()
    set_item_tags(session, ensure_system(session, "betag", "betag"), item.id, {"toys": 3.0, "pixar": 1.0})
    set_item_tags(session, ensure_system(session, "betag-m2", "betag"), item.id, {"toys": 2.0, "pixar": 1.0})
    session.commit()
    detail = item_detail(session, item.id)
    assert default_compare_systems(list(detail.tags)) == ["native", "betag"]  # sweep systems are opt-in
    shown = {r["tag"]: r["shared by"] for r in compare_rows(detail, None, ["native", "betag"])}
    assert shown["toys"] == 1 and "betag-m2 count" not in compare_rows(detail, None, ["native", "betag"])[0]
    everything = {r["tag"]: r["shared by"] for r in compare_rows(detail)}
    assert everything["toys"] == 2


def test_audit_rows_say_what_a_decision_did(session):
    """A rejection changes no curated row, yet its audit row says what happened (it used to read '-' -> '-')."""
    item_id, version, tags = _first(session)
    approve_tags(session, item_id, tags[:1], "native", "alice", version)
    reject_tags(session, item_id, tags[:1], "native", "alice", version + 1, overrule=True)
    reject_tags(session, item_id, tags[1:2], "native", "alice", version + 2)
    session.commit()
    rows = {(r["action"], r["tag"]): r for r in audit_rows(session)}
    assert rows[("approve", tags[0])]["before"] == f"{tags[0]}: not curated"
    assert rows[("approve", tags[0])]["after"] == f"{tags[0]}: curated, count 1"
    assert rows[("reject", tags[0])]["after"] == f"{tags[0]}: rejected"
    assert (rows[("reject", tags[1])]["before"], rows[("reject", tags[1])]["after"]) == (
        f"{tags[1]}: not curated", f"{tags[1]}: rejected")
    assert all(r["undone by"] == "" for r in rows.values())
