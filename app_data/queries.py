"""The app's read queries: catalog figures, filtered and paginated item lists, item detail, co-consumption, users'
histories, the approval queue, recent jobs and stored reports.

Plain functions on a Session (no Streamlit), called by ``app_data.services``. Everything goes through
``select()`` with bound parameters; untrusted text is returned as data, never markup.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from betag_engine.catalog.search import text_match
from betag_engine.catalog.store import item_tags
from betag_engine.curation.state import tag_states
from betag_engine.errors import NotFoundError
from betag_engine.types import TagScore
from betag_engine.vocabulary import CURATED, NATIVE, PENDING, REPORT_KINDS, REVIEW_STATUSES, REVIEWED, SYSTEM_ORDER
from db.models import Interaction, Item, ItemTag, Job, Report, ReviewDecision, TaggingSystem, User


@dataclass(frozen=True)
class CatalogCounts:
    items: int
    users: int
    interactions: int


@dataclass(frozen=True)
class ReviewProgress:
    by_status: dict[str, int]
    decisions: int
    curated_tags: int
    reviewers: int


@dataclass(frozen=True)
class ItemFilter:
    """The catalog filter shared by the catalog, compare, review and export views.

    Attributes:
        text: words of the title or description, in any order (``catalog.search``), or an exact external id.
        native_tag: keep items carrying this native tag ("" = any).
        review_status: unreviewed | in_review | reviewed ("" = any).
        systems: keep items tagged by every one of these systems.
    """

    text: str = ""
    native_tag: str = ""
    review_status: str = ""
    systems: tuple[str, ...] = ()


@dataclass(frozen=True)
class ItemPage:
    rows: list[dict[str, Any]]
    total: int
    page: int
    pages: int


@dataclass(frozen=True)
class ItemDetail:
    id: int
    external_id: str
    title: str
    description: str
    metadata: dict[str, Any]
    review_status: str
    review_version: int
    interactions: int
    tags: dict[str, list[TagScore]] = field(default_factory=dict)


@dataclass(frozen=True)
class CoItem:
    item_id: int
    external_id: str
    title: str
    times: int


def catalog_counts(session: Session) -> CatalogCounts:
    return CatalogCounts(
        items=session.scalar(select(func.count(Item.id))) or 0,
        users=session.scalar(select(func.count(User.id))) or 0,
        interactions=session.scalar(select(func.count(Interaction.id))) or 0,
    )


def review_progress(session: Session) -> ReviewProgress:
    by_status = dict.fromkeys(REVIEW_STATUSES, 0)
    stmt = select(Item.review_status, func.count(Item.id)).group_by(Item.review_status)
    by_status.update(dict(session.execute(stmt).all()))
    curated = session.scalar(select(TaggingSystem.id).where(TaggingSystem.name == CURATED))
    return ReviewProgress(
        by_status=by_status,
        decisions=session.scalar(select(func.count(ReviewDecision.id))) or 0,
        curated_tags=session.scalar(select(func.count(ItemTag.id)).where(ItemTag.system_id == curated)) or 0
        if curated else 0,
        reviewers=session.scalar(select(func.count(func.distinct(ReviewDecision.reviewer)))) or 0,
    )


def recent_jobs(session: Session, limit: int = 10) -> list[dict[str, Any]]:
    """The newest jobs, newest first, as plain rows (id, kind, status, progress, message, times, ``ran_s`` (every
    run summed), log tail, error, and while one runs its structured progress: phase, since, expected_s, step_s,
    eta; see ``jobs.runner``)."""
    jobs = session.scalars(select(Job).order_by(Job.id.desc()).limit(limit))
    return [
        {"id": j.id, "kind": j.kind, "name": j.name, "status": j.status, "done": j.progress_done,
         "total": j.progress_total, "message": j.message, "created": j.created_at, "started": j.started_at,
         "finished": j.finished_at, "ran_s": j.run_seconds, "log": j.log, "error": j.error,
         "cancel_requested": j.cancel_requested,
         "progress": (j.result or {}).get("progress") or {}}
        for j in jobs
    ]


def reports(session: Session, kinds: tuple[str, ...] = REPORT_KINDS, limit: int = 20) -> list[dict]:
    """Stored reports, newest first: id, kind, name, dataset, created and the JSON payload."""
    rows = session.scalars(select(Report).where(Report.kind.in_(kinds)).order_by(Report.id.desc()).limit(limit))
    return [{"id": r.id, "kind": r.kind, "name": r.name, "dataset": r.dataset, "created": r.created_at,
             "payload": r.payload or {}} for r in rows]


def system_names(session: Session) -> list[str]:
    """Tagging system names: those of ``SYSTEM_ORDER`` in that order, then the others by creation order."""
    names = list(session.scalars(select(TaggingSystem.name).order_by(TaggingSystem.id)))
    ranked = [n for n in SYSTEM_ORDER if n in names]
    return ranked + [n for n in names if n not in ranked]


def native_tag_choices(session: Session) -> list[str]:
    return sorted(session.scalars(
        select(ItemTag.tag).join(TaggingSystem, TaggingSystem.id == ItemTag.system_id)
        .where(TaggingSystem.name == NATIVE).distinct()))


def _tagged_by(system_name: str, tag: str | None = None):
    stmt = select(ItemTag.item_id).join(TaggingSystem, TaggingSystem.id == ItemTag.system_id).where(
        TaggingSystem.name == system_name)
    return stmt.where(ItemTag.tag == tag) if tag else stmt


def _where(session: Session, f: ItemFilter) -> list:
    clauses = []
    match = text_match(session, f.text)
    if match is not None:
        clauses.append(match)
    if f.native_tag:
        clauses.append(Item.id.in_(_tagged_by(NATIVE, f.native_tag)))
    if f.review_status:
        clauses.append(Item.review_status == f.review_status)
    for name in f.systems:
        clauses.append(Item.id.in_(_tagged_by(name)))
    return clauses


def filtered_select(session: Session, f: ItemFilter) -> Select:
    """``SELECT items.id`` of the items matching ``f`` (a subquery for bulk actions and exports: the ids never
    leave the database)."""
    return select(Item.id).where(*_where(session, f))


def filtered_item_ids(session: Session, f: ItemFilter, limit: int | None = None) -> list[int]:
    """Ids of the items matching ``f``, ascending; the first ``limit`` when given."""
    return list(session.scalars(select(Item.id).where(*_where(session, f)).order_by(Item.id).limit(limit)))


def filtered_count(session: Session, f: ItemFilter) -> int:
    return session.scalar(select(func.count(Item.id)).where(*_where(session, f))) or 0


@dataclass(frozen=True)
class Position:
    """Where an item stands in the filter: its 1-based index (0 when not in it), the total, and its neighbours."""

    index: int
    total: int
    prev_id: int | None
    next_id: int | None


def position(session: Session, f: ItemFilter, item_id: int) -> Position:
    """Prev/next navigation in id order by indexed queries (no list of every matching id)."""
    where = _where(session, f)
    prev_id = session.scalar(select(Item.id).where(*where, Item.id < item_id).order_by(Item.id.desc()).limit(1))
    next_id = session.scalar(select(Item.id).where(*where, Item.id > item_id).order_by(Item.id).limit(1))
    inside = session.scalar(select(Item.id).where(*where, Item.id == item_id))
    index = (session.scalar(select(func.count(Item.id)).where(*where, Item.id <= item_id)) or 0) if inside else 0
    return Position(index, filtered_count(session, f), prev_id, next_id)


def search_items(session: Session, f: ItemFilter, page: int = 1, page_size: int = 25) -> ItemPage:
    """One page of items matching ``f``, with native tags and the systems that tag each item."""
    where = _where(session, f)
    total = session.scalar(select(func.count(Item.id)).where(*where)) or 0
    pages = max(1, -(-total // page_size))
    page = min(max(1, page), pages)
    items = list(session.scalars(
        select(Item).where(*where).order_by(Item.id).offset((page - 1) * page_size).limit(page_size)))
    ids = [i.id for i in items]
    native = item_tags(session, NATIVE, ids) if NATIVE in system_names(session) else {}
    systems: dict[int, list[str]] = {}
    for item_id, name, _id in session.execute(  # the ordering column is selected too (PostgreSQL's DISTINCT rule)
        select(ItemTag.item_id, TaggingSystem.name, TaggingSystem.id)
        .join(TaggingSystem, TaggingSystem.id == ItemTag.system_id)
        .where(ItemTag.item_id.in_(ids)).distinct().order_by(TaggingSystem.id)
    ):
        systems.setdefault(item_id, []).append(name)
    rows = [
        {"id": i.id, "item_id": i.external_id, "title": i.title, "review_status": i.review_status,
         "native_tags": ", ".join(t.tag for t in native.get(i.id, [])), "systems": ", ".join(systems.get(i.id, [])),
         "version": i.review_version}
        for i in items
    ]
    return ItemPage(rows=rows, total=total, page=page, pages=pages)


def item_detail(session: Session, item_id: int) -> ItemDetail:
    item = session.get(Item, item_id)
    if item is None:
        raise NotFoundError(f"item id {item_id} does not exist")
    session.refresh(item)
    tags = {name: item_tags(session, name, [item_id]).get(item_id, []) for name in system_names(session)}
    return ItemDetail(
        id=item.id, external_id=item.external_id, title=item.title, description=item.description,
        metadata=dict(item.metadata_json or {}), review_status=item.review_status,
        review_version=item.review_version,
        interactions=session.scalar(select(func.count(Interaction.id)).where(Interaction.item_id == item_id)) or 0,
        tags=tags,
    )


def item_versions(session: Session, item_ids: list[int]) -> dict[int, int]:
    """Current review_version of each item (read when a bulk form is shown, checked when it is submitted)."""
    return dict(session.execute(select(Item.id, Item.review_version).where(Item.id.in_(item_ids))).all())


def filtered_versions(session: Session, f: ItemFilter, limit: int) -> dict[int, int]:
    """review_version of the first ``limit`` items matching ``f`` (a bulk action's batch), in id order."""
    stmt = select(Item.id, Item.review_version).where(*_where(session, f)).order_by(Item.id).limit(limit)
    return dict(session.execute(stmt).all())


def curated_count(session: Session, f: ItemFilter) -> int:
    """How many curated tags the items matching ``f`` hold (what an export of the filter writes)."""
    curated = session.scalar(select(TaggingSystem.id).where(TaggingSystem.name == CURATED))
    if curated is None:
        return 0
    return session.scalar(select(func.count(ItemTag.id)).where(
        ItemTag.system_id == curated, ItemTag.item_id.in_(filtered_select(session, f)))) or 0


CO_CONSUMED_USERS = 1000  # a popular item's neighbours are counted over its latest consumers only


def co_consumed(session: Session, item_id: int, k: int = 10) -> list[CoItem]:
    """Items most often consumed right before or right after ``item_id`` in users' chronological sequences
    (over the ``CO_CONSUMED_USERS`` users who consumed it last, so a bestseller costs no more than a niche item)."""
    latest = (select(Interaction.user_id).where(Interaction.item_id == item_id)
              .order_by(Interaction.id.desc()).limit(CO_CONSUMED_USERS))
    users = list(dict.fromkeys(session.scalars(latest)))
    seqs = session.execute(
        select(Interaction.user_id, Interaction.item_id).where(Interaction.user_id.in_(users))
        .order_by(Interaction.user_id, Interaction.timestamp, Interaction.position, Interaction.id)
    ).all()
    counts: Counter[int] = Counter()
    for pos, (user, item) in enumerate(seqs):
        if item != item_id:
            continue
        for other in (pos - 1, pos + 1):
            if 0 <= other < len(seqs) and seqs[other][0] == user and seqs[other][1] != item_id:
                counts[seqs[other][1]] += 1
    top = counts.most_common(k)
    info = {i: (e, t) for i, e, t in session.execute(
        select(Item.id, Item.external_id, Item.title).where(Item.id.in_([i for i, _ in top])))}
    return [CoItem(i, info[i][0], info[i][1], n) for i, n in top]


def user_history(session: Session, external_user_id: str) -> list[int]:
    """A user's item ids, oldest first (a user-based retrieval query)."""
    user = session.scalar(select(User.id).where(User.external_id == external_user_id))
    if user is None:
        raise NotFoundError(f"user {external_user_id!r} does not exist")
    return list(session.scalars(select(Interaction.item_id).where(Interaction.user_id == user)
                                .order_by(Interaction.timestamp, Interaction.position, Interaction.id)))


@dataclass(frozen=True)
class QueueEntry:
    item_id: int
    external_id: str
    title: str
    version: int
    pending: list[str]


QUEUE_CHUNK = 200  # items read per step while looking for pending tags
QUEUE_SCAN = 5000  # items looked at, at most, per queue


def review_queue(session: Session, f: ItemFilter, source: str, limit: int = 50) -> list[QueueEntry]:
    """Up to ``limit`` items matching ``f`` whose ``source`` tags are not all decided, in id order.

    Reads the filter's items not yet reviewed a chunk at a time and stops once ``limit`` are found (or after
    ``QUEUE_SCAN`` items), so a 100k-item catalog costs what its first items cost."""
    stmt = (select(Item.id, Item.external_id, Item.title, Item.review_version)
            .where(*_where(session, f), Item.review_status != REVIEWED).order_by(Item.id).limit(QUEUE_CHUNK))
    out: list[QueueEntry] = []
    last, scanned = 0, 0
    while len(out) < limit and scanned < QUEUE_SCAN:
        rows = session.execute(stmt.where(Item.id > last)).all()
        if not rows:
            break
        tagged = item_tags(session, source, [r[0] for r in rows])
        for item_id, external_id, title, version in rows:
            if item_id not in tagged:
                continue
            states = tag_states(session, item_id)
            pending = [t.tag for t in tagged[item_id] if states.get(t.tag) == PENDING]
            if pending:
                out.append(QueueEntry(item_id, external_id, title, version, pending))
                if len(out) >= limit:
                    break
        last, scanned = rows[-1][0], scanned + len(rows)
    return out
