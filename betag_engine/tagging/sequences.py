"""Behaviour sequences as BETag finetuning texts (§3.3, Figure 2), from the training split only."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from betag_engine.split import leave_one_last, restrict_sequences
from betag_engine.tagging.config import tag_line


def training_sequences(
    sequences: Mapping[int, Sequence[int]], item_ids: Iterable[int] | None = None
) -> dict[int, list[int]]:
    """Each user's training part under the evaluation's leave-one-last split (validation and test removed).

    With ``item_ids`` the sequences are first restricted to that pool, exactly as the evaluation does for a
    subset, and split afterwards: splitting first would let a subset's held-out items into training windows.
    """

    seqs = dict(sequences) if item_ids is None else restrict_sequences(sequences, item_ids)
    return {u: list(seq) for u, seq in leave_one_last(seqs).train.items()}


def crop_window(sequence: Sequence, max_len: int, rng: random.Random) -> list:
    """A random run of ``min(len(sequence), max_len)`` consecutive elements (uniform start)."""
    if max_len < 1:
        raise ValueError(f"window must be >= 1, got {max_len}")
    n = min(len(sequence), max_len)
    start = rng.randint(0, len(sequence) - n)
    return list(sequence[start : start + n])


@dataclass(frozen=True)
class Example:
    """One finetuning text: the static instruction (no loss) and one tag line per item (loss)."""

    user_id: int
    item_ids: tuple[int, ...]
    prefix: str
    body: str


def build_examples(
    train: Mapping[int, Sequence[int]],
    tags: Mapping[int, list[str]],
    instruction: str,
    window: int,
    rng: random.Random,
    min_items: int = 2,
) -> list[Example]:
    """Crop one window per user (re-drawn every epoch by passing a fresh ``rng``) and write it as text.

    Items without tags are dropped from the sequence first; users with fewer than ``min_items`` tagged
    items are skipped.
    """
    out = []
    for user_id in sorted(train):
        seq = [i for i in train[user_id] if tags.get(i)]
        if len(seq) < min_items:
            continue
        items = crop_window(seq, window, rng)
        body = "".join(tag_line(tags[i]) + "\n" for i in items)
        out.append(Example(user_id, tuple(items), instruction + "\n", body))
    return out


def data_hash(train: Mapping[int, Sequence[int]], tags: Mapping[int, list[str]], extra: Mapping) -> str:
    """A hash of everything the training texts depend on (sequences, tags, instruction, window, seed)."""
    h = hashlib.sha256()
    h.update(json.dumps(extra, sort_keys=True, default=str).encode())
    for user_id in sorted(train):
        h.update(json.dumps([user_id, [[i, tags.get(i, [])] for i in train[user_id]]]).encode())
    return h.hexdigest()[:16]


def build_context_examples(
    train: Mapping[int, Sequence[int]],
    tags: Mapping[int, list[str]],
    prompt_for: Callable[[int, bool], str],
    n: int,
    cold_rate: float,
    rng: random.Random,
) -> list[Example]:
    """Examples that teach the model to use behaviour shown in its prompt (BETag with behaviour context).

    ``n`` transitions (i -> j) are drawn uniformly from the training sequences (so pairs that users repeat are
    drawn more often); each example's prefix is ``prompt_for(i, as_cold)``, the prompt BETag writes for item i at
    inference, and its body (the loss) is item j's tag line. A ``cold_rate`` share of the examples shows item i
    as a cold item would be shown (its content neighbours' pairs instead of its own), so the model also learns
    to answer for items without behaviour.
    """
    transitions = [(a, b) for seq in train.values() for a, b in zip(seq, seq[1:]) if tags.get(a) and tags.get(b)]
    if not transitions:
        return []
    chosen = [transitions[rng.randrange(len(transitions))] for _ in range(n)]
    return [Example(-1, (a, b), prompt_for(a, rng.random() < cold_rate), tag_line(tags[b]) + "\n") for a, b in chosen]


def length_batches(examples: list[Example], batch_size: int, rng: random.Random, pool: int = 16) -> list[list[Example]]:
    """Batches of examples of similar length, so a step pads little (finetuning's length bucketing).

    The (already shuffled) examples are cut into pools of ``pool`` batches; each pool is sorted by text length and
    cut into batches, and the batches of all pools are shuffled, so the order stays random while every batch
    holds neighbours in length.
    """
    size = max(1, batch_size)
    batches: list[list[Example]] = []
    for start in range(0, len(examples), size * pool):
        chunk = sorted(examples[start : start + size * pool], key=lambda e: len(e.prefix) + len(e.body))
        batches.extend(chunk[k : k + size] for k in range(0, len(chunk), size))
    rng.shuffle(batches)
    return batches
