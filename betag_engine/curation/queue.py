"""The approval queue: items of a filter that still have tags of a source system awaiting a decision."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from betag_engine.catalog.browse import ItemFilter, filtered_item_ids, item_versions
from betag_engine.catalog.store import item_tags
from betag_engine.curation.state import tag_states
from betag_engine.vocabulary import PENDING
from db.models import Item


@dataclass(frozen=True)
class QueueEntry:
    item_id: int
    external_id: str
    title: str
    version: int
    pending: list[str]


def review_queue(session: Session, f: ItemFilter, source: str, limit: int = 50) -> list[QueueEntry]:
    """Up to ``limit`` items matching ``f`` whose ``source`` tags are not all decided, in id order."""
    ids = filtered_item_ids(session, f)
    tagged = item_tags(session, source, ids)
    out: list[QueueEntry] = []
    for item_id in ids:
        if item_id not in tagged:
            continue
        states = tag_states(session, item_id)
        pending = [t.tag for t in tagged[item_id] if states.get(t.tag) == PENDING]
        if pending:
            item = session.get(Item, item_id)
            out.append(QueueEntry(item_id, item.external_id, item.title, item.review_version, pending))
            if len(out) >= limit:
                break
    return out


__all__ = ["QueueEntry", "review_queue", "item_versions"]
