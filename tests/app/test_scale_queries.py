"""The app's data at catalog scale: search by words in any order (FTS5, and the LIKE fallback), prev/next and
counts by indexed queries, batched bulk versions, exports of a filter as a subquery, the chunked review queue,
interaction counts, and the vectorised tag-matrix helpers that must equal their plain definitions."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sqlalchemy import select, text

from app_data import queries
from app_data.queries import ItemFilter
from betag_engine.catalog import search
from betag_engine.catalog.store import all_item_ids, interaction_counts, tag_matrix, user_sequences
from betag_engine.curation.export import export_curated
from betag_engine.retrieval import popularity, with_item_tags
from betag_engine.types import TagMatrix, matrix_from_triples
from db.models import Item


def _titles(session, f: ItemFilter) -> list[str]:
    return [r["title"] for r in queries.search_items(session, f, page_size=100).rows]


BOTH = pytest.mark.parametrize("backend", ["sqlite", "postgresql"])


@BOTH
def test_search_finds_words_in_any_order_and_prefixes(session, backend):
    assert search.backend(session) == {"sqlite": "fts5", "postgresql": "tsvector"}[backend]
    star = _titles(session, ItemFilter(text="Wars Star"))
    assert star and all("Star Wars" in t for t in star)
    assert _titles(session, ItemFilter(text="star wars")) == star
    assert _titles(session, ItemFilter(text="empire strikes")) == ["Empire Strikes Back, The"]
    assert "Empire Strikes Back, The" in _titles(session, ItemFilter(text="strik emp"))  # word prefixes
    assert _titles(session, ItemFilter(text='"); DROP TABLE items; --')) == []  # words only, never syntax
    ext = session.scalar(select(Item.external_id).order_by(Item.id).limit(1))
    assert queries.filtered_count(session, ItemFilter(text=ext)) >= 1  # an exact external id still matches


@BOTH
def test_search_index_follows_inserts_updates_and_deletes(session):
    item = session.scalar(select(Item).order_by(Item.id).limit(1))
    item.title = "Zephyr Organic Blender 1270"
    session.flush()
    assert _titles(session, ItemFilter(text="blender zephyr")) == ["Zephyr Organic Blender 1270"]
    assert _titles(session, ItemFilter(text="toy story")) == []  # the old title left the index
    session.add(Item(external_id="new-1", title="Kestrel Travel Mug", description="double wall"))
    session.flush()
    assert _titles(session, ItemFilter(text="wall mug")) == ["Kestrel Travel Mug"]
    session.delete(session.scalar(select(Item).where(Item.external_id == "new-1")))
    session.flush()
    assert _titles(session, ItemFilter(text="wall mug")) == []


@BOTH
def test_like_fallback_gives_the_same_answers(session, monkeypatch):
    fts = {w: _titles(session, ItemFilter(text=w)) for w in ("wars star", "empire strikes", "godfather")}
    monkeypatch.setattr(search, "backend", lambda _s: "like")
    assert {w: _titles(session, ItemFilter(text=w)) for w in fts} == fts


@BOTH
def test_position_counts_and_batches_without_listing_every_id(session):
    f = ItemFilter(native_tag="documentary")
    ids = queries.filtered_item_ids(session, f)
    assert queries.filtered_count(session, f) == len(ids) > 3
    pos = queries.position(session, f, ids[1])
    assert (pos.index, pos.total, pos.prev_id, pos.next_id) == (2, len(ids), ids[0], ids[2])
    outside = session.scalar(select(Item.id).where(Item.id.not_in(ids)).limit(1))
    assert queries.position(session, f, outside).index == 0
    assert list(queries.filtered_versions(session, f, 3)) == ids[:3]
    assert queries.filtered_item_ids(session, f, limit=2) == ids[:2]


@BOTH
def test_export_of_a_filter_equals_the_export_of_its_ids(session):
    from betag_engine.curation import approve_tags

    f = ItemFilter(native_tag="documentary")
    ids = queries.filtered_item_ids(session, f)
    for item_id in ids[:3]:
        version = session.get(Item, item_id).review_version
        approve_tags(session, item_id, ["documentary"], "native", "alice", version)
    session.flush()
    sub = queries.filtered_select(session, f)
    for fmt in ("csv", "json"):
        assert export_curated(session, fmt, sub) == export_curated(session, fmt, ids)
    assert queries.curated_count(session, f) == 3


def test_review_queue_reads_only_what_it_needs(session, monkeypatch):
    monkeypatch.setattr(queries, "QUEUE_CHUNK", 7)
    queue = queries.review_queue(session, ItemFilter(), "native", limit=10)
    assert [e.item_id for e in queue] == queries.filtered_item_ids(session, ItemFilter(), limit=10)
    assert all(e.pending for e in queue)


def test_interaction_counts_equal_popularity_from_sequences(session):
    ids = all_item_ids(session)
    np.testing.assert_array_equal(interaction_counts(session, ids), popularity(user_sequences(session), ids))


def _reference_matrix(item_ids, triples) -> TagMatrix:
    """matrix_from_triples as it was written before it was vectorised (dicts and sorted())."""
    row_of = {int(i): r for r, i in enumerate(item_ids)}
    kept = [(row_of[i], t, c) for i, t, c in triples if i in row_of]
    tags = sorted({t for _, t, _ in kept})
    col_of = {t: c for c, t in enumerate(tags)}
    m = sp.csr_matrix(([c for _, _, c in kept], ([r for r, _, _ in kept], [col_of[t] for _, t, _ in kept])),
                      shape=(len(item_ids), len(tags)))
    m.sum_duplicates()
    return TagMatrix(m, np.asarray(item_ids), tags)


@pytest.mark.parametrize("seed", range(5))
def test_vectorised_matrix_and_draft_equal_their_definitions(seed):
    rng = np.random.default_rng(seed)
    item_ids = rng.permutation(np.arange(10, 60))[:40]
    triples = [(int(rng.integers(5, 65)), f"t{int(rng.integers(0, 30))}", float(rng.integers(1, 4)))
               for _ in range(200)]
    got, ref = matrix_from_triples(item_ids, triples), _reference_matrix(item_ids, triples)
    assert got.tags == ref.tags and (got.matrix != ref.matrix).nnz == 0
    tm = matrix_from_triples(np.sort(item_ids), triples)
    item = int(tm.item_ids[int(rng.integers(0, len(tm.item_ids)))])
    draft = {"t1": 2.0, "brand new": 1.0, "t3": 0.0}
    coo = sp.coo_matrix(tm.matrix)
    rows = [(int(tm.item_ids[r]), tm.tags[c], float(v)) for r, c, v in zip(coo.row, coo.col, coo.data)
            if tm.item_ids[r] != item]
    expected = _reference_matrix(tm.item_ids, rows + [(item, t, c) for t, c in draft.items() if c > 0])
    drafted = with_item_tags(tm, item, draft)
    assert drafted.tags == expected.tags and (drafted.matrix != expected.matrix).nnz == 0


def test_tag_matrix_from_the_store_is_unchanged(session):
    tm = tag_matrix(session, "native")
    rows = session.execute(text("SELECT item_id, tag, count FROM item_tags i JOIN tagging_systems s "
                                "ON s.id = i.system_id WHERE s.name = 'native'")).all()
    ref = _reference_matrix(tm.item_ids, rows)
    assert tm.tags == ref.tags and (tm.matrix != ref.matrix).nnz == 0

