"""Two generation stages at once (part of ``python -m betag_engine bench generation``).

Decoding a few rows at a time keeps about one core busy, whatever torch's thread count: two generation stages that
do not depend on each other (TagGPT and base tags, BETag and its no-finetuning ablation) could run side by side as
two worker processes of one thread each. This measures that on base tags, each "stage" being the same ``n`` items:
baseline, the two stages one after the other in this process (torch's threads); lever, two 1-thread processes
started together. It also says whether the 1-thread processes wrote the same text.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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
    with tempfile.TemporaryDirectory(prefix="betag-bench-concurrency-") as tmp:
        folder = Path(tmp)
        args = {"model": str(loaded.hf_dir), "cache_dir": str(cache_dir), "n": n, "batch": batch,
                "folder": str(folder)}
        workers = [subprocess.Popen([sys.executable, "-m", "betag_engine.bench.concurrency",
                                     json.dumps({**args, "name": f"w{i}"})], cwd=str(PROJECT_ROOT))
                   for i in range(2)]
        while not all((folder / f"w{i}.ready").exists() for i in range(2)):  # both loaded: start them together
            if any(w.poll() not in (None, 0) for w in workers):
                raise RuntimeError("a concurrency bench worker failed while loading the model")
            time.sleep(0.1)
        (folder / "go").touch()
        for w in workers:
            if w.wait() != 0:
                raise RuntimeError("a concurrency bench worker failed")
        results = [json.loads((folder / f"w{i}.json").read_text()) for i in range(2)]
    together = max(r["seconds"] for r in results)
    same = sum(r["texts"] == reference for r in results)
    figures.append(figure("2 stages", f"base tags x2, one after the other, {n} items each (baseline)",
                          2 * n / sequential, "items/s"))
    figures.append(figure("2 stages", f"same, two 1-thread processes at once ({same}/2 same text)",
                          2 * n / together, "items/s", 2 * n / sequential))


def _worker(args: dict) -> None:
    """One 1-thread stage: load, say ready, wait for the start, generate, write seconds and texts."""
    from betag_engine.llm.models import load_model

    folder = Path(args["folder"])
    loaded = load_model(args["model"], cache_dir=Path(args["cache_dir"]), device="cpu", threads=1)
    prompts = _prompts(args["n"])
    backend = _backend(loaded, args["batch"])
    backend.generate(prompts[:1], GenerationConfig(max_new_tokens=2))
    (folder / f"{args['name']}.ready").touch()
    while not (folder / "go").exists():
        time.sleep(0.02)
    start = time.perf_counter()
    texts = backend.generate(prompts, _CONFIG)
    seconds = time.perf_counter() - start
    (folder / f"{args['name']}.json").write_text(json.dumps({"seconds": seconds, "texts": texts}))


if __name__ == "__main__":
    _worker(json.loads(sys.argv[1]))
