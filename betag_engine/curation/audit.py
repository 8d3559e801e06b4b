"""Audit queries over review decisions (the Audit page and undo lists)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from betag_engine.vocabulary import EDIT, REJECT, REMOVE, UNDO
from db.models import Item, ReviewDecision


@dataclass(frozen=True)
class AuditFilter:
    reviewer: str = ""
    action: str = ""
    item: str = ""  # external id or title substring
    tag: str = ""
    batch_id: str = ""
    since: datetime | None = None
    until: datetime | None = None
    live_only: bool = False


def audit_rows(session: Session, f: AuditFilter = AuditFilter(), limit: int = 500) -> list[dict[str, Any]]:
    """Decisions matching ``f``, newest first, as plain rows with before/after summarised as text."""
    stmt = select(ReviewDecision, Item.external_id, Item.title).join(Item, Item.id == ReviewDecision.item_id)
    if f.reviewer:
        stmt = stmt.where(ReviewDecision.reviewer == f.reviewer)
    if f.action:
        stmt = stmt.where(ReviewDecision.action == f.action)
    if f.tag:
        stmt = stmt.where(ReviewDecision.tag == f.tag)
    if f.batch_id:
        stmt = stmt.where(ReviewDecision.batch_id == f.batch_id)
    if f.item:
        like = "%" + f.item.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where((Item.external_id == f.item) | Item.title.ilike(like, escape="\\"))
    if f.since:
        stmt = stmt.where(ReviewDecision.created_at >= f.since)
    if f.until:
        stmt = stmt.where(ReviewDecision.created_at <= f.until)
    if f.live_only:
        stmt = stmt.where(ReviewDecision.undone_by.is_(None), ReviewDecision.action != UNDO)
    rows = session.execute(stmt.order_by(ReviewDecision.id.desc()).limit(limit)).all()
    return [
        {"id": d.id, "time (UTC)": d.created_at, "reviewer": d.reviewer, "action": d.action, "tag": d.tag,
         "item_id": ext, "title": title, "source": d.source_system, "before": _summary(d.before, d.action, False),
         "after": _summary(d.after, d.action, True), "batch": d.batch_id or "",
         "undone by": "" if d.undone_by is None else f"#{d.undone_by}", "item": d.item_id}
        for d, ext, title in rows
    ]


def reviewers(session: Session) -> list[str]:
    return sorted(session.scalars(select(ReviewDecision.reviewer).distinct()))


_GONE = {REJECT: "rejected", REMOVE: "removed", EDIT: "replaced"}  # what a missing curated tag means after these


def _summary(blob: dict | None, action: str, after: bool) -> str:
    """One side of a decision in words: "fantasy: curated, count 2 (conf 0.81)", "fantasy: not curated", and on
    the after side of a rejection "fantasy: rejected" (a rejection changes no curated row, but it is a decision)."""
    parts = []
    for tag, state in ((blob or {}).get("tags") or {}).items():
        if state is None:
            parts.append(f"{tag}: {_GONE.get(action, 'not curated') if after else 'not curated'}")
        else:
            conf = state.get("confidence")
            parts.append(f"{tag}: curated, count {state['count']:g}" + (f" (conf {conf:.2f})" if conf is not None
                                                                        else ""))
    return "; ".join(parts)
