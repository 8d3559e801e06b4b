"""Constrained decoding: with allowed lines, every completion is exactly one of them (a random model included)."""

from __future__ import annotations

import pytest

from betag_engine.llm.constraints import LineTrie
from betag_engine.llm.interface import GenerationConfig
from betag_engine.llm.transformers_backend import TransformersBackend

LINES = ["animation, toys, friendship", "spy, james bond, action", "dinosaurs, island", "spy, action"]


@pytest.mark.parametrize("diverse", [True, False])
def test_every_beam_is_an_allowed_line(tiny_loaded, diverse):
    backend = TransformersBackend(tiny_loaded, batch_size=8)
    config = GenerationConfig(max_new_tokens=24, num_samples=4, diverse_beams=diverse,
                              temperature=0.0 if diverse else 1.0, seed=3)
    prompts = ["Tags: animation, toys\n", "Tags: spy\n", "Item: x\n"]
    allowed = [LINES, LINES[1:2] + LINES[3:], None]
    out = backend.generate(prompts, config, allowed)
    assert all(beam in LINES for beam in out[0]) and all(beam in (LINES[1], LINES[3]) for beam in out[1])
    assert len(out[2]) == 4  # the free prompt in the same batch still generates


def test_trie_shares_prefixes_and_ends_each_line_with_its_newline(tiny_loaded):
    tok = tiny_loaded.tokenizer
    trie = LineTrie.from_lines(tok, ["spy, action", "spy, james bond, action", "spy, action"])
    first = tok("spy", add_special_tokens=False)["input_ids"][0]
    assert list(trie.root) == [first]  # one branch for the shared start, duplicates once
    node, path = trie.root, tok("spy, action\n", add_special_tokens=False)["input_ids"]
    for t in path:
        node = node[t]
    assert node == {}  # the line's last token (the newline) is a leaf


def test_line_head_gives_the_full_heads_beams_inside_the_lines(tiny_loaded):
    """The no-finetuning ablation's output layer (the catalog lines' tokens) decodes the same lines as the full one."""
    config = GenerationConfig(max_new_tokens=24, num_samples=3, diverse_beams=True)
    prompts = ["Tags: animation, toys\n", "Tags: spy\n"]
    full = TransformersBackend(tiny_loaded, batch_size=8).generate(prompts, config, [LINES, LINES])
    small = TransformersBackend(tiny_loaded, batch_size=8)
    small.restrict_to_lines(LINES)
    assert small._tables().allowed.numel() < 40  # a few dozen rows instead of the whole vocabulary
    assert small.generate(prompts, config, [LINES, LINES]) == full


@pytest.mark.parametrize("max_new, penalty, head", [(24, 1.0, "full"), (24, 1.3, "lines"), (4, 1.0, "lines")])
def test_jumping_over_forced_tokens_gives_the_step_by_step_text(tiny_loaded, max_new, penalty, head):
    """Once a beam can only end as one line, its remaining tokens are written without the model: the beams (their
    text, their diversity against each other, the cut at max_new_tokens) are those of one step per token."""
    import dataclasses

    lines = LINES + ["animation, pixar", "animation, toys", "dinosaurs, adventure, sci fi"]
    prompts = ["Tags: animation, toys\n", "Tags: spy\n", "Item: x\n", "Tags: dinosaurs\n", "Item: Toy Story\n"]
    allowed = [lines, lines[1:2] + lines[3:], None, lines[2:], lines]
    config = GenerationConfig(max_new_tokens=max_new, num_samples=6, diverse_beams=True,
                              repetition_penalty=penalty)
    runs, steps = [], []
    for jump in (False, True):
        backend = TransformersBackend(tiny_loaded, batch_size=8)
        if head == "lines":
            backend.restrict_to_lines(lines)
        calls: list[int] = []
        hook = tiny_loaded.model.base_model.register_forward_hook(lambda *a, c=calls: c.append(1))
        try:
            runs.append(backend.generate(prompts, dataclasses.replace(config, jump_forced=jump), allowed))
        finally:
            hook.remove()
        steps.append(len(calls))
    assert runs[1] == runs[0]
    assert steps[1] < steps[0] or max_new <= 4  # fewer model calls, unless every line is cut before it is forced


def test_a_jumped_beams_tokens_still_count_against_the_later_beams(tiny_loaded):
    """Beam 0 on "x, ..." is forced after one token and jumps; beam 1 still decides between "action" and "james"
    four steps later, where beam 0's " " before "james" (written without the model) must weigh on it as before:
    without that count beam 1 would take "james bond" too."""
    import dataclasses

    lines = ["x, spy, james bond", "y, spy, action", "y, spy, james bond"]
    prompts = [f"Item: {t}\n" for t in ("Toy Story", "GoldenEye", "Jurassic Park", "spy", "toys", "island", "a", "b")]
    config = GenerationConfig(max_new_tokens=16, num_samples=3, diverse_beams=True, diversity_penalty=50.0)
    backend = TransformersBackend(tiny_loaded, batch_size=8)
    slow, fast = (backend.generate(prompts, dataclasses.replace(config, jump_forced=j), [lines] * 8)
                  for j in (False, True))
    assert fast == slow
    assert all(beams[:2] == lines[:2] for beams in slow)  # the case this test is about occurs
