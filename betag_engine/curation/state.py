"""Low-level pieces shared by every decision: the version claim, curated-tag state, audit records, item status."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from betag_engine.catalog.store import ensure_system
from betag_engine.errors import BetagError, ConflictError, NotFoundError
from betag_engine.vocabulary import (
    APPROVED,
    CURATED,
    EDIT,
    EDITED,
    IN_REVIEW,
    PENDING,
    REJECT,
    REJECTED,
    REMOVE,
    REMOVED,
    REVIEWED,
    UNDO,
    UNREVIEWED,
)
from db.models import Item, ItemTag, ReviewDecision, TaggingSystem
from db.session import is_transient, retry_transient

# Latest live decision on a tag that is not in the curated system -> the tag's review state.
_CLOSED_STATES = {REJECT: REJECTED, REMOVE: REMOVED, EDIT: EDITED}
BUSY_RETRIES = 3

T = TypeVar("T")
TagState = dict[str, Any] | None  # {"count": float, "confidence": float | None} or None (not curated)


def curated_system(session: Session) -> TaggingSystem:
    return ensure_system(session, CURATED, CURATED, model="human review")


def claim(session: Session, item_id: int, expected_version: int) -> int:
    """Bump the item's review_version if it still is ``expected_version``; return the new version.

    This UPDATE is the first statement of the decision's transaction, so SQLite takes the write lock here (waiting
    up to busy_timeout) instead of failing later when a read lock would have to be upgraded.

    Raises:
        ConflictError: someone decided on the item after the caller read it; nothing is changed.
    """
    res = session.execute(
        update(Item)
        .where(Item.id == item_id, Item.review_version == int(expected_version))
        .values(review_version=Item.review_version + 1)
    )
    if res.rowcount == 1:
        return int(expected_version) + 1
    item = session.get(Item, item_id)
    if item is None:
        raise NotFoundError(f"item id {item_id} does not exist")
    raise ConflictError(conflict_message(session, item, int(expected_version)))


def conflict_message(session: Session, item: Item, expected: int) -> str:
    last = session.scalar(
        select(ReviewDecision).where(ReviewDecision.item_id == item.id).order_by(ReviewDecision.id.desc()).limit(1)
    )
    who = "someone"
    if last is not None:
        who = f"{last.reviewer} ({last.action} '{last.tag}' at {last.created_at:%Y-%m-%d %H:%M:%S} UTC)"
    return (
        f"Item {item.external_id} \"{item.title}\" was changed by {who} after you loaded it "
        f"(you saw version {expected}, it is now {item.review_version}). Nothing was saved: reload the item, "
        "check the new state and decide again."
    )


def curated_states(session: Session, system: TaggingSystem, item_id: int, tags: Iterable[str]) -> dict[str, TagState]:
    tags = list(tags)
    rows = session.execute(
        select(ItemTag.tag, ItemTag.count, ItemTag.confidence).where(
            ItemTag.system_id == system.id, ItemTag.item_id == item_id, ItemTag.tag.in_(tags)
        )
    )
    found = {t: {"count": c, "confidence": conf} for t, c, conf in rows}
    return {t: found.get(t) for t in tags}


def apply_state(session: Session, system: TaggingSystem, item_id: int, tag: str, state: TagState) -> None:
    """Make the curated row of (item, tag) match ``state`` (None deletes it)."""
    row = session.scalar(
        select(ItemTag).where(ItemTag.system_id == system.id, ItemTag.item_id == item_id, ItemTag.tag == tag)
    )
    if state is None:
        if row is not None:
            session.execute(delete(ItemTag).where(ItemTag.id == row.id))
        return
    if row is None:
        session.add(ItemTag(item_id=item_id, system_id=system.id, tag=tag, count=float(state["count"]),
                            confidence=state.get("confidence")))
    else:
        row.count, row.confidence = float(state["count"]), state.get("confidence")
    session.flush()


def record(session: Session, item_id: int, tag: str, action: str, reviewer: str, source: str,
           before: dict[str, TagState], after: dict[str, TagState], batch_id: str | None) -> ReviewDecision:
    if not reviewer or not reviewer.strip():
        raise ValueError("reviewer must be a non-empty name (it is stored with every decision)")
    decision = ReviewDecision(item_id=item_id, tag=tag, action=action, reviewer=reviewer.strip(),
                              source_system=source or "", before={"tags": before}, after={"tags": after},
                              batch_id=batch_id)
    session.add(decision)
    session.flush()
    return decision


def source_tags(session: Session, system_name: str, item_id: int) -> dict[str, TagState]:
    system = session.scalar(select(TaggingSystem).where(TaggingSystem.name == system_name))
    if system is None:
        raise NotFoundError(f"tagging system {system_name!r} does not exist")
    rows = session.execute(select(ItemTag.tag, ItemTag.count, ItemTag.confidence).where(
        ItemTag.system_id == system.id, ItemTag.item_id == item_id))
    return {t: {"count": c, "confidence": conf} for t, c, conf in rows}


@dataclass(frozen=True)
class TagDecision:
    """A tag's review state on one item and who put it there (the latest live decision's reviewer; "" when no
    decision did, e.g. a pending proposal)."""

    state: str
    reviewer: str = ""
    action: str = ""

    @property
    def decided(self) -> bool:
        return self.state != PENDING

    def describe(self) -> str:
        """E.g. "rejected by alice", "approved", "pending"."""
        return f"{self.state} by {self.reviewer}" if self.reviewer else self.state


def tag_decisions(session: Session, item_id: int) -> dict[str, TagDecision]:
    """Review state of every tag any system gives the item (approved, rejected, removed, edited or pending), with
    the reviewer of the decision that set it. A tag in the curated system is approved whatever came before."""
    curated = session.scalar(select(TaggingSystem.id).where(TaggingSystem.name == CURATED))
    rows = session.execute(select(ItemTag.tag, ItemTag.system_id).where(ItemTag.item_id == item_id)).all()
    approved = {t for t, sid in rows if sid == curated}
    out = {t: TagDecision(PENDING) for t, sid in rows if sid != curated}
    live = session.execute(
        select(ReviewDecision.tag, ReviewDecision.action, ReviewDecision.reviewer, ReviewDecision.after)
        .where(ReviewDecision.item_id == item_id, ReviewDecision.undone_by.is_(None), ReviewDecision.action != UNDO)
        .order_by(ReviewDecision.id)
    )
    for tag, action, who, after in live:
        out[tag] = TagDecision(_CLOSED_STATES.get(action, APPROVED), who, action)
        for other, state in ((after or {}).get("tags") or {}).items():  # an edit's new spelling
            if other != tag and state is not None:
                out[other] = TagDecision(APPROVED, who, action)
    for tag in approved:
        if out.get(tag, TagDecision(PENDING)).state != APPROVED:
            out[tag] = TagDecision(APPROVED)
    return out


def tag_states(session: Session, item_id: int) -> dict[str, str]:
    """Review state of every tag any system gives the item: approved, rejected, removed, edited or pending."""
    return {tag: d.state for tag, d in tag_decisions(session, item_id).items()}


def refresh_status(session: Session, item_id: int) -> str:
    """Set the item's review_status from its tags' states and return it."""
    states = tag_states(session, item_id)
    decided = session.scalar(select(func.count(ReviewDecision.id)).where(ReviewDecision.item_id == item_id,
                                                                          ReviewDecision.undone_by.is_(None),
                                                                          ReviewDecision.action != UNDO))
    if not decided:
        status = UNREVIEWED
    else:
        status = IN_REVIEW if PENDING in states.values() else REVIEWED
    session.execute(update(Item).where(Item.id == item_id).values(review_status=status))
    return status


def retry_busy(fn: Callable[[], T], attempts: int = BUSY_RETRIES, pause_s: float = 0.5) -> T:
    """Call ``fn`` (one whole transaction), retrying on a transient lock error (``db.session.retry_transient``:
    SQLite locked past its busy timeout, a PostgreSQL deadlock or serialization failure); a lock that outlasts the
    retries becomes a message for the reviewer."""
    try:
        return retry_transient(fn, attempts, pause_s)
    except DBAPIError as exc:
        if not is_transient(exc):
            raise
        raise BetagError("the database stayed busy (another job or reviewer is writing); "
                         "nothing was saved, try again in a moment") from exc
