"""The shared prompt prefix prefilled once: same greedy text as prefilling every prompt whole."""

from __future__ import annotations

import pytest

from betag_engine.llm.interface import GenerationConfig
from betag_engine.llm.prefix import common_prefix
from betag_engine.llm.transformers_backend import TransformersBackend

SHOTS = "Tags for books and songs, as comma-separated keywords.\nItem: Toy Story (1995)\nTags: animation, toys\n\n"
ITEMS = ["GoldenEye (1995)", "Jurassic Park (1993)", "Caf\u00e9", "Toy Story (1995) and a much longer title here"]


def test_common_prefix_keeps_a_token_for_every_prompt():
    assert common_prefix([[1, 2, 3], [1, 2, 4]]) == 2
    assert common_prefix([[1, 2], [1, 2, 3]]) == 1  # the shorter prompt keeps one token of its own
    assert common_prefix([[5], [6]]) == 0


@pytest.mark.parametrize("samples,diverse,penalty", [(1, False, 1.0), (3, True, 1.0), (1, False, 1.2)])
def test_prefix_cache_gives_the_same_greedy_text(tiny_loaded, samples, diverse, penalty):
    prompts = [f"{SHOTS}Item: {title}\nTags:" for title in ITEMS]
    config = GenerationConfig(max_new_tokens=12, num_samples=samples, diverse_beams=diverse,
                              repetition_penalty=penalty)
    plain = TransformersBackend(tiny_loaded, batch_size=6, prefix_cache=False).generate(prompts, config)
    cached_backend = TransformersBackend(tiny_loaded, batch_size=6)
    cached = cached_backend.generate(prompts, config)
    assert cached == plain
    assert cached_backend._prefix is not None and cached_backend._prefix.length >= 16  # the shots were shared
    again = cached_backend.generate(prompts[::-1], config)  # the next batch reuses the same prefix
    assert again == plain[::-1]


def test_bench_levers_measure_each_lever_against_its_baseline(tiny_loaded):
    from betag_engine.bench.generation import Figure
    from betag_engine.bench.levers import bench_levers

    figures: list[Figure] = []
    bench_levers(tiny_loaded, 4, 8, figures, Figure)
    groups = [f.group for f in figures]
    assert groups.count("prefix") == 4 and groups.count("line head") == 2 and groups.count("jump") == 2
    assert "(4/4 same)" in next(f.label for f in figures if f.group == "jump" and f.baseline)
    assert all((f.baseline is None) == ("baseline" in f.label) for f in figures)
    assert all(f.value > 0 for f in figures)


def test_scoring_with_the_shared_prefix_once_gives_the_same_scores(tiny_loaded):
    """P(Yes)-style scoring: a judge prompt's shared instruction prefilled once, each row scored as if whole."""
    prompts = [f"{SHOTS}Item: {title}\nTag: toys\nAnswer:" for title in ITEMS]
    answers = [" Yes", " No", " Yes, animation", " toys"]
    plain = TransformersBackend(tiny_loaded, batch_size=3, prefix_cache=False).score(prompts, answers)
    cached_backend = TransformersBackend(tiny_loaded, batch_size=3)
    assert cached_backend.score(prompts, answers) == pytest.approx(plain, abs=1e-4)
    assert cached_backend._prefix is not None and cached_backend._prefix.length >= 16


def test_bench_concurrency_runs_two_one_thread_workers_against_the_sequential_stages(tiny_loaded, tmp_path):
    from betag_engine.bench.concurrency import bench_concurrency
    from betag_engine.bench.generation import Figure

    figures: list[Figure] = []
    bench_concurrency(tiny_loaded, tmp_path / "models", 3, 2, figures, Figure)
    baseline, lever = figures
    assert baseline.baseline is None and lever.baseline == baseline.value and lever.value > 0
    assert "(2/2 same text)" in lever.label  # a tiny model's greedy text does not depend on the thread count
