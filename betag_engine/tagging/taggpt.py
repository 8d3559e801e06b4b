"""TagGPT baseline -> system ``taggpt``: several high-temperature samples per item, refusals removed, a global
frequency filter (tags seen >= ``min_count`` times), then semantic fusion (cosine > ``fusion_threshold``
merges a tag into the most frequent tag of its cluster).

Job kind "taggpt", parameters :class:`TagGPTParams`. Phase 1 (resumable, unit ``item-<id>``) keeps each item's
sampled tag counts in its checkpoint payload; phase 2 (seconds) filters and fuses over every item and writes the
system in one transaction.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from betag_engine.catalog.store import ensure_system, set_item_tags
from betag_engine.jobs.runner import JobContext
from betag_engine.llm.interface import GenerationConfig
from betag_engine.tagging.common import aggregate_beams, run_item_batches, select_items
from betag_engine.tagging.config import PromptConfig
from betag_engine.tagging.fusion import apply_mapping, frequency_filter, fuse_vocabulary, make_embed
from betag_engine.tagging.item_text import ItemInfo, item_infos
from betag_engine.tagging.params import item_ids_field, limit_field, model_field, prompt_field, with_global_seed
from betag_engine.tagging.parsing import parse_tags
from betag_engine.vocabulary import NATIVE, TAGGPT


@dataclass
class TagGPTParams:
    system: str = field(default=TAGGPT, metadata={"help": "Tagging system written."})
    model: str | None = model_field()
    item_ids: list[int] | None = item_ids_field()
    limit: int | None = limit_field()
    batch_size: int = field(default=4, metadata={"help": "Items per generate call (each with `samples` samples).",
                                                 "min": 1})
    samples: int = field(default=5, metadata={"help": "High-temperature samples per item.", "min": 1, "max": 50})
    temperature: float = field(default=1.0, metadata={"help": "Sampling temperature (> 0).", "above": 0})
    top_k: int = field(default=50, metadata={"help": "Sample among the k most likely tokens (0 = all).", "min": 0})
    max_new_tokens: int = field(default=48, metadata={"help": "Tokens per sample.", "min": 1})
    repetition_penalty: float = field(default=1.1, metadata={"help": "Stops small models looping.", "above": 0})
    max_tags: int = field(default=12, metadata={"help": "Tags kept per sample.", "min": 1})
    min_count: int = field(default=3, metadata={"help": "Global frequency filter: keep tags seen >= this often.",
                                                "min": 1})
    fusion_threshold: float = field(default=0.95, metadata={"help": "Cosine above which tags are fused.",
                                                            "above": 0, "max": 1})
    embedding_model: str = field(default="", metadata={"help": "Sentence-transformers folder for the fusion; "
                                                               "default BETAG_EMBEDDING_MODEL."})
    prompt: dict[str, Any] = prompt_field()
    seed: int | None = field(default=None, metadata={"help": "Sampling seed; null = BETAG_SEED."})

    def __post_init__(self) -> None:
        if self.samples < 1:
            raise ValueError(f"samples must be >= 1, got {self.samples}")
        if self.temperature <= 0:
            raise ValueError(f"temperature must be > 0 (TagGPT samples), got {self.temperature}")
        if not 0 < self.fusion_threshold <= 1:
            raise ValueError(f"fusion_threshold must be in (0, 1], got {self.fusion_threshold}")
        if self.min_count < 1:
            raise ValueError(f"min_count must be >= 1, got {self.min_count}")


def finalize_taggpt(raw: dict[int, dict[str, float]], min_count: int, threshold: float, embed) -> dict[int, dict]:
    """Frequency filter then semantic fusion over the raw per-item sample counts."""
    kept = frequency_filter(raw, min_count)
    frequency: dict[str, float] = {}
    for tags in kept.values():
        for t, c in tags.items():
            frequency[t] = frequency.get(t, 0.0) + c
    mapping = fuse_vocabulary(sorted(frequency), frequency, embed, threshold)
    return apply_mapping(kept, mapping)


def taggpt_job(ctx: JobContext, params: dict) -> dict:
    """Job kind "taggpt"."""
    from betag_engine.tagging.llm_access import open_backend

    p = with_global_seed(TagGPTParams(**params), ctx.settings)
    prompt = PromptConfig.from_dict(p.prompt)
    start = time.perf_counter()
    backend = open_backend(ctx.settings, model=p.model)
    gen = GenerationConfig(max_new_tokens=p.max_new_tokens, temperature=p.temperature, top_k=p.top_k,
                           repetition_penalty=p.repetition_penalty, num_samples=p.samples, seed=p.seed)
    with ctx.session() as s:
        item_ids = select_items(s, params)

    def work(session, batch: list[int]) -> dict[str, dict]:
        infos = item_infos(session, batch, NATIVE)
        outputs = backend.generate([prompt.base_prompt(infos.get(i, ItemInfo(""))) for i in batch], gen)
        return {f"item-{i}": {"tags": aggregate_beams(parse_tags(o, max_tags=p.max_tags) for o in outs)}
                for i, outs in zip(batch, outputs)}

    processed = run_item_batches(ctx, item_ids, p.batch_size, work, "taggpt samples")
    payloads = ctx.unit_payloads()
    raw = {i: dict(payloads.get(f"item-{i}", {}).get("tags", {})) for i in item_ids}
    embed = make_embed(p.embedding_model or ctx.settings.embedding_model)
    final = finalize_taggpt(raw, p.min_count, p.fusion_threshold, embed)
    raw_vocab = {t for tags in raw.values() for t in tags}
    final_vocab = {t for tags in final.values() for t in tags}
    with ctx.session() as s:
        system_params = {"prompt": prompt.to_dict(), **{k: v for k, v in params.items() if k != "prompt"}}
        system = ensure_system(s, p.system, TAGGPT, model=backend.description, params=system_params)
        for item_id, tags in final.items():
            set_item_tags(s, system, item_id, tags)
    seconds = time.perf_counter() - start
    result = {"system": p.system, "model": backend.description, "items": len(item_ids), "processed": processed,
              "raw_distinct_tags": len(raw_vocab), "distinct_tags": len(final_vocab),
              "items_without_tags": sum(1 for t in final.values() if not t), "seconds": round(seconds, 1)}
    ctx.log(f"taggpt: {result}")
    return result
