"""The pipeline's speed levers, each against the path it replaced, on the prompts the pipeline writes (part of
``python -m betag_engine bench generation``).

  prefix      base tags with the movie preset's few-shot prompt (title + genres): every prompt prefilled whole
              (baseline) vs the shared few-shot prefix prefilled once (``llm.prefix``); also TagGPT's 3 samples
  line head   BETag without finetuning, prompts with behaviour in context: the ASCII output head with free beams
              (baseline, what the ablation used) vs the output rows of the catalog lines' tokens with every beam one
              of the shown lines (``restrict_to_lines`` + ``llm.constraints``)
  jump        the same constrained beams: one model step per token (baseline) vs a beam that can only end as one
              line written out at once (``GenerationConfig.jump_forced``; the text is the same)
"""

from __future__ import annotations

import dataclasses

from betag_engine.llm.interface import GenerationConfig


def _catalog(n: int):
    """ml-100k's first ``n`` items as ItemInfo, their genre lines, and the behaviour graph of all ratings."""
    from betag_engine.catalog.movielens import load_frames
    from betag_engine.tagging.behaviour import behaviour_graph
    from betag_engine.tagging.item_text import ItemInfo

    items, inter = load_frames("ml-100k")
    genres = {int(i): [g.lower() for g in t.split("|") if g] for i, t in zip(items.item_id, items.tags)}
    infos = [ItemInfo(t, "", {"year": y}, tuple(genres[int(i)])) for i, t, y in
             zip(items.item_id[:n], items.title[:n], items.year[:n])]
    inter = inter.astype({"item_id": int, "timestamp": int}).sort_values(["user_id", "timestamp"])
    train = {u: list(g.item_id) for u, g in inter.groupby("user_id")}
    return [int(i) for i in items.item_id[:n]], infos, genres, behaviour_graph(train)


def bench_levers(loaded, n: int, batch: int, figures, figure) -> None:
    from betag_engine.llm.transformers_backend import TransformersBackend
    from betag_engine.tagging.behaviour import context_pairs
    from betag_engine.tagging.config import PromptConfig, tag_line

    ids, infos, genres, graph = _catalog(n)
    prompt = PromptConfig()
    prompts = [prompt.base_prompt(info) for info in infos]
    greedy = GenerationConfig(max_new_tokens=32)
    sampled = GenerationConfig(max_new_tokens=24, temperature=1.0, top_k=50, num_samples=3, seed=1)
    for label, config in (("base tags, greedy", greedy), ("TagGPT, 3 samples", sampled)):
        whole = TransformersBackend(loaded, batch_size=batch, vocab_restriction="ascii", prefix_cache=False)
        whole._tables()  # token tables are built once per model, not part of either timing
        before, t0 = _timed(lambda b=whole, c=config: b.generate(prompts, c))
        cached = TransformersBackend(loaded, batch_size=batch, vocab_restriction="ascii")
        after, t1 = _timed(lambda b=cached, c=config: b.generate(prompts, c))
        same = sum(a == b for a, b in zip(before, after))
        tokens = cached._prefix.length if cached._prefix else 0
        figures.append(figure("prefix", f"{label}, whole prompts (baseline)", n / t0, "items/s"))
        figures.append(figure("prefix", f"{label}, {tokens}-token prefix once ({same}/{n} same)", n / t1, "items/s",
                              n / t0))
    pairs = {i: [(a, b) for a, b in context_pairs(graph, i, 6, 0.5) if genres.get(a) and genres.get(b)] for i in ids}
    lines = sorted({tag_line(g) for g in genres.values() if g})
    ctx = [prompt.context_prompt(genres[i], [(genres[a], genres[b]) for a, b in pairs[i]]) for i in ids]
    allowed = [[tag_line(genres[b]) for _, b in pairs[i]] or None for i in ids]
    stepwise = GenerationConfig(max_new_tokens=40, num_samples=4, diverse_beams=True, jump_forced=False)
    free = TransformersBackend(loaded, batch_size=batch, vocab_restriction="ascii")
    _, t0 = _timed(lambda: free.generate(ctx, stepwise))
    figures.append(figure("line head", "BETag noft m=4, ascii head, free beams (baseline)", n / t0, "items/s"))
    small = TransformersBackend(loaded, batch_size=batch)
    small.restrict_to_lines(lines)
    before, t1 = _timed(lambda: small.generate(ctx, stepwise, allowed))
    figures.append(figure("line head", f"same, {len(small.head_tokens)}-token line head, beams = shown lines",
                          n / t1, "items/s", n / t0))
    figures.append(figure("jump", "BETag noft m=4, line head, one model step per token (baseline)", n / t1,
                          "items/s"))
    jumping = dataclasses.replace(stepwise, jump_forced=True)
    after, t2 = _timed(lambda: small.generate(ctx, jumping, allowed))
    same = sum(a == b for a, b in zip(before, after))
    figures.append(figure("jump", f"same, a beam's only possible line written out at once ({same}/{n} same)",
                          n / t2, "items/s", n / t1))


def _timed(fn):
    import time

    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start
