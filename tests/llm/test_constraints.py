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
