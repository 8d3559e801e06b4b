"""Plumbing shared by the tagging jobs: item selection, batching with checkpoints, beam aggregation."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from betag_engine.catalog.store import all_item_ids, item_tags, user_sequences
from betag_engine.jobs.runner import JobContext
from betag_engine.tagging.sequences import training_sequences


def popular_item_ids(session: Session, n: int | None = None) -> list[int]:
    """Item ids by number of interactions (desc, ties by id); the ``n`` most popular when given."""
    counts: Counter[int] = Counter()
    for seq in user_sequences(session).values():
        counts.update(seq)
    ranked = sorted(counts, key=lambda i: (-counts[i], i))
    return ranked if n is None else ranked[: int(n)]


def select_items(session: Session, params: dict[str, Any]) -> list[int]:
    """The items a job works on: ``params["item_ids"]`` (explicit list), else the ``params["limit"]`` most
    popular items, else every catalog item (ascending id)."""
    ids = params.get("item_ids")
    if ids:
        return [int(i) for i in ids]
    limit = params.get("limit")
    if limit:
        return popular_item_ids(session, int(limit))
    return [int(i) for i in all_item_ids(session)]


def batched(seq: Sequence, size: int) -> Iterable[Sequence]:
    for start in range(0, len(seq), max(1, size)):
        yield seq[start : start + max(1, size)]


def run_item_batches(
    ctx: JobContext,
    item_ids: list[int],
    batch_size: int,
    work: Callable[[Session, list[int]], dict[str, dict] | None],
    label: str,
) -> int:
    """Call ``work(session, batch)`` for each batch of items not yet checkpointed; the batch's results and its
    checkpoints (unit ``item-<id>``) commit together. ``work`` may return per-unit payloads (TagGPT keeps each
    item's raw samples there).

    Returns:
        The number of items processed in this run (items finished in earlier runs are skipped).
    """
    done = ctx.done_units()
    todo = [i for i in item_ids if f"item-{i}" not in done]
    total = len(item_ids)
    ctx.set_total(total, label)
    finished = total - len(todo)
    ctx.progress(finished, f"{label}: {finished}/{total} done before this run")
    for batch in batched(todo, batch_size):
        with ctx.session() as s:
            payloads = work(s, list(batch)) or {}
            ctx.mark_done(s, {f"item-{i}": payloads.get(f"item-{i}") for i in batch})
        finished += len(batch)
        ctx.progress(finished, f"{label}: {finished}/{total}")
    return len(todo)


def aggregate_beams(beams: Iterable[Iterable[str]]) -> dict[str, int]:
    """BETag eqs. 4-5: the item's tag set is the union of the beams' tag sets; each tag's count is the number
    of beams that contain it (a tag repeated within one beam counts once)."""
    counts: Counter[str] = Counter()
    for beam in beams:
        counts.update(set(beam))
    return dict(counts)


@dataclass(frozen=True)
class TrainingData:
    """What the behaviour stages learn from.

    Attributes:
        items: the selected items (``select_items``), in selection order.
        train: user -> training items (the evaluation's leave-one-last training part of the sequences restricted
            to the selection), oldest first, without items that have no base tags.
        tags: item -> its first ``max_tags`` base tags, for every item the base system tags.
    """

    items: list[int]
    train: dict[int, list[int]]
    tags: dict[int, list[str]]


def training_data(session: Session, base_system: str, max_tags: int, item_ids: Sequence[int] | None = None,
                  limit: int | None = None) -> TrainingData:
    """Load the training split of the selection and the base tags (validation/test interactions never enter)."""
    items = select_items(session, {"item_ids": item_ids, "limit": limit})
    tags = {i: [t.tag for t in ts][:max_tags] for i, ts in item_tags(session, base_system).items()}
    train = training_sequences(user_sequences(session), set(items))
    train = {u: [i for i in seq if tags.get(i)] for u, seq in train.items()}
    return TrainingData(items, {u: seq for u, seq in train.items() if seq}, tags)
