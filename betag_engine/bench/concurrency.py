"""Two generation stages at once (part of ``python -m betag_engine bench generation``).

Decoding a few rows at a time keeps about one core busy, whatever torch's thread count: two generation stages that
do not depend on each other (TagGPT and base tags, BETag and its no-finetuning ablation) could run side by side as
two worker processes of one thread each. This measures that on base tags, each "stage" being the same ``n`` items:
baseline, the two stages one after the other in this process (torch's threads); lever, two 1-thread processes
started together. It also says whether the 1-thread processes wrote the same text.

The same for the pipeline's two finetuning stages (``finetune`` and ``finetune-paper``: neither reads the other's
adapter): each "stage" is ``steps`` LoRA steps on behaviour lines (r=16 on q,v, and the paper's r=64 on every
projection, bf16 base weights where the CPU has native bf16, the tag-token head), one after the other in this
process vs two 1-thread processes at once; it says how far apart their losses are.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from betag_engine.experiments.profiles import PAPER_LORA_MODULES
from betag_engine.llm.interface import GenerationConfig
from betag_engine.settings import PROJECT_ROOT

_CONFIG = GenerationConfig(max_new_tokens=32)


def _prompts(n: int) -> list[str]:
    from betag_engine.bench.levers import _catalog
    from betag_engine.tagging.config import PromptConfig

    _, infos, _, _ = _catalog(n)
    return [PromptConfig().base_prompt(info) for info in infos]


def _backend(loaded, batch: int):
    from betag_engine.llm.transformers_backend import TransformersBackend

    backend = TransformersBackend(loaded, batch_size=batch, vocab_restriction="ascii")
    backend._tables()  # built once per model, not part of the timing
    return backend


def bench_concurrency(loaded, cache_dir: Path, n: int, batch: int, figures, figure) -> None:
    prompts = _prompts(n)
    backend = _backend(loaded, batch)
    backend.generate(prompts[:1], GenerationConfig(max_new_tokens=2))  # warm up
    start = time.perf_counter()
    reference = [backend.generate(prompts, _CONFIG) for _ in range(2)][0]
    sequential = time.perf_counter() - start
    results = _together(loaded, cache_dir, [{"n": n, "batch": batch}] * 2)
    together = max(r["seconds"] for r in results)
    same = sum(r["texts"] == reference for r in results)
    figures.append(figure("2 stages", f"base tags x2, one after the other, {n} items each (baseline)",
                          2 * n / sequential, "items/s"))
    figures.append(figure("2 stages", f"same, two 1-thread processes at once ({same}/2 same text)",
                          2 * n / together, "items/s", 2 * n / sequential))


def bench_finetune_pair(loaded, cache_dir: Path, steps: int, figures, figure) -> None:
    variants = list(_FINETUNES)
    setups = {v: _finetune_setup(loaded, v, steps) for v in variants}  # model copies built before the clock
    start = time.perf_counter()
    reference = {v: _finetune_run(setups.pop(v)) for v in variants}
    sequential = time.perf_counter() - start
    results = _together(loaded, cache_dir, [{"task": "finetune", "variant": v, "steps": steps} for v in variants])
    together = max(r["seconds"] for r in results)
    gap = max(abs(a - b) for r, v in zip(results, variants) for a, b in zip(r["losses"], reference[v]))
    total = steps * len(variants)
    figures.append(figure("2 finetunes", f"{' and '.join(variants)}, {steps} steps each, one after the other "
                          "(baseline)", total / sequential, "steps/s"))
    figures.append(figure("2 finetunes", f"same, two 1-thread processes at once (losses within {gap:.1e})",
                          total / together, "steps/s", total / sequential))


# finetuning stage -> (LoRA rank, target modules): the pipeline's context finetuning and the paper's
_FINETUNES = {"r=16 q,v": (16, ("q_proj", "v_proj")),
              "r=64 every projection": (64, PAPER_LORA_MODULES)}
_FINETUNE_BATCH = 4


def _finetune_setup(loaded, variant: str, steps: int):
    """A fresh LoRA model (seeded), its optimizer, loss and ``steps`` batches, ready to train."""
    import torch
    from peft import LoraConfig, get_peft_model

    from betag_engine.bench.generation import _behaviour_texts
    from betag_engine.llm.models import cpu_has_native_bf16, load_private_copy
    from betag_engine.tagging.finetune import head_token_ids, training_loss

    rank, modules = _FINETUNES[variant]
    dtype = torch.bfloat16 if loaded.device == "cpu" and cpu_has_native_bf16() else None
    torch.manual_seed(0)
    model = get_peft_model(load_private_copy(loaded, dtype).model, LoraConfig(
        r=rank, lora_alpha=2 * rank, target_modules=list(modules), task_type="CAUSAL_LM"))
    model.train()
    optim = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-4)
    texts = _behaviour_texts(_FINETUNE_BATCH * steps, seed=0)
    tok = loaded.tokenizer
    tok.padding_side = "right"
    try:
        batches = [tok(texts[i: i + _FINETUNE_BATCH], return_tensors="pt", padding=True, truncation=True,
                       max_length=512) for i in range(0, len(texts), _FINETUNE_BATCH)]
    finally:
        tok.padding_side = "left"
    head = head_token_ids(loaded, [line for text in texts for line in text.split("\n")])
    return training_loss(model, head), optim, batches


def _finetune_run(setup) -> list[float]:
    loss_fn, optim, batches = setup
    losses = []
    for enc in batches:
        loss = loss_fn(enc.input_ids, enc.attention_mask, enc.input_ids.masked_fill(enc.attention_mask == 0, -100))
        loss.backward()
        optim.step()
        optim.zero_grad()
        losses.append(float(loss.detach()))
    return losses


def _together(loaded, cache_dir: Path, tasks: list[dict]) -> list[dict]:
    """Run each task in its own 1-thread process, all started together once loaded; their results in order."""
    with tempfile.TemporaryDirectory(prefix="betag-bench-concurrency-") as tmp:
        folder = Path(tmp)
        workers = [subprocess.Popen([sys.executable, "-m", "betag_engine.bench.concurrency", json.dumps(
            {"model": str(loaded.hf_dir), "cache_dir": str(cache_dir), "folder": str(folder), "name": f"w{i}",
             **task})], cwd=str(PROJECT_ROOT)) for i, task in enumerate(tasks)]
        while not all((folder / f"w{i}.ready").exists() for i in range(len(tasks))):  # start them together
            if any(w.poll() not in (None, 0) for w in workers):
                raise RuntimeError("a concurrency bench worker failed while loading the model")
            time.sleep(0.1)
        (folder / "go").touch()
        for w in workers:
            if w.wait() != 0:
                raise RuntimeError("a concurrency bench worker failed")
        return [json.loads((folder / f"w{i}.json").read_text()) for i in range(len(tasks))]


def _worker(args: dict) -> None:
    """One 1-thread stage: load, prepare, say ready, wait for the start, run, write seconds and output."""
    from betag_engine.llm.models import load_model

    folder = Path(args["folder"])
    loaded = load_model(args["model"], cache_dir=Path(args["cache_dir"]), device="cpu", threads=1)
    if args.get("task") == "finetune":
        setup = _finetune_setup(loaded, args["variant"], args["steps"])
        run, key = (lambda: _finetune_run(setup)), "losses"
    else:
        prompts = _prompts(args["n"])
        backend = _backend(loaded, args["batch"])
        backend.generate(prompts[:1], GenerationConfig(max_new_tokens=2))
        run, key = (lambda: backend.generate(prompts, _CONFIG)), "texts"
    (folder / f"{args['name']}.ready").touch()
    while not (folder / "go").exists():
        time.sleep(0.02)
    start = time.perf_counter()
    output = run()
    seconds = time.perf_counter() - start
    (folder / f"{args['name']}.json").write_text(json.dumps({"seconds": seconds, key: output}))


if __name__ == "__main__":
    _worker(json.loads(sys.argv[1]))
