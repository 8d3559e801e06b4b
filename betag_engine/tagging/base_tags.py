"""Base tags (BETag §3.2, eq. 1): one prompt per item, greedy, parsed into normalised tags -> system ``base``.

Job kind "base-tags"; its parameters are :class:`BaseTagParams` (docs/JOBS.md).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from betag_engine.catalog.store import ensure_system, set_item_tags
from betag_engine.jobs.runner import JobContext
from betag_engine.llm.interface import GenerationConfig, LLMBackend
from betag_engine.tagging.common import run_item_batches, select_items
from betag_engine.tagging.config import PromptConfig
from betag_engine.tagging.item_text import ItemInfo, item_infos
from betag_engine.tagging.params import item_ids_field, limit_field, model_field, prompt_field
from betag_engine.tagging.parsing import parse_tags
from betag_engine.vocabulary import BASE, NATIVE


@dataclass
class BaseTagParams:
    system: str = field(default=BASE, metadata={"help": "Tagging system written."})
    model: str | None = model_field()
    item_ids: list[int] | None = item_ids_field()
    limit: int | None = limit_field()
    batch_size: int = field(default=8, metadata={"help": "Prompts per generate call / committed batch.", "min": 1})
    max_new_tokens: int = field(default=48, metadata={"help": "Tokens per completion.", "min": 1})
    repetition_penalty: float = field(default=1.15, metadata={"help": "Stops small models looping.", "above": 0})
    max_tags: int = field(default=12, metadata={"help": "Tags kept per item.", "min": 1})
    prompt: dict[str, Any] = prompt_field()

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.max_tags < 1:
            raise ValueError(f"max_tags must be >= 1, got {self.max_tags}")


def generate_base_tags(
    backend: LLMBackend, items: list[ItemInfo], prompt: PromptConfig, params: BaseTagParams
) -> list[list[str]]:
    """Base tags of each item text (greedy, one completion each). Returns one tag list per text."""
    config = GenerationConfig(
        max_new_tokens=params.max_new_tokens, temperature=0.0, repetition_penalty=params.repetition_penalty
    )
    outputs = backend.generate([prompt.base_prompt(info) for info in items], config)
    return [parse_tags(out[0] if out else "", max_tags=params.max_tags) for out in outputs]


def base_tags_job(ctx: JobContext, params: dict) -> dict:
    """Job kind "base-tags": tag items with their base tags, committed per batch (resumable)."""
    from betag_engine.tagging.llm_access import open_backend

    p = BaseTagParams(**params)
    prompt = PromptConfig.from_dict(p.prompt)
    start = time.perf_counter()
    backend = open_backend(ctx.settings, model=p.model)
    system_params = {"prompt": prompt.to_dict(), **{k: v for k, v in params.items() if k != "prompt"}}
    with ctx.session() as s:
        ensure_system(s, p.system, BASE, model=backend.description, params=system_params)
        item_ids = select_items(s, params)
    empty = 0

    def work(session, batch: list[int]) -> None:
        nonlocal empty
        infos = item_infos(session, batch, NATIVE)
        system = ensure_system(session, p.system, BASE)
        tags = generate_base_tags(backend, [infos.get(i, ItemInfo("")) for i in batch], prompt, p)
        for item_id, item_tags in zip(batch, tags):
            empty += not item_tags
            set_item_tags(session, system, item_id, {t: 1.0 for t in item_tags})

    processed = run_item_batches(ctx, item_ids, p.batch_size, work, "base tags")
    seconds = time.perf_counter() - start
    ctx.log(f"base tags: {processed} items in {seconds:.1f} s, {empty} without tags")
    return {"system": p.system, "model": backend.description, "items": len(item_ids), "processed": processed,
            "empty": empty, "seconds": round(seconds, 1)}
