"""Read and write tagging systems and behaviour sequences. The only place that queries the tag tables.

What leaves it is plain data (:mod:`betag_engine.types`): tag matrices, tag lists, sequences.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from betag_engine.errors import NotFoundError
from betag_engine.types import TagMatrix, TagScore, matrix_from_triples
from betag_engine.vocabulary import CURATED, SYSTEM_KINDS
from db.models import Interaction, Item, ItemTag, TaggingSystem, utcnow
from db.session import upsert


def get_system(session: Session, name: str) -> TaggingSystem:
    system = session.scalar(select(TaggingSystem).where(TaggingSystem.name == name))
    if system is None:
        known = ", ".join(list_system_names(session)) or "none"
        raise NotFoundError(f"tagging system {name!r} does not exist (known: {known})")
    return system


def list_system_names(session: Session) -> list[str]:
    return list(session.scalars(select(TaggingSystem.name).order_by(TaggingSystem.id)))


def ensure_system(
    session: Session, name: str, kind: str, model: str = "", params: Mapping[str, Any] | None = None
) -> TaggingSystem:
    """Get the system called ``name`` or create it; ``model``/``params`` are updated when given.

    Creating it cannot collide with another writer creating it at the same moment (two reviewers' first decisions,
    an import and a job): the row is inserted unless present, then read. The curated system is the reviewers'
    (``kind`` curated): a job or an import asking for it under another kind is refused, so no generation run or
    import can overwrite a person's decisions."""
    if kind not in SYSTEM_KINDS:
        raise ValueError(f"kind must be one of {', '.join(SYSTEM_KINDS)}, got {kind!r}")
    if name == CURATED and kind != CURATED:
        raise ValueError(f"system {CURATED!r} holds the reviewers' decisions and is written only by them; "
                         "name another system")
    system = session.scalar(select(TaggingSystem).where(TaggingSystem.name == name))
    if system is None:
        now = utcnow()
        session.execute(upsert(session.get_bind().dialect.name, TaggingSystem.__table__).values(
            name=name, kind=kind, model=model, params=dict(params or {}), created_at=now, updated_at=now
        ).on_conflict_do_nothing(index_elements=["name"]))
        system = session.scalar(select(TaggingSystem).where(TaggingSystem.name == name))
    else:
        if model:
            system.model = model
        if params is not None:
            system.params = dict(params)
    return system


def _as_scores(tags: Mapping[str, float] | Iterable[TagScore]) -> list[TagScore]:
    if isinstance(tags, Mapping):
        return [TagScore(t, float(c)) for t, c in tags.items()]
    return list(tags)


def set_item_tags(
    session: Session, system: TaggingSystem, item_id: int, tags: Mapping[str, float] | Iterable[TagScore]
) -> None:
    """Replace the tags of one item in one system (caller normalises tags and commits)."""
    session.execute(delete(ItemTag).where(ItemTag.system_id == system.id, ItemTag.item_id == item_id))
    merged: dict[str, TagScore] = {}
    for ts in _as_scores(tags):
        if not ts.tag:
            continue
        prev = merged.get(ts.tag)
        merged[ts.tag] = ts if prev is None else TagScore(ts.tag, prev.count + ts.count, prev.confidence)
    session.add_all(
        ItemTag(item_id=item_id, system_id=system.id, tag=t.tag, count=t.count, confidence=t.confidence)
        for t in merged.values()
    )
    session.flush()


def set_confidences(session: Session, system: TaggingSystem, item_id: int, confidences: Mapping[str, float]) -> None:
    rows = session.scalars(select(ItemTag).where(ItemTag.system_id == system.id, ItemTag.item_id == item_id))
    for row in rows:
        if row.tag in confidences:
            row.confidence = float(confidences[row.tag])
    session.flush()


def item_tags(
    session: Session, system_name: str, item_ids: Iterable[int] | None = None
) -> dict[int, list[TagScore]]:
    """Tags per item id for one system, each list sorted by count (desc), ties in the order they were stored
    (a generated list keeps the model's order, most salient first, so truncating it keeps the best tags)."""
    system = get_system(session, system_name)
    stmt = select(ItemTag.item_id, ItemTag.tag, ItemTag.count, ItemTag.confidence).where(
        ItemTag.system_id == system.id
    ).order_by(ItemTag.id)
    if item_ids is not None:
        stmt = stmt.where(ItemTag.item_id.in_(list(item_ids)))
    out: dict[int, list[TagScore]] = defaultdict(list)
    for item_id, tag, count, conf in session.execute(stmt):
        out[item_id].append(TagScore(tag, count, conf))
    for tags in out.values():
        tags.sort(key=lambda t: -t.count)  # stable: ties keep the stored order
    return dict(out)


def tagged_item_ids(session: Session, system_name: str) -> set[int]:
    system = get_system(session, system_name)
    return set(session.scalars(select(ItemTag.item_id).where(ItemTag.system_id == system.id).distinct()))


def _plain_rows(session: Session, stmt, batch: int = 50_000) -> Iterator[tuple]:
    """The rows of a SELECT as the driver's plain tuples, fetched ``batch`` at a time: for the few queries that
    read a whole table (100k items, 400k tag rows, 1M interactions), where SQLAlchemy's row objects cost as much
    as the query itself. Only integer parameters taken from the database are rendered into the statement."""
    conn = session.connection()
    sql = str(stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql)
        while rows := cursor.fetchmany(batch):
            yield from rows
    finally:
        cursor.close()


def all_item_ids(session: Session) -> np.ndarray:
    return np.fromiter((r[0] for r in _plain_rows(session, select(Item.id).order_by(Item.id))), dtype=np.int64)


def tag_matrix(session: Session, system_name: str, item_ids: np.ndarray | None = None) -> TagMatrix:
    """Build the item x tag count matrix A (BETag §3.5) of one system over all catalog items."""
    system = get_system(session, system_name)
    ids = all_item_ids(session) if item_ids is None else np.asarray(item_ids, dtype=np.int64)
    rows = _plain_rows(session, select(ItemTag.item_id, ItemTag.tag, ItemTag.count)
                       .where(ItemTag.system_id == int(system.id)))
    return matrix_from_triples(ids, rows)


def user_sequences(session: Session) -> dict[int, list[int]]:
    """Each user's item ids in chronological order (timestamp, then position, then row id)."""
    stmt = select(Interaction.user_id, Interaction.item_id).order_by(
        Interaction.user_id, Interaction.timestamp, Interaction.position, Interaction.id
    )
    out: dict[int, list[int]] = defaultdict(list)
    for user_id, item_id in _plain_rows(session, stmt):
        out[user_id].append(item_id)
    return dict(out)


def interaction_counts(session: Session, item_ids: np.ndarray) -> np.ndarray:
    """Interactions per item, aligned with ``item_ids`` (Popular's scores in the app), counted by the database.

    Returns:
        float64 array of shape (len(item_ids),).
    """
    item_ids = np.asarray(item_ids, dtype=np.int64)
    rows = session.execute(select(Interaction.item_id, func.count()).group_by(Interaction.item_id)).all()
    counts = dict(rows)
    return np.fromiter((counts.get(int(i), 0) for i in item_ids), dtype=np.float64, count=len(item_ids))


@dataclass(frozen=True)
class SystemStats:
    name: str
    kind: str
    model: str
    items_tagged: int
    tag_assignments: int
    distinct_tags: int


def system_stats(session: Session) -> list[SystemStats]:
    """Coverage and size of every tagging system (for the home page and reports)."""
    agg = {
        sid: (n_items, n_rows, n_tags)
        for sid, n_items, n_rows, n_tags in session.execute(
            select(
                ItemTag.system_id,
                func.count(func.distinct(ItemTag.item_id)),
                func.count(ItemTag.id),
                func.count(func.distinct(ItemTag.tag)),
            ).group_by(ItemTag.system_id)
        )
    }
    out = []
    for system in session.scalars(select(TaggingSystem).order_by(TaggingSystem.id)):
        n_items, n_rows, n_tags = agg.get(system.id, (0, 0, 0))
        out.append(SystemStats(system.name, system.kind, system.model, n_items, n_rows, n_tags))
    return out


def item_texts(session: Session, item_ids: Iterable[int] | None = None) -> dict[int, str]:
    """The text an LLM sees for each item: title, then description and year/metadata when present."""
    stmt = select(Item.id, Item.title, Item.description, Item.metadata_json)
    if item_ids is not None:
        stmt = stmt.where(Item.id.in_(list(item_ids)))
    out = {}
    for item_id, title, desc, meta in session.execute(stmt):
        year = (meta or {}).get("year")
        text = f"{title} ({year})" if year and str(year) not in (title or "") else (title or "")
        out[item_id] = f"{text}. {desc}".strip() if desc else text
    return out
