"""Review decisions on curated tags: approve, reject, edit, add, remove, save a draft, and the bulk form.

Each public function runs in the caller's unit of work (``session_scope``) and follows one path,
:func:`_claimed`: claim the item's ``review_version`` first (see :func:`state.claim`), change its curated tags with
one ReviewDecision per change (reviewer, source system, curated state before and after), then refresh the item's
review status.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from betag_engine.catalog.normalize import normalize_tag
from betag_engine.curation.state import (
    TagState,
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
from betag_engine.vocabulary import ADD, APPROVE, APPROVED, CURATED, EDIT, REJECT, REJECTED, REMOVE
from db.models import TaggingSystem

BULK_ORDERS = ("count", "confidence")
BULK_ACTIONS = (APPROVE, REJECT)

__all__ = ["DecisionResult", "approve_tags", "reject_tags", "edit_tag", "add_tag", "remove_tag", "save_draft",
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


@dataclass
class _Item:
    """An item claimed for a decision: its curated tags can change, each change recorded in ``result``."""

    session: Session
    item_id: int
    system: TaggingSystem
    result: DecisionResult

    def states(self, tags: Iterable[str]) -> dict[str, TagState]:
        return curated_states(self.session, self.system, self.item_id, tags)

    def change(self, tag: str, action: str, reviewer: str, source: str, after: dict[str, TagState],
               before: dict[str, TagState] | None = None) -> None:
        """Make the curated tags of ``after`` match it (None removes) and record that as one decision on ``tag``."""
        before = self.states(after) if before is None else before
        for t, state in after.items():
            apply_state(self.session, self.system, self.item_id, t, state)
        decision = record(self.session, self.item_id, tag, action, reviewer, source, before, after,
                          self.result.batch_id)
        self.result.decision_ids.append(decision.id)


@contextmanager
def _claimed(session: Session, result: DecisionResult, item_id: int,
             expected_version: int | None = None) -> Iterator[_Item]:
    """Claim ``item_id`` at ``expected_version`` (None: claimed already), yield it, then refresh its status."""
    if expected_version is not None:
        result.versions[item_id] = claim(session, item_id, expected_version)
    yield _Item(session, item_id, curated_system(session), result)
    refresh_status(session, item_id)


def _decide(item: _Item, tags: Iterable[str], source: str, reviewer: str, action: str) -> None:
    """Approve or reject ``tags`` of ``source`` on a claimed item."""
    offered = source_tags(item.session, source, item.item_id)
    states = tag_states(item.session, item.item_id)
    target = APPROVED if action == APPROVE else REJECTED
    for tag in tags:
        if tag not in offered:
            raise NotFoundError(f"system {source!r} has no tag {tag!r} for item id {item.item_id}")
        if states.get(tag) == target:
            item.result.skipped.append(tag)
            continue
        item.change(tag, action, reviewer, source, {tag: offered[tag] if action == APPROVE else None})


def _decide_tags(session: Session, item_id: int, tags: list[str], source: str, reviewer: str,
                 expected_version: int, action: str) -> DecisionResult:
    result = DecisionResult(batch_id=_new_batch() if len(tags) > 1 else None)
    with _claimed(session, result, item_id, expected_version) as item:
        _decide(item, tags, source, reviewer, action)
    return result


def approve_tags(session: Session, item_id: int, tags: Iterable[str], source: str, reviewer: str,
                 expected_version: int) -> DecisionResult:
    """Approve tags proposed by ``source`` into the curated system (count and confidence copied from the source).

    Args:
        tags: tags of ``source`` for this item; one tag is a single decision, several share one batch id.
        expected_version: the item's ``review_version`` when the reviewer loaded it.
    Raises:
        ConflictError: the item changed since ``expected_version``; NotFoundError: unknown system or tag.
    """
    return _decide_tags(session, item_id, list(tags), source, reviewer, expected_version, APPROVE)


def reject_tags(session: Session, item_id: int, tags: Iterable[str], source: str, reviewer: str,
                expected_version: int) -> DecisionResult:
    """Reject tags proposed by ``source`` (removing them from the curated system if they were there)."""
    return _decide_tags(session, item_id, list(tags), source, reviewer, expected_version, REJECT)


def _normalized(tag: str, what: str) -> str:
    new = normalize_tag(tag)
    if not new:
        raise ValueError(f"{what} {tag!r} is empty after normalisation (letters, digits, spaces, & ' + . / -)")
    return new


def edit_tag(session: Session, item_id: int, old_tag: str, new_tag: str, source: str, reviewer: str,
             expected_version: int) -> DecisionResult:
    """Replace ``old_tag`` (curated, or proposed by ``source``) by ``new_tag`` (normalised) in the curated system."""
    new = _normalized(new_tag, "new tag")
    result = DecisionResult()
    with _claimed(session, result, item_id, expected_version) as item:
        before = item.states([old_tag, new])
        origin = before[old_tag] or (source_tags(session, source, item_id).get(old_tag) if source else None)
        if origin is None:
            raise NotFoundError(f"item id {item_id} has no tag {old_tag!r} in the curated system or in {source!r}")
        after = {old_tag: None, new: {"count": origin["count"], "confidence": origin.get("confidence")}}
        if new == old_tag:
            after = {new: after[new]}
        item.change(old_tag, EDIT, reviewer, source, after, before=before)
    return result


def add_tag(session: Session, item_id: int, tag: str, reviewer: str, expected_version: int) -> DecisionResult:
    """Add a reviewer's own tag (normalised, count 1) to the curated system."""
    new = _normalized(tag, "tag")
    result = DecisionResult()
    with _claimed(session, result, item_id, expected_version) as item:
        before = item.states([new])
        if before[new] is not None:
            result.skipped.append(new)
        else:
            item.change(new, ADD, reviewer, "", {new: {"count": 1.0, "confidence": None}}, before=before)
    return result


def remove_tag(session: Session, item_id: int, tag: str, reviewer: str, expected_version: int) -> DecisionResult:
    """Remove a tag from the curated system."""
    result = DecisionResult()
    with _claimed(session, result, item_id, expected_version) as item:
        before = item.states([tag])
        if before[tag] is None:
            raise NotFoundError(f"item id {item_id} has no curated tag {tag!r}")
        item.change(tag, REMOVE, reviewer, "", {tag: None}, before=before)
    return result


def save_draft(session: Session, item_id: int, draft: Mapping[str, float], source: str, reviewer: str,
               expected_version: int) -> DecisionResult:
    """Make the item's curated tags exactly ``draft``: tags offered by ``source`` are approved, others added,
    curated tags missing from the draft removed; one batch, one version claim."""
    result = DecisionResult(batch_id=_new_batch())
    with _claimed(session, result, item_id, expected_version) as item:
        offered = source_tags(session, source, item_id) if source else {}
        changes: dict[str, TagState] = {t: None for t in set(source_tags(session, CURATED, item_id)) - set(draft)}
        for tag, count in draft.items():
            changes[tag] = offered.get(tag) or {"count": float(count), "confidence": None}
        for tag, state in changes.items():
            before = item.states([tag])
            if before[tag] == state or (before[tag] is not None and state is not None):
                continue
            action = REMOVE if state is None else (APPROVE if tag in offered else ADD)
            item.change(tag, action, reviewer, source if action == APPROVE else "", {tag: state}, before=before)
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
        with _claimed(session, result, item_id) as item:
            offered = source_tags(session, source, item_id)
            ranked = sorted(offered, key=lambda t: _rank_key(offered[t], t, order_by))
            _decide(item, ranked[:top_k] if top_k else ranked, source, reviewer, action)
    return result


def _rank_key(state: dict, tag: str, order_by: str) -> tuple:
    value = state.get(order_by)
    return (value is None, -(value or 0.0), tag)
