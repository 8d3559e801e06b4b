"""Leave-one-last split (BETag §4.1): per user, the last item is the test target, the one before validation.

Users with fewer than 3 interactions have no validation and test case (a validation case needs at least one
history item); their whole sequence stays in ``train`` so it still feeds finetuning data and popularity, and
their ids are listed in ``Split.short_users``.

It sits below tagging and evaluation (it imports nothing from the project): finetuning trains on ``Split.train``
and the evaluation tests on the held-out cases of the same split.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

MIN_INTERACTIONS = 3


@dataclass(frozen=True)
class Case:
    """One held-out interaction: ``history`` (oldest first) is everything the user did before ``target``.

    Item-based retrieval queries with ``history[-1]`` (the item just before the target); user-based with the
    whole history.
    """

    user: int
    history: tuple[int, ...]
    target: int

    @property
    def query_item(self) -> int:
        return self.history[-1]


@dataclass(frozen=True)
class Split:
    """train: user -> items (all but the last two; the whole sequence for short users).
    validation / test: one :class:`Case` per user with at least 3 interactions, in user order."""

    train: dict[int, list[int]]
    validation: list[Case]
    test: list[Case]
    short_users: list[int]

    def cases(self, phase: str) -> list[Case]:
        if phase not in ("validation", "test"):
            raise ValueError(f"phase must be one of validation, test, got {phase!r}")
        return self.validation if phase == "validation" else self.test


def leave_one_last(sequences: Mapping[int, list[int]]) -> Split:
    """Split chronological sequences (user -> item ids, oldest first) into train / validation / test.

    Returns:
        A :class:`Split`; validation targets are ``seq[-2]`` with history ``seq[:-2]``, test targets ``seq[-1]``
        with history ``seq[:-1]``.
    """
    train, validation, test, short = {}, [], [], []
    for user in sorted(sequences):
        seq = list(sequences[user])
        if len(seq) < MIN_INTERACTIONS:
            train[user] = seq
            short.append(user)
            continue
        train[user] = seq[:-2]
        validation.append(Case(user, tuple(seq[:-2]), seq[-2]))
        test.append(Case(user, tuple(seq[:-1]), seq[-1]))
    return Split(train, validation, test, short)


def restrict_sequences(sequences: Mapping[int, Iterable[int]], item_ids: Iterable[int]) -> dict[int, list[int]]:
    """Drop interactions with items outside ``item_ids`` (order kept), e.g. to evaluate a system that covers
    only a subset of the catalog; users left with no interaction disappear."""
    keep = {int(i) for i in item_ids}
    out = {}
    for user, seq in sequences.items():
        kept = [i for i in seq if i in keep]
        if kept:
            out[user] = kept
    return out
