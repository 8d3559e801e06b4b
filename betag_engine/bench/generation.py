"""``python -m betag_engine bench generation``: LLM tagging throughput on this machine, as ratios to baselines.

Workloads (MovieLens-100k titles, few-shot tag prompt, newline-stopped completions):
  base tags   greedy; baseline: batch 1; levers: batching, ASCII-restricted output head, 1 vs 2 threads
  BETag beams m sampled completions per item; baseline: ``model.generate(num_return_sequences=m)``;
              lever: prefill once and repeat the KV cache (what ``TransformersBackend`` does)
  prefix,     the pipeline's levers on its own prompts (``bench.levers``): the shared few-shot prefix prefilled
  line head,  once; BETag without finetuning through the catalog lines' output rows with beams = shown lines;
  jump        those beams with a beam's only possible line written out at once instead of step by step
  2 stages    two generation stages one after the other vs as two 1-thread processes at once (``bench.concurrency``)
  2 finetunes the pipeline's two finetuning stages (r=16 q,v and the paper's r=64), the same comparison
  LoRA        r=16 on q_proj, v_proj, ~200-token behaviour lines, batch 4: s/step and tokens/s with the full
              output layer (baseline) vs the head restricted to the lines' tokens (finetune's head "tags"), and
              that head over bf16 base weights where the CPU has native bf16 (``llm_training_dtype``), and the
              paper's r=64 on every projection (the full profile's ``finetune-paper``), fp32 and bf16; then
              generation with the adapter unmerged (baseline) vs merged
"""

from __future__ import annotations

import random
import shutil
import tempfile
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from betag_engine.experiments.profiles import PAPER_LORA_MODULES
from betag_engine.llm.interface import GenerationConfig
from betag_engine.vocabulary import DEFAULT_DATASET

DEFAULTS = {"items": 6, "beams": 4, "batch_size": 8, "max_new_tokens": 32, "lora_steps": 3}
_EXAMPLES = (  # out of the movie domain on purpose: few-shot tags leak into outputs
    ("Pride and Prejudice (1813)", "romance, classic novel, england, marriage, witty"),
    ("Bohemian Rhapsody (1975)", "rock, opera style, queen, epic, seventies"),
)


@dataclass
class Figure:
    group: str
    label: str
    value: float
    unit: str
    baseline: float | None = None  # same-unit baseline value; ratio printed as speed-up

    def line(self) -> str:
        ratio = ""
        if self.baseline:
            speedup = self.value / self.baseline if self.unit.endswith("/s") else self.baseline / self.value
            ratio = f"{speedup:6.2f}x"
        return f"{self.group:<11} {self.label:<52} {self.value:10.3f} {self.unit:<9} {ratio}"


def _titles(n: int) -> list[str]:
    from betag_engine.catalog.movielens import load_frames

    items, _ = load_frames(DEFAULT_DATASET)
    return [f"{t} ({y})" if y else t for t, y in zip(items.title[:n], items.year[:n])]


def tag_prompt(backend, title: str) -> str:
    """A few-shot tag prompt: raw completion for base models, chat turns for instruct models."""
    if backend.is_chat_model:
        messages = [{"role": "system", "content": "Write 5 to 8 short descriptive tags for the item, comma-separated."}]
        for item, tags in _EXAMPLES:
            messages += [{"role": "user", "content": f"Item: {item}"}, {"role": "assistant", "content": tags}]
        messages.append({"role": "user", "content": f"Item: {title}"})
        return backend.format_chat(messages)
    lines = ["Tags for books and songs, as comma-separated keywords."]
    lines += [f"Item: {item}\nTags: {tags}" for item, tags in _EXAMPLES]
    return "\n".join(lines) + f"\nItem: {title}\nTags:"


def _timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def _bench_base(loaded, prompts, batch, max_new, figures) -> None:
    import torch

    from betag_engine.llm.transformers_backend import TransformersBackend

    n = len(prompts)
    config = GenerationConfig(max_new_tokens=max_new, repetition_penalty=1.15)
    for restriction in ("none", "ascii"):
        TransformersBackend(loaded, vocab_restriction=restriction)._tables()  # one-time token tables, not timed
    single = TransformersBackend(loaded, batch_size=1)
    ref, t1 = _timed(lambda: single.generate(prompts, config))
    figures.append(Figure("base tags", "greedy, batch 1 (baseline)", n / t1, "items/s"))
    batched = TransformersBackend(loaded, batch_size=batch)
    out, tb = _timed(lambda: batched.generate(prompts, config))
    figures.append(Figure("base tags", f"greedy, batch {batch}", n / tb, "items/s", n / t1))
    ascii_backend = TransformersBackend(loaded, batch_size=batch, vocab_restriction="ascii")
    out_ascii, ta = _timed(lambda: ascii_backend.generate(prompts, config))
    same = sum(a == b for a, b in zip(out, out_ascii))
    figures.append(
        Figure("base tags", f"greedy, batch {batch}, ascii head ({same}/{n} identical)", n / ta, "items/s", n / t1)
    )
    threads = torch.get_num_threads()
    for count in sorted({1, 2} - {threads}):
        torch.set_num_threads(count)
        _, tt = _timed(lambda: ascii_backend.generate(prompts, config))
        figures.append(
            Figure("base tags", f"greedy, batch {batch}, ascii head, {count} thread(s)", n / tt, "items/s", n / t1)
        )
    torch.set_num_threads(threads)
    figures.append(
        Figure(
            "base tags",
            f"(default run above used {threads} thread(s); batch-1 == batched: "
            f"{sum(a == b for a, b in zip(ref, out))}/{n})",
            0.0,
            "-",
        )
    )


def _hf_samples(loaded, prompts, m, max_new, seed) -> None:
    """Baseline: transformers' own sampling, which re-processes the prompt once per returned sequence."""
    import torch

    tok, model = loaded.tokenizer, loaded.model
    torch.manual_seed(seed)
    enc = tok(prompts, return_tensors="pt", padding=True).to(loaded.device)
    with torch.inference_mode():
        model.generate(
            **enc,
            do_sample=True,
            temperature=0.8,
            num_return_sequences=m,
            max_new_tokens=max_new,
            repetition_penalty=1.15,
            stop_strings=["\n"],
            tokenizer=tok,
            pad_token_id=tok.pad_token_id,
        )


def _bench_beams(loaded, prompts, m, batch, max_new, figures) -> None:
    from betag_engine.llm.transformers_backend import TransformersBackend

    n = len(prompts)
    per_call = max(1, batch // m)
    _, th = _timed(
        lambda: [_hf_samples(loaded, prompts[i : i + per_call], m, max_new, 1) for i in range(0, n, per_call)]
    )
    figures.append(Figure("BETag beams", f"m={m}, generate(num_return_sequences) (baseline)", n / th, "items/s"))
    config = GenerationConfig(max_new_tokens=max_new, temperature=0.8, num_samples=m, repetition_penalty=1.15, seed=1)
    for restriction in ("none", "ascii"):
        backend = TransformersBackend(loaded, batch_size=batch, vocab_restriction=restriction)
        _, tp = _timed(lambda b=backend: b.generate(prompts, config))
        figures.append(
            Figure(
                "BETag beams", f"m={m}, prefill once + repeated cache, {restriction} head", n / tp, "items/s", n / th
            )
        )


def _behaviour_texts(count: int, seed: int) -> list[str]:
    """BETag-style training lines: one user's items, one line of native tags each (~200 tokens)."""
    from betag_engine.catalog.movielens import load_frames

    items, inter = load_frames(DEFAULT_DATASET)
    tags = dict(zip(items.item_id, items.tags.str.replace("|", ", ")))
    titles = dict(zip(items.item_id, items.title))
    rng = random.Random(seed)
    users = inter.groupby("user_id").item_id.apply(list)
    texts = []
    for user in rng.sample(sorted(users.index), count):
        seq = users[user][:15]
        texts.append("Items a user watched, in order.\n" + "\n".join(f"{titles[i]}: {tags[i]}" for i in seq))
    return texts


def _lora_steps(loss_fn, optim, batches) -> tuple[float, int]:
    """Seconds and tokens of the training steps after the first (which warms up allocations)."""
    elapsed, tokens = 0.0, 0
    for step, enc in enumerate(batches):
        labels = enc.input_ids.masked_fill(enc.attention_mask == 0, -100)
        start = time.perf_counter()
        loss = loss_fn(enc.input_ids, enc.attention_mask, labels)
        loss.backward()
        optim.step()
        optim.zero_grad()
        if step:
            elapsed += time.perf_counter() - start
            tokens += int(enc.attention_mask.sum())
    return elapsed, tokens


def _bench_lora(loaded, steps, prompts, batch, max_new, figures) -> None:
    import torch
    from peft import LoraConfig, get_peft_model

    from betag_engine.llm.models import cpu_has_native_bf16, load_private_copy
    from betag_engine.llm.transformers_backend import TransformersBackend
    from betag_engine.tagging.finetune import head_token_ids, training_loss

    warnings.filterwarnings("ignore", category=FutureWarning, module="transformers")
    model = load_private_copy(loaded).model
    peft_model = get_peft_model(
        model, LoraConfig(r=16, lora_alpha=32, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")
    )
    peft_model.train()
    optim = torch.optim.AdamW([p for p in peft_model.parameters() if p.requires_grad], lr=2e-4)
    tok = loaded.tokenizer
    texts = _behaviour_texts(4 * (steps + 1), seed=0)
    tok.padding_side = "right"
    try:
        batches = [
            tok(texts[i : i + 4], return_tensors="pt", padding=True, truncation=True, max_length=200)
            for i in range(0, len(texts), 4)
        ]
    finally:
        tok.padding_side = "left"
    head = head_token_ids(loaded, [line for text in texts for line in text.split("\n")])

    def fresh(rank: int, modules: Sequence[str], dtype):
        lora = get_peft_model(load_private_copy(loaded, dtype).model, LoraConfig(
            r=rank, lora_alpha=2 * rank, target_modules=list(modules), task_type="CAUSAL_LM"))
        lora.train()
        return lora, torch.optim.AdamW([p for p in lora.parameters() if p.requires_grad], lr=2e-4)

    # (label, () -> (peft model, optimizer), head, label of its baseline); each model is built in turn, then dropped
    full, tags, r64 = "r=16 q,v, full head", f"r=16 q,v, head of {len(head)} tag tokens", "r=64 every projection"
    variants = [(full, lambda: (peft_model, optim), None, None), (tags, lambda: (peft_model, optim), head, full),
                (r64, lambda: fresh(64, PAPER_LORA_MODULES, None), head, tags)]
    if loaded.device == "cpu" and cpu_has_native_bf16():  # llm_training_dtype=bfloat16
        variants += [(f"{tags}, bf16 base weights", lambda: fresh(16, ["q_proj", "v_proj"], torch.bfloat16), head,
                      tags),
                     (f"{r64}, bf16 base weights", lambda: fresh(64, PAPER_LORA_MODULES, torch.bfloat16), head, r64)]
    measured: dict[str, tuple[float, float]] = {}  # label -> (s/step, tokens/s)
    for name, build, head_ids, baseline in variants:
        lora_model, lora_optim = build()
        elapsed, tokens = _lora_steps(training_loss(lora_model, head_ids), lora_optim, batches)
        measured[name] = (elapsed / steps, tokens / elapsed)
        base_step, base_rate = measured.get(baseline, (None, None))
        label = name if baseline is None else f"{name} (vs {baseline})"
        figures.append(Figure("LoRA", f"b4, {tokens // (4 * steps)} tok/text, {label}", measured[name][0], "s/step",
                              base_step))
        figures.append(Figure("LoRA", f"training, {label}", measured[name][1], "tokens/s", base_rate))
        del lora_model, lora_optim
    tmp = Path(tempfile.mkdtemp(prefix="betag-bench-lora-"))
    try:
        peft_model.save_pretrained(tmp)
        config = GenerationConfig(max_new_tokens=max_new, repetition_penalty=1.15)
        unmerged = TransformersBackend(loaded, batch_size=batch, adapter_path=tmp, merge_adapter=False)
        _, tu = _timed(lambda: unmerged.generate(prompts, config))
        figures.append(
            Figure("LoRA", f"greedy batch {batch} with adapter unmerged (baseline)", len(prompts) / tu, "items/s")
        )
        merged = TransformersBackend(loaded, batch_size=batch, adapter_path=tmp, merge_adapter=True)
        _, tm = _timed(lambda: merged.generate(prompts, config))
        figures.append(
            Figure("LoRA", f"greedy batch {batch} with adapter merged", len(prompts) / tm, "items/s", len(prompts) / tu)
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(args, settings) -> int:
    """Run the generation benchmark; ``args`` carries model, items, beams, batch_size (None = default)."""
    import torch

    from betag_engine.llm.models import load_model
    from betag_engine.llm.transformers_backend import TransformersBackend

    spec = getattr(args, "model", None) or settings.llm_model
    opts = {k: getattr(args, k, None) or v for k, v in DEFAULTS.items()}
    loaded, load_s = _timed(
        lambda: load_model(
            spec,
            cache_dir=settings.model_cache_dir,
            device=settings.llm_device,
            quantization=settings.llm_quantization,
            threads=settings.torch_threads,
        )
    )
    print(
        f"model {loaded.name} on {loaded.device}, loaded in {load_s:.2f} s; torch {torch.__version__}, "
        f"{torch.get_num_threads()} thread(s); items={opts['items']} beams={opts['beams']} "
        f"batch={opts['batch_size']} max_new_tokens={opts['max_new_tokens']}"
    )
    backend = TransformersBackend(loaded)
    prompts = [tag_prompt(backend, t) for t in _titles(opts["items"])]
    figures: list[Figure] = []
    from betag_engine.bench.concurrency import bench_concurrency, bench_finetune_pair
    from betag_engine.bench.levers import bench_levers

    sections = [
        lambda: bench_levers(loaded, opts["items"], opts["batch_size"], figures, Figure),
        lambda: bench_concurrency(loaded, settings.model_cache_dir, opts["items"], opts["batch_size"], figures,
                                  Figure),
        lambda: bench_finetune_pair(loaded, settings.model_cache_dir, 2 * opts["lora_steps"], figures, Figure),
        lambda: _bench_base(loaded, prompts, opts["batch_size"], opts["max_new_tokens"], figures),
        lambda: _bench_beams(loaded, prompts, opts["beams"], opts["batch_size"], opts["max_new_tokens"], figures),
        lambda: _bench_lora(loaded, opts["lora_steps"], prompts, opts["batch_size"], opts["max_new_tokens"], figures),
    ]
    print(f"{'workload':<11} {'variant':<52} {'value':>10} {'unit':<9} vs baseline")
    for section in sections:
        start = len(figures)
        section()
        for fig in figures[start:]:
            print(fig.line() if fig.unit != "-" else f"{fig.group:<11} {fig.label}", flush=True)
    return 0
