"""Undo a decision or a whole batch: restore the curated state it replaced, after checking nobody changed it since."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from betag_engine.curation.decisions import DecisionResult, _new_batch
from betag_engine.curation.state import apply_state, curated_states, curated_system, record, refresh_status
from betag_engine.errors import ConflictError, NotFoundError
from betag_engine.vocabulary import UNDO
from db.models import Item, ReviewDecision


def undo(session: Session, reviewer: str, decision_id: int | None = None,
         batch_id: str | None = None) -> DecisionResult:
    """Undo one decision (``decision_id``) or every live decision of ``batch_id``.

    Each undo is itself recorded (action "undo", before/after swapped) and marks the original ``undone_by``.

    Raises:
        ConflictError: a decision was already undone, or its tag changed after it (undo the later one first).
        NotFoundError: no such decision or batch.
    """
    if (decision_id is None) == (batch_id is None):
        raise ValueError("give exactly one of decision_id or batch_id")
    stmt = select(ReviewDecision).where(ReviewDecision.action != UNDO)
    stmt = stmt.where(ReviewDecision.id == decision_id) if decision_id is not None else stmt.where(
        ReviewDecision.batch_id == batch_id)
    decisions = list(session.scalars(stmt.order_by(ReviewDecision.id.desc())))
    if not decisions:
        raise NotFoundError(f"no decision {decision_id}" if decision_id is not None else f"no batch {batch_id!r}")
    live = [d for d in decisions if d.undone_by is None]
    if not live:
        raise ConflictError("this decision was already undone" if decision_id else "this batch was already undone")
    result = DecisionResult(batch_id=_new_batch() if batch_id else None)
    for item_id in sorted({d.item_id for d in live}):
        session.execute(update(Item).where(Item.id == item_id).values(review_version=Item.review_version + 1))
        result.versions[item_id] = session.scalar(select(Item.review_version).where(Item.id == item_id))
    system = curated_system(session)
    for d in live:
        after, before = d.after["tags"], d.before["tags"]
        now = curated_states(session, system, d.item_id, after)
        if any(_differs(now[t], after[t]) for t in after):
            raise ConflictError(f"tag '{d.tag}' of item id {d.item_id} changed after decision {d.id} "
                                f"({d.action} by {d.reviewer}); undo the later decision first. Nothing was undone.")
        for tag, state in before.items():
            apply_state(session, system, d.item_id, tag, state)
        back = record(session, d.item_id, d.tag, UNDO, reviewer, d.source_system, after, before, result.batch_id)
        d.undone_by = back.id
        result.decision_ids.append(back.id)
    session.flush()
    for item_id in result.versions:
        refresh_status(session, item_id)
    return result


def _differs(a: dict | None, b: dict | None) -> bool:
    if a is None or b is None:
        return (a is None) != (b is None)
    return float(a["count"]) != float(b["count"]) or a.get("confidence") != b.get("confidence")
