"""Review decisions on curated tags: approve, reject, edit, add, remove, save a draft, and the bulk form.

Each public function runs in the caller's unit of work (``session_scope``) and follows one path,
:func:`_claimed`: claim the item's ``review_version`` first (see :func:`state.claim`), change its curated tags with
one ReviewDecision per change (reviewer, source system, curated state before and after), then refresh the item's
review status.

Decisions are sticky: a tag a person has decided (approved, rejected, edited or removed) is left as it is by every
action that decides many tags at once (bulk, "approve all", saving a draft), and each such tag is reported in
``DecisionResult.skipped`` with the reason. Only a decision on that one tag, asked for as such (``overrule=True``,
the Review page's per-tag buttons), changes it again. Jobs and imports never write the curated system at all
(``catalog.store.ensure_system`` and the job parameter check refuse it).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from betag_engine.catalog.normalize import MAX_TAG_CHARS, normalize_tag
from betag_engine.curation.state import (
    TagState,
    apply_state,
    claim,
    curated_states,
    curated_system,
    record,
    refresh_status,
    source_tags,
    tag_decisions,
)
from betag_engine.errors import ConflictError, NotFoundError
from betag_engine.vocabulary import ADD, APPROVE, APPROVED, CURATED, EDIT, REJECT, REJECTED, REMOVE
from db.models import Item, TaggingSystem

BULK_ORDERS = ("count", "confidence")
BULK_ACTIONS = (APPROVE, REJECT)

__all__ = ["DecisionResult", "Skipped", "approve_tags", "reject_tags", "edit_tag", "add_tag", "remove_tag",
           "save_draft", "bulk_decide", "stored_form"]


@dataclass(frozen=True)
class Skipped:
    """A tag a decision call left as it was, and why (e.g. "rejected by alice", "already approved")."""

    item_id: int
    tag: str
    reason: str
    title: str = ""


@dataclass
class DecisionResult:
    """What a decision call did: the ReviewDecision ids, its batch, each item's new version, tags left as they were."""

    decision_ids: list[int] = field(default_factory=list)
    batch_id: str | None = None
    versions: dict[int, int] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)

    def skip_summary(self, shown: int = 5) -> str:
        """The skipped tags in one sentence, by reason ("" when none): what a bulk action's message adds."""
        if not self.skipped:
            return ""
        by_reason: dict[str, list[Skipped]] = {}
        for s in self.skipped:
            by_reason.setdefault(s.reason, []).append(s)
        parts = []
        for reason, items in sorted(by_reason.items(), key=lambda kv: -len(kv[1])):
            examples = ", ".join(f"'{s.tag}'" + (f" on {s.title}" if s.title else "") for s in items[:shown])
            more = f" and {len(items) - shown} more" if len(items) > shown else ""
            parts.append(f"{len(items)} {reason} ({examples}{more})")
        return f"Left {len(self.skipped)} tag(s) as a person decided them: " + "; ".join(parts) + "."


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

    def skip(self, tag: str, reason: str) -> None:
        title = self.session.scalar(select(Item.title).where(Item.id == self.item_id)) or ""
        self.result.skipped.append(Skipped(self.item_id, tag, reason, title))


@contextmanager
def _claimed(session: Session, result: DecisionResult, item_id: int,
             expected_version: int | None = None) -> Iterator[_Item]:
    """Claim ``item_id`` at ``expected_version`` (None: claimed already), yield it, then refresh its status."""
    if expected_version is not None:
        result.versions[item_id] = claim(session, item_id, expected_version)
    yield _Item(session, item_id, curated_system(session), result)
    refresh_status(session, item_id)


def _decide(item: _Item, tags: Iterable[str], source: str, reviewer: str, action: str, overrule: bool) -> None:
    """Approve or reject ``tags`` of ``source`` on a claimed item; decided tags are skipped unless ``overrule``."""
    offered = source_tags(item.session, source, item.item_id)
    decided = tag_decisions(item.session, item.item_id)
    target = APPROVED if action == APPROVE else REJECTED
    for tag in tags:
        if tag not in offered:
            raise NotFoundError(f"system {source!r} has no tag {tag!r} for item id {item.item_id}")
        now = decided.get(tag)
        if now is not None and now.state == target:
            item.skip(tag, f"already {target}")
            continue
        if now is not None and now.decided and not overrule:
            item.skip(tag, now.describe())
            continue
        item.change(tag, action, reviewer, source, {tag: offered[tag] if action == APPROVE else None})


def _decide_tags(session: Session, item_id: int, tags: list[str], source: str, reviewer: str,
                 expected_version: int, action: str, overrule: bool) -> DecisionResult:
    result = DecisionResult(batch_id=_new_batch() if len(tags) > 1 else None)
    with _claimed(session, result, item_id, expected_version) as item:
        _decide(item, tags, source, reviewer, action, overrule)
    return result


def approve_tags(session: Session, item_id: int, tags: Iterable[str], source: str, reviewer: str,
                 expected_version: int, overrule: bool = False) -> DecisionResult:
    """Approve tags proposed by ``source`` into the curated system (count and confidence copied from the source).

    Args:
        tags: tags of ``source`` for this item; one tag is a single decision, several share one batch id.
        expected_version: the item's ``review_version`` when the reviewer loaded it.
        overrule: also approve tags a person rejected, edited or removed (a reviewer deciding that one tag again,
            having seen its state). Without it those tags are left as they are and listed in ``skipped``.
    Raises:
        ConflictError: the item changed since ``expected_version``; NotFoundError: unknown system or tag.
    """
    return _decide_tags(session, item_id, list(tags), source, reviewer, expected_version, APPROVE, overrule)


def reject_tags(session: Session, item_id: int, tags: Iterable[str], source: str, reviewer: str,
                expected_version: int, overrule: bool = False) -> DecisionResult:
    """Reject tags proposed by ``source`` (removing them from the curated system if they were there); tags a person
    approved, edited or removed are left as they are unless ``overrule`` (see :func:`approve_tags`)."""
    return _decide_tags(session, item_id, list(tags), source, reviewer, expected_version, REJECT, overrule)


def stored_form(tag: str, what: str = "tag") -> str:
    """The tag as a decision would store it (:func:`normalize_tag`), or ValueError saying why it cannot be stored:
    nothing left (no letter or digit) or longer than ``MAX_TAG_CHARS``. The Review page shows this before saving."""
    new = normalize_tag(tag)
    if not new:
        raise ValueError(f"{what} {tag.strip()!r} cannot be saved: a tag needs a letter or a digit")
    if len(new) > MAX_TAG_CHARS:
        raise ValueError(f"{what} cannot be saved: {len(new)} characters, the limit is {MAX_TAG_CHARS}")
    return new


def edit_tag(session: Session, item_id: int, old_tag: str, new_tag: str, source: str, reviewer: str,
             expected_version: int) -> DecisionResult:
    """Replace ``old_tag`` (curated, or proposed by ``source``) by ``new_tag`` (normalised) in the curated system."""
    new = stored_form(new_tag, "new tag")
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
    new = stored_form(tag, "tag")
    result = DecisionResult()
    with _claimed(session, result, item_id, expected_version) as item:
        before = item.states([new])
        if before[new] is not None:
            item.skip(new, "already approved")
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
    """Save a draft of the item's tags (the Retrieval preview) as its curated tags; one batch, one version claim.

    Tags of the draft offered by ``source`` are approved, others added. A tag of ``source`` that a person rejected,
    edited or removed stays so (listed in ``skipped``): the draft starts from the source's tags, so keeping it in
    the draft is no decision to overrule. Curated tags missing from the draft are removed only when the draft is of
    the curated tags themselves (``source`` ""); a draft of another system leaves them (listed in ``skipped``).
    """
    result = DecisionResult(batch_id=_new_batch())
    with _claimed(session, result, item_id, expected_version) as item:
        offered = source_tags(session, source, item_id) if source else {}
        decided = tag_decisions(session, item_id)
        changes: dict[str, TagState] = {}
        for tag in sorted(set(source_tags(session, CURATED, item_id)) - set(draft)):
            if source:
                item.skip(tag, "curated, not in this system's draft (remove it on Review)")
            else:
                changes[tag] = None
        for tag, count in draft.items():
            now = decided.get(tag)
            if tag in offered and now is not None and now.decided and now.state != APPROVED:
                item.skip(tag, now.describe())
                continue
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

    Only pending tags are decided: a tag a person already approved, rejected, edited or removed keeps that decision
    and is listed in ``skipped`` with the reason (it still counts towards ``top_k``, so "the top 3" means the same
    three tags whoever decided some of them first).

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
            _decide(item, ranked[:top_k] if top_k else ranked, source, reviewer, action, overrule=False)
    return result


def _rank_key(state: dict, tag: str, order_by: str) -> tuple:
    value = state.get(order_by)
    return (value is None, -(value or 0.0), tag)
