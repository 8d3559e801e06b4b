"""BETag tag generation (§3.4) -> system ``betag`` (and ablation / beam-sweep systems).

For each item the prompt is the static instruction, the item's base tags as line 1, and an open line 2; ``m``
completions are decoded (each cut at the newline), parsed, and counted over beams (eqs. 4-5: union of the
beams' tags, count = number of beams containing the tag). Items are batched, and each item's ``m`` beams
share one prefilled prompt in the backend.

Decoding defaults to the authors' released configuration: diverse beam search with one beam per group
(greedy, Hamming diversity penalty 1.0), so beam j avoids the tokens beams < j chose at the same step, and the
item's base tags count as beam 0. ``diverse_beams=false`` with a temperature gives i.i.d. sampling instead.

Job kind "betag", parameters :class:`BetagParams`. With ``sweep``, each listed beam count m is also written as
system ``<sweep_prefix><m>`` from the first m beams of the same run (beam j of a diverse run depends only on
beams < j, and i.i.d. samples are exchangeable, so the first m beams are exactly a run with m).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from betag_engine.catalog.store import ensure_system, item_tags, set_item_tags
from betag_engine.jobs.runner import JobContext
from betag_engine.llm.interface import GenerationConfig, LLMBackend
from betag_engine.tagging.common import aggregate_beams, run_item_batches, select_items
from betag_engine.tagging.config import PromptConfig, tag_line
from betag_engine.tagging.context import ContextOptions, behaviour_prompter
from betag_engine.tagging.finetune import adapter_dir
from betag_engine.tagging.params import item_ids_field, limit_field, model_field, with_global_seed
from betag_engine.tagging.parsing import parse_tags
from betag_engine.vocabulary import BASE, BEAM_SWEEP_PREFIX, BETAG, DEFAULT_ADAPTER

FREE, CONTEXT_LINES, CATALOG = "free", "context", "catalog"
VOCABULARIES = (FREE, CONTEXT_LINES, CATALOG)


@dataclass
class BetagParams(ContextOptions):
    system: str = field(default=BETAG, metadata={"help": "Tagging system written."})
    adapter: str | None = field(default=DEFAULT_ADAPTER, metadata={"help": "Adapter name; null = base model (no FT)."})
    m: int = field(default=10, metadata={"help": "Beams (samples) per item.", "min": 1, "max": 50})
    sweep: list[int] = field(default_factory=list, metadata={"help": "Also write systems for these beam counts."})
    sweep_prefix: str = field(default=BEAM_SWEEP_PREFIX, metadata={"help": "Name prefix of the sweep's systems."})
    temperature: float = field(default=0.0, metadata={"help": "0 = greedy within each beam group.", "min": 0})
    top_k: int = field(default=0, metadata={"help": "Sampling: the k most likely tokens (0 = all).", "min": 0})
    top_p: float = field(default=1.0, metadata={"help": "Sampling: nucleus probability mass.", "above": 0, "max": 1})
    vocabulary: str = field(default=FREE, metadata={
        "help": "What a beam may be: free (any text) | context (one of the successor lines the prompt shows; "
                "free where it shows none) | catalog (the base-tag line of any selected item)."})
    diverse_beams: bool = field(default=True, metadata={"help": "Diverse beams (the authors' code) vs sampling."})
    diversity_penalty: float = field(default=1.0, metadata={"help": "Hamming penalty between beam groups.", "min": 0})
    max_new_tokens: int = field(default=40, metadata={"help": "Tokens per beam (each stops at a newline).", "min": 1})
    repetition_penalty: float = field(default=1.0, metadata={"help": "1.0 = none.", "above": 0})
    include_base: bool = field(default=True, metadata={"help": "Count the base tags as one more beam."})
    base_system: str = field(default=BASE, metadata={"help": "Tagging system of the prompt's tag line."})
    max_tags_per_item: int = field(default=8, metadata={"help": "Base tags in the prompt's line.", "min": 1})
    max_tags: int = field(default=12, metadata={"help": "Tags kept per beam.", "min": 1})
    item_ids: list[int] | None = item_ids_field()
    limit: int | None = limit_field()
    batch_size: int = field(default=4, metadata={"help": "Items per generate call and committed batch.", "min": 1})
    model: str | None = model_field()
    prompt: dict[str, Any] | None = field(default=None, metadata={"help": "PromptConfig fields; null = the "
                                                                          "adapter's training prompt."})
    seed: int | None = field(default=None, metadata={"help": "Sampling seed; null = BETAG_SEED."})
    def __post_init__(self) -> None:
        if self.m < 1:
            raise ValueError(f"m must be >= 1, got {self.m}")
        self.check_context()
        if self.vocabulary not in VOCABULARIES:
            raise ValueError(f"vocabulary must be one of {', '.join(VOCABULARIES)}, got {self.vocabulary!r}")
        bad = [s for s in self.sweep if not 1 <= int(s) <= self.m]
        if bad:
            raise ValueError(f"sweep values must be between 1 and m={self.m}, got {bad}")

    def sweep_system(self, m: int) -> str:
        """The system of the beam sweep's first ``m`` beams."""
        return f"{self.sweep_prefix}{int(m)}"

    def written_systems(self) -> dict[str, int]:
        """Every system this job writes -> the beams it counts: ``system`` (m) and the sweep's."""
        return {self.system: self.m, **{self.sweep_system(m): int(m) for m in self.sweep}}


def sample_beams(backend: LLMBackend, prompts: list[str], p: BetagParams,
                 allowed: list[list[str] | None] | None = None) -> list:
    """For each prompt, ``p.m`` parsed beams (each a list of tags); ``allowed``: the lines each prompt's beams
    must be (None: free text)."""
    config = GenerationConfig(max_new_tokens=p.max_new_tokens, temperature=p.temperature, top_k=p.top_k,
                              top_p=p.top_p, repetition_penalty=p.repetition_penalty, num_samples=p.m,
                              diverse_beams=p.diverse_beams, diversity_penalty=p.diversity_penalty, seed=p.seed)
    outputs = backend.generate(prompts, config, allowed) if allowed is not None else backend.generate(prompts, config)
    return [[parse_tags(o, max_tags=p.max_tags) for o in outs] for outs in outputs]


class BeamVocabulary:
    """The lines each item's beams may be (``BetagParams.vocabulary``)."""

    def __init__(self, kind: str, catalog_lines: list[str], base: dict[int, list[str]]):
        self.kind, self.catalog, self.base = kind, sorted(set(catalog_lines)), base

    def allowed(self, batch: list[int], prompter) -> list[list[str] | None] | None:
        if self.kind == FREE:
            return None
        if self.kind == CATALOG:
            return [self.catalog for _ in batch]
        shown = [[tag_line(self.base[b]) for _, b in prompter.pairs(i)] for i in batch]
        return [lines or None for lines in shown]


def _prompt_for(p: BetagParams, adapter_path) -> PromptConfig:
    if p.prompt is not None:
        return PromptConfig.from_dict(p.prompt)
    if adapter_path is not None and (adapter_path / "training.json").is_file():
        return PromptConfig.from_dict(json.loads((adapter_path / "training.json").read_text())["prompt"])
    return PromptConfig()


def betag_job(ctx: JobContext, params: dict) -> dict:
    """Job kind "betag"."""
    from betag_engine.tagging.llm_access import open_backend

    p = with_global_seed(BetagParams(**params), ctx.settings)
    start = time.perf_counter()
    path = None
    if p.adapter:
        path = adapter_dir(p.adapter, ctx.settings.model_cache_dir)
        if not (path / "adapter_config.json").is_file():
            raise ValueError(f"adapter {p.adapter!r} not found at {path}; run the finetune job first")
    prompt = _prompt_for(p, path)
    systems = p.written_systems()
    with ctx.session() as s:
        base = {i: [t.tag for t in ts][: p.max_tags_per_item] for i, ts in item_tags(s, p.base_system).items()}
        item_ids = [i for i in select_items(s, params) if base.get(i)]
        prompter = behaviour_prompter(s, ctx.settings, prompt, p, base)
        lines = BeamVocabulary(p.vocabulary, [tag_line(base[i]) for i in item_ids], base)
    # the output layer of the catalog's tag lines: an adapter's own (trained with it), else built from the lines
    backend = open_backend(ctx.settings, model=p.model, adapter=path, head_lines=lines.catalog)
    with ctx.session() as s:
        for name, m in systems.items():
            ensure_system(s, name, BETAG, model=backend.description,
                          params={**params, "m": m, "beams_from_run_of": p.m, "prompt": prompt.to_dict()})

    def work(session, batch: list[int]) -> dict[str, dict]:
        beams = sample_beams(backend, [prompter(i) for i in batch], p, lines.allowed(batch, prompter))
        handles = {name: ensure_system(session, name, BETAG) for name in systems}
        for item_id, item_beams in zip(batch, beams):
            first = [base[item_id]] if p.include_base else []
            for name, m in systems.items():
                set_item_tags(session, handles[name], item_id, aggregate_beams(first + item_beams[:m]))
        return {f"item-{i}": {"beams": b, "context": prompter.pairs(i)} for i, b in zip(batch, beams)}

    processed = run_item_batches(ctx, item_ids, p.batch_size, work, f"betag {p.system}")
    seconds = time.perf_counter() - start
    result = {"systems": systems, "model": backend.description, "items": len(item_ids), "processed": processed,
              "seconds": round(seconds, 1)}
    ctx.log(f"betag: {result}")
    return result
