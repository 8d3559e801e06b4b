"""BETag's prompts, with or without behaviour in context (LLM4Tag's recall step on the behaviour graph).

``context="none"`` is the paper's prompt: the instruction and the item's base-tag line. ``context="behaviour"``
also shows, as pairs of lines in the same sequence format, the base tags of the item and of its top training
successors (``behaviour.context_pairs``); an item without behaviour (a cold item) shows its nearest content
neighbours' pairs instead. The finetune job writes its context examples with the same prompter, so a model is
trained on exactly the prompts it answers later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from betag_engine.catalog.store import item_texts
from betag_engine.tagging.behaviour import BehaviourGraph, behaviour_graph, context_pairs
from betag_engine.tagging.common import training_data
from betag_engine.tagging.config import PromptConfig
from betag_engine.tagging.content import ContentNeighbours, neighbour_text
from betag_engine.tagging.fusion import make_embed
from betag_engine.tagging.params import holdout_field

NO_CONTEXT, BEHAVIOUR_CONTEXT = "none", "behaviour"
CONTEXTS = (NO_CONTEXT, BEHAVIOUR_CONTEXT)


@dataclass
class ContextOptions:
    """The behaviour-context parameters shared by the betag job (its prompts) and the finetune job (the prompts
    of its context examples); the job's parameter class inherits them, so both read the same names."""

    context: str = field(default=NO_CONTEXT, metadata={
        "help": "What the prompt shows besides the item's base tags: none (the paper) | behaviour (the base-tag "
                "lines of (item, successor) pairs of the training behaviour graph; items without behaviour show "
                "their content neighbours' pairs: LLM4Tag's recall)."})
    context_pairs: int = field(default=6, metadata={"help": "Pairs shown with context=behaviour.", "min": 0})
    lift_alpha: float = field(default=0.5, metadata={"help": "Successors ranked by count / popularity ** alpha.",
                                                     "min": 0})
    content_neighbours: int = field(default=3, metadata={"help": "Nearest items (text embedding) whose pairs a "
                                                                 "cold item shows (0 = none).", "min": 0})
    embedding_model: str = field(default="", metadata={"help": "Sentence-transformers folder for content "
                                                               "neighbours; default BETAG_EMBEDDING_MODEL."})
    holdout_items: list[int] = holdout_field()

    def check_context(self) -> None:
        if self.context not in CONTEXTS:
            raise ValueError(f"context must be one of {', '.join(CONTEXTS)}, got {self.context!r}")
        for name in ("context_pairs", "content_neighbours"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")


class Prompter:
    """Writes each item's BETag prompt: the paper's (base tags only) or with behaviour in context."""

    def __init__(self, prompt: PromptConfig, p: Any, base: dict[int, list[str]],
                 graph: BehaviourGraph | None = None, neighbours=None):
        self.prompt, self.p, self.base, self.graph, self.neighbours = prompt, p, base, graph, neighbours

    def pairs(self, item: int, as_cold: bool = False) -> list[tuple[int, int]]:
        """The (source, successor) pairs shown for ``item`` (none without behaviour context)."""
        if self.graph is None:
            return []
        found = context_pairs(self.graph, item, self.p.context_pairs, self.p.lift_alpha, self.neighbours,
                              self.p.content_neighbours, as_cold=as_cold)
        return [(a, b) for a, b in found if self.base.get(a) and self.base.get(b)]

    def __call__(self, item: int, as_cold: bool = False) -> str:
        if self.graph is None:
            return self.prompt.betag_prompt(self.base[item])
        lines = [(self.base[a], self.base[b]) for a, b in self.pairs(item, as_cold)]
        return self.prompt.context_prompt(self.base[item], lines)


def behaviour_prompter(session: Session, settings, prompt: PromptConfig, p: Any,
                       base: dict[int, list[str]], cold_examples: bool = False) -> Prompter:
    """The prompter of a job; with behaviour context it loads the training split (without held-out items), and
    content neighbours when a selected item lacks behaviour or ``cold_examples`` asks for cold-style prompts."""
    if p.context == NO_CONTEXT:
        return Prompter(prompt, p, base)
    data = training_data(session, p.base_system, p.max_tags_per_item, item_ids=p.item_ids, limit=p.limit)
    graph = behaviour_graph(data.train, p.holdout_items)
    neighbours = None
    if p.content_neighbours and (cold_examples or any(not graph.has_behaviour(i) for i in data.items)):
        texts = item_texts(session, data.items)
        embed = make_embed(p.embedding_model or settings.embedding_model)
        neighbours = ContentNeighbours({i: neighbour_text(texts.get(i, ""), base.get(i, [])) for i in data.items},
                                       [i for i in data.items if graph.has_behaviour(i)], embed)
    return Prompter(prompt, p, base, graph, neighbours)
