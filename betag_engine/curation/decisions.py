"""Review decisions on curated tags: approve, reject, edit, add, remove, and their bulk forms.

Each public function runs inside the caller's session (the caller commits, e.g. with ``session_scope``), claims the
item's ``review_version`` first (see :func:`state.claim`) and records one ReviewDecision per changed tag with the
reviewer, the source system and the curated state before and after.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from betag_engine.catalog.normalize import normalize_tag
from betag_engine.curation.state import (
    apply_state,
    claim,
    curated_states,
    curated_system,
    record,
    refresh_status,
    source_tags,
    tag_states,
)
from betag_engine.errors import ConflictError, NotFoundError
from betag_engine.vocabulary import ADD, APPROVE, APPROVED, EDIT, REJECT, REJECTED, REMOVE

BULK_ORDERS = ("count", "confidence")
BULK_ACTIONS = (APPROVE, REJECT)

__all__ = ["DecisionResult", "approve_tags", "reject_tags", "edit_tag", "add_tag", "remove_tag",
           "bulk_decide"]


@dataclass
class DecisionResult:
    """What a decision call did: the ReviewDecision ids, its batch, each item's new version, tags left as they were."""

    decision_ids: list[int] = field(default_factory=list)
    batch_id: str | None = None
    versions: dict[int, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


def _new_batch() -> str:
    return uuid.uuid4().hex[:12]


def _decide(session: Session, item_id: int, tags: Iterable[str], source: str, reviewer: str, action: str,
            batch_id: str | None, result: DecisionResult) -> None:
    """Approve or reject ``tags`` of ``source`` on an item whose version was already claimed."""
    system = curated_system(session)
    offered = source_tags(session, source, item_id)
    states = tag_states(session, item_id)
    for tag in tags:
        if tag not in offered:
            raise NotFoundError(f"system {source!r} has no tag {tag!r} for item id {item_id}")
        target = APPROVED if action == APPROVE else REJECTED
        if states.get(tag) == target:
            result.skipped.append(tag)
            continue
        before = curated_states(session, system, item_id, [tag])
        after = {tag: offered[tag] if action == APPROVE else None}
        apply_state(session, system, item_id, tag, after[tag])
        result.decision_ids.append(record(session, item_id, tag, action, reviewer, source, before, after, batch_id).id)


def approve_tags(session: Session, item_id: int, tags: Iterable[str], source: str, reviewer: str,
                 expected_version: int) -> DecisionResult:
    """Approve tags proposed by ``source`` into the curated system (count and confidence copied from the source).

    Args:
        tags: tags of ``source`` for this item; one tag is a single decision, several share one batch id.
        expected_version: the item's ``review_version`` when the reviewer loaded it.
    Raises:
        ConflictError: the item changed since ``expected_version``; NotFoundError: unknown system or tag.
    """
    return _single(session, item_id, list(tags), source, reviewer, expected_version, APPROVE)


def reject_tags(session: Session, item_id: int, tags: Iterable[str], source: str, reviewer: str,
                expected_version: int) -> DecisionResult:
    """Reject tags proposed by ``source`` (removing them from the curated system if they were there)."""
    return _single(session, item_id, list(tags), source, reviewer, expected_version, REJECT)


def _single(session, item_id, tags, source, reviewer, expected_version, action) -> DecisionResult:
    result = DecisionResult(batch_id=_new_batch() if len(tags) > 1 else None)
    result.versions[item_id] = claim(session, item_id, expected_version)
    _decide(session, item_id, tags, source, reviewer, action, result.batch_id, result)
    refresh_status(session, item_id)
    return result


def edit_tag(session: Session, item_id: int, old_tag: str, new_tag: str, source: str, reviewer: str,
             expected_version: int) -> DecisionResult:
    """Replace ``old_tag`` (curated, or proposed by ``source``) by ``new_tag`` (normalised) in the curated system."""
    new = normalize_tag(new_tag)
    if not new:
        raise ValueError(f"new tag {new_tag!r} is empty after normalisation (letters, digits, spaces, & ' + . / -)")
    result = DecisionResult()
    result.versions[item_id] = claim(session, item_id, expected_version)
    system = curated_system(session)
    before = curated_states(session, system, item_id, [old_tag, new])
    origin = before[old_tag] or (source_tags(session, source, item_id).get(old_tag) if source else None)
    if origin is None:
        raise NotFoundError(f"item id {item_id} has no tag {old_tag!r} in the curated system or in {source!r}")
    after = {old_tag: None, new: {"count": origin["count"], "confidence": origin.get("confidence")}}
    if new == old_tag:
        after = {new: after[new]}
    for tag, state in after.items():
        apply_state(session, system, item_id, tag, state)
    result.decision_ids.append(record(session, item_id, old_tag, EDIT, reviewer, source, before, after, None).id)
    refresh_status(session, item_id)
    return result


def add_tag(session: Session, item_id: int, tag: str, reviewer: str, expected_version: int) -> DecisionResult:
    """Add a reviewer's own tag (normalised, count 1) to the curated system."""
    new = normalize_tag(tag)
    if not new:
        raise ValueError(f"tag {tag!r} is empty after normalisation (letters, digits, spaces, & ' + . / -)")
    result = DecisionResult()
    result.versions[item_id] = claim(session, item_id, expected_version)
    system = curated_system(session)
    before = curated_states(session, system, item_id, [new])
    if before[new] is not None:
        result.skipped.append(new)
    else:
        after = {new: {"count": 1.0, "confidence": None}}
        apply_state(session, system, item_id, new, after[new])
        result.decision_ids.append(record(session, item_id, new, ADD, reviewer, "", before, after, None).id)
    refresh_status(session, item_id)
    return result


def remove_tag(session: Session, item_id: int, tag: str, reviewer: str, expected_version: int) -> DecisionResult:
    """Remove a tag from the curated system."""
    result = DecisionResult()
    result.versions[item_id] = claim(session, item_id, expected_version)
    system = curated_system(session)
    before = curated_states(session, system, item_id, [tag])
    if before[tag] is None:
        raise NotFoundError(f"item id {item_id} has no curated tag {tag!r}")
    apply_state(session, system, item_id, tag, None)
    result.decision_ids.append(record(session, item_id, tag, REMOVE, reviewer, "", before, {tag: None}, None).id)
    refresh_status(session, item_id)
    return result


def bulk_decide(session: Session, action: str, item_versions: Mapping[int, int], source: str, reviewer: str,
                top_k: int | None = None, order_by: str = "count") -> DecisionResult:
    """Approve or reject, for each item, its ``top_k`` tags of ``source`` (all when None) as one undoable batch.

    Args:
        action: "approve" or "reject".
        item_versions: item id -> review_version the reviewer saw; every item is checked before anything changes.
        order_by: "count" or "confidence" (tags without a confidence rank last).
    Raises:
        ConflictError: listing every item that changed since it was read; nothing is saved.
    """
    if action not in BULK_ACTIONS:
        raise ValueError(f"action must be one of {', '.join(BULK_ACTIONS)}, got {action!r}")
    if order_by not in BULK_ORDERS:
        raise ValueError(f"order_by must be one of {', '.join(BULK_ORDERS)}, got {order_by!r}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be at least 1 (or None for all tags), got {top_k}")
    result = DecisionResult(batch_id=_new_batch())
    conflicts = []
    for item_id, version in item_versions.items():
        try:
            result.versions[item_id] = claim(session, item_id, version)
        except ConflictError as exc:
            conflicts.append(str(exc))
    if conflicts:
        raise ConflictError(f"{len(conflicts)} item(s) changed since you loaded them; nothing was saved.\n"
                            + "\n".join(conflicts[:20]))
    for item_id in item_versions:
        offered = source_tags(session, source, item_id)
        ranked = sorted(offered, key=lambda t: _rank_key(offered[t], t, order_by))
        _decide(session, item_id, ranked[:top_k] if top_k else ranked, source, reviewer, action, result.batch_id,
                result)
        refresh_status(session, item_id)
    return result


def _rank_key(state: dict, tag: str, order_by: str) -> tuple:
    value = state.get(order_by)
    return (value is None, -(value or 0.0), tag)
