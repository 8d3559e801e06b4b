"""Tag confidence (LLM4Tag §3.4): P(Yes) / (P(Yes) + P(No)) under a judging prompt, for every (item, tag) of
one system, stored with ``set_confidences``.

Job kind "confidence", parameters :class:`ConfidenceParams`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from betag_engine.catalog.store import get_system, item_tags, set_confidences
from betag_engine.jobs.runner import JobContext
from betag_engine.llm.interface import LLMBackend
from betag_engine.tagging.common import run_item_batches, select_items
from betag_engine.tagging.config import PromptConfig
from betag_engine.tagging.item_text import ItemInfo, item_infos
from betag_engine.tagging.params import item_ids_field, limit_field, model_field
from betag_engine.vocabulary import NATIVE


@dataclass
class ConfidenceParams:
    system: str = field(default="", metadata={"help": "Tagging system whose tags are scored (required)."})
    model: str | None = model_field()
    item_ids: list[int] | None = item_ids_field()
    limit: int | None = limit_field()
    batch_size: int = field(default=8, metadata={"help": "Items per committed batch.", "min": 1})
    prompt: dict[str, Any] | None = field(default=None, metadata={"help": "PromptConfig fields (judge_template, "
                                                                          "yes, no)."})

    def __post_init__(self) -> None:
        if not self.system:
            raise ValueError("confidence job needs params['system'] (the tagging system to score)")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")


def yes_probability(log_yes: float, log_no: float) -> float:
    """P(Yes)/(P(Yes)+P(No)) from the two answers' log-probabilities (a logistic of their difference)."""
    diff = log_yes - log_no
    if diff >= 0:
        return 1.0 / (1.0 + math.exp(-diff))
    e = math.exp(diff)
    return e / (1.0 + e)


def tag_confidences(backend: LLMBackend, pairs: list[tuple[ItemInfo, str]], prompt: PromptConfig) -> list[float]:
    """Confidence of each (item, tag) pair."""
    if not pairs:
        return []
    prompts = [prompt.judge_prompt(info, tag) for info, tag in pairs]
    scores = backend.score(prompts + prompts, [prompt.yes] * len(prompts) + [prompt.no] * len(prompts))
    n = len(prompts)
    return [yes_probability(scores[k], scores[n + k]) for k in range(n)]


def confidence_job(ctx: JobContext, params: dict) -> dict:
    """Job kind "confidence"."""
    from betag_engine.tagging.llm_access import open_backend

    p = ConfidenceParams(**params)
    name = p.system
    prompt = PromptConfig.from_dict(p.prompt)
    start = time.perf_counter()
    backend = open_backend(ctx.settings, model=p.model)
    with ctx.session() as s:
        get_system(s, name)
        tags = item_tags(s, name)
        item_ids = [i for i in select_items(s, params) if tags.get(i)]
    scored = 0

    def work(session, batch: list[int]) -> None:
        nonlocal scored
        infos = item_infos(session, batch, NATIVE)
        pairs = [(i, t.tag) for i in batch for t in tags[i]]
        conf = tag_confidences(backend, [(infos.get(i, ItemInfo("")), t) for i, t in pairs], prompt)
        system = get_system(session, name)
        for item_id in batch:
            set_confidences(session, system, item_id, {t: c for (i, t), c in zip(pairs, conf) if i == item_id})
        scored += len(pairs)

    processed = run_item_batches(ctx, item_ids, p.batch_size, work, f"confidence {name}")
    return {"system": name, "model": backend.description, "items": len(item_ids), "processed": processed,
            "pairs_scored": scored, "seconds": round(time.perf_counter() - start, 1)}
