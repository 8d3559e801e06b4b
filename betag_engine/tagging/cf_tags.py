"""cf-tags: behaviour-propagated tags, the non-LLM behaviour baseline (``behaviour.cf_tags``) -> system ``cf-tags``.

Each item gets its base tags (beam 0) and the base tags of its ``m`` top-ranked training successors, counted over
lines (eqs. 4-5). It needs no model, only the training split, and it is what perfect BETag finetuning would
produce from the same base tags; Table 2 reports it so that BETag is measured against the behaviour signal itself.
Items without behaviour (and the held-out cold items of an evaluation) keep their base tags.

Job kind "cf-tags", parameters :class:`CfTagsParams`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from betag_engine.catalog.store import ensure_system, set_item_tags
from betag_engine.jobs.runner import JobContext
from betag_engine.tagging.behaviour import behaviour_graph, cf_tags
from betag_engine.tagging.common import training_data
from betag_engine.tagging.params import holdout_field, item_ids_field, limit_field
from betag_engine.vocabulary import BASE, CF_TAGS


@dataclass
class CfTagsParams:
    system: str = field(default=CF_TAGS, metadata={"help": "Tagging system written."})
    base_system: str = field(default=BASE, metadata={"help": "Tagging system whose lines are propagated."})
    m: int = field(default=8, metadata={"help": "Training successors per item (as BETag's beams)."})
    lift_alpha: float = field(default=0.0, metadata={"help": "Rank successors by count / popularity ** alpha "
                                                             "(0 = raw counts)."})
    max_tags_per_item: int = field(default=8, metadata={"help": "Base tags per line."})
    item_ids: list[int] | None = item_ids_field()
    limit: int | None = limit_field()
    holdout_items: list[int] = holdout_field()

    def __post_init__(self) -> None:
        if self.m < 0:
            raise ValueError(f"m must be >= 0, got {self.m}")
        if self.max_tags_per_item < 1:
            raise ValueError(f"max_tags_per_item must be >= 1, got {self.max_tags_per_item}")


def cf_tags_job(ctx: JobContext, params: dict) -> dict:
    """Job kind "cf-tags": write every selected item's behaviour-propagated tags in one unit of work."""
    p = CfTagsParams(**params)
    start = time.perf_counter()
    with ctx.session() as s:
        data = training_data(s, p.base_system, p.max_tags_per_item, item_ids=p.item_ids, limit=p.limit)
        graph = behaviour_graph(data.train, p.holdout_items)
        tags = cf_tags(graph, data.tags, data.items, p.m, p.lift_alpha)
        system = ensure_system(s, p.system, CF_TAGS, model="behaviour graph (no LLM)", params=params)
        for item_id, item_tags in tags.items():
            if item_tags:
                set_item_tags(s, system, item_id, item_tags)
    with_behaviour = sum(graph.has_behaviour(i) for i in data.items)
    result = {"system": p.system, "items": len(data.items), "items_with_behaviour": with_behaviour,
              "holdout_items": len(graph.holdout), "seconds": round(time.perf_counter() - start, 2)}
    ctx.log(f"cf-tags: {result}")
    return result
