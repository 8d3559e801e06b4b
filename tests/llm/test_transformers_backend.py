"""TransformersBackend on a tiny random Llama: shapes, stopping, sampling, scoring, adapters."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from betag_engine.llm.decoding import OutputHead, TokenTables, build_tables, decode
from betag_engine.llm.interface import GenerationConfig, LLMBackend
from betag_engine.llm.transformers_backend import TransformersBackend

PROMPTS = ["Item: Toy Story (1995)\nTags:", "Item: Jurassic Park (1993)\nTags: dino", "Tags for"]


def test_is_an_llm_backend(tiny_loaded):
    backend = TransformersBackend(tiny_loaded)
    assert isinstance(backend, LLMBackend)
    assert backend.description == f"transformers:{tiny_loaded.hf_dir.name}"


def test_generate_shapes_and_num_samples(tiny_loaded):
    backend = TransformersBackend(tiny_loaded, batch_size=4)
    out = backend.generate(PROMPTS, GenerationConfig(max_new_tokens=6, temperature=1.0, num_samples=3, seed=1))
    assert [len(samples) for samples in out] == [3, 3, 3]
    assert all(isinstance(s, str) and "\n" not in s for samples in out for s in samples)
    assert backend.generate([], GenerationConfig()) == []


def test_greedy_matches_transformers_generate(tiny_loaded):
    """Same tokens as model.generate (greedy, repetition penalty over prompt and output), no newline stop."""
    backend = TransformersBackend(tiny_loaded)
    tok, model = tiny_loaded.tokenizer, tiny_loaded.model
    config = GenerationConfig(max_new_tokens=10, repetition_penalty=1.3, stop_at_newline=False)
    for prompt in PROMPTS:
        ids = tok(prompt, return_tensors="pt")
        ref = model.generate(
            **ids,
            max_new_tokens=10,
            do_sample=False,
            repetition_penalty=1.3,
            eos_token_id=tok.eos_token_id,
            pad_token_id=tok.pad_token_id,
        )
        expected = tok.decode(ref[0, ids.input_ids.shape[1] :], skip_special_tokens=True)
        assert backend.generate([prompt], config) == [[expected]]


def test_batched_equals_one_by_one(tiny_loaded):
    """Left padding and dropping finished rows must not change any row's greedy output."""
    config = GenerationConfig(max_new_tokens=12, stop_at_newline=False)
    batched = TransformersBackend(tiny_loaded, batch_size=8).generate(PROMPTS, config)
    single = TransformersBackend(tiny_loaded, batch_size=1).generate(PROMPTS, config)
    assert batched == single


def _free_run(loaded, prompts, steps):
    backend = TransformersBackend(loaded)
    tables = backend._tables()
    no_stop = TokenTables(torch.zeros_like(tables.newline), torch.zeros_like(tables.stop), None, None)
    ids, mask = backend._left_pad([loaded.tokenizer(p)["input_ids"] for p in prompts])
    head = OutputHead(loaded.model, None)
    config = GenerationConfig(max_new_tokens=steps, stop_at_newline=True)
    return backend, head, ids, mask, config, decode(loaded.model, head, no_stop, ids, mask, config, None)


def test_each_row_stops_at_its_own_newline_token(tiny_loaded):
    """Declare the token each row emits at a different step a 'newline': each row must stop right there."""
    backend, head, ids, mask, config, free = _free_run(tiny_loaded, PROMPTS, 8)
    newline = torch.zeros(head.weight.shape[0], dtype=torch.bool)
    cut = {}
    for row, tokens in enumerate(free):
        candidates = [k for k, t in enumerate(tokens) if not newline[t] and t not in tokens[:k]]
        step = candidates[min(row + 1, len(candidates) - 1)]
        newline[tokens[step]] = True
    for row, tokens in enumerate(free):
        cut[row] = next(k for k, t in enumerate(tokens) if newline[t])
    tables = TokenTables(newline, torch.zeros_like(newline), None, None)
    stopped = decode(tiny_loaded.model, head, tables, ids, mask, config, None)
    assert stopped == [tokens[: cut[row]] for row, tokens in enumerate(free)]


def test_text_is_cut_at_first_newline(tiny_loaded):
    backend = TransformersBackend(tiny_loaded)
    nl = tiny_loaded.tokenizer("a\nb", add_special_tokens=False)["input_ids"]
    assert backend._text(nl, GenerationConfig()) == "a"
    assert backend._text(nl, GenerationConfig(stop_at_newline=False)) == "a\nb"
    tables = build_tables(tiny_loaded.tokenizer, tiny_loaded.model.config, len(tiny_loaded.tokenizer), "none")
    newline_ids = set(tables.newline.nonzero().squeeze(1).tolist())
    assert newline_ids and all("\n" in tiny_loaded.tokenizer.decode([i]) for i in newline_ids)
    assert tables.stop[tiny_loaded.tokenizer.eos_token_id]


def test_sampling_is_deterministic_with_seed(tiny_loaded):
    backend = TransformersBackend(tiny_loaded, batch_size=6)
    config = GenerationConfig(max_new_tokens=8, temperature=1.0, top_p=0.9, top_k=40, num_samples=4, seed=7)
    first = backend.generate(PROMPTS, config)
    assert backend.generate(PROMPTS, config) == first
    other = backend.generate(PROMPTS, GenerationConfig(max_new_tokens=8, temperature=1.0, num_samples=4, seed=8))
    assert other != first
    assert len({s for samples in first for s in samples}) > 1  # samples differ from each other


def test_greedy_samples_repeat_the_greedy_completion(tiny_loaded):
    """Prefill once + repeated cache: m greedy rows must equal the single greedy completion."""
    backend = TransformersBackend(tiny_loaded)
    one = backend.generate(PROMPTS, GenerationConfig(max_new_tokens=8, stop_at_newline=False))
    many = backend.generate(PROMPTS, GenerationConfig(max_new_tokens=8, stop_at_newline=False, num_samples=3))
    assert many == [samples * 3 for samples in one]


def test_score_matches_manual_log_softmax(tiny_loaded):
    backend = TransformersBackend(tiny_loaded, batch_size=2)
    tok, model = tiny_loaded.tokenizer, tiny_loaded.model
    prompts = ["Item: Toy Story (1995)\nTags:", "Tags"]
    answers = [" toys, pixar", " spy, action, russia"]
    expected = []
    for prompt, answer in zip(prompts, answers):
        p_ids = tok(prompt)["input_ids"]
        a_ids = tok(answer, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            logits = model(torch.tensor([p_ids + a_ids])).logits[0]
        logprobs = F.log_softmax(logits.float(), dim=-1)
        expected.append(sum(float(logprobs[len(p_ids) + k - 1, t]) for k, t in enumerate(a_ids)))
    assert backend.score(prompts, answers) == pytest.approx(expected, abs=1e-4)
    assert backend.score(["x"], [""]) == [0.0]
    with pytest.raises(ValueError, match="as many answers"):
        backend.score(["x"], [])


def test_score_uses_the_restricted_head_generation_uses(tiny_loaded):
    """With a restricted head (an adapter's, or the catalog lines'), log-probabilities are normalised over that
    head, as generation samples from it; an answer with a token outside the head cannot be generated: -inf."""
    backend = TransformersBackend(tiny_loaded)
    tok, model = tiny_loaded.tokenizer, tiny_loaded.model
    prompt, inside, outside = "Item: Toy Story (1995)\nTags:", " toys, pixar", " spy, action, russia"
    backend.restrict_to_lines([inside])
    allowed = backend._tables().allowed
    p_ids, a_ids = tok(prompt)["input_ids"], tok(inside, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = model(torch.tensor([p_ids + a_ids])).logits[0].float()
    logprobs = F.log_softmax(logits[:, allowed], dim=-1)
    row = {int(t): r for r, t in enumerate(allowed)}
    expected = sum(float(logprobs[len(p_ids) + k - 1, row[t]]) for k, t in enumerate(a_ids))
    scores = backend.score([prompt, prompt], [inside, outside])
    assert scores[0] == pytest.approx(expected, abs=1e-4)
    assert set(tok(outside, add_special_tokens=False)["input_ids"]) <= set(row) or scores[1] == float("-inf")


def test_ascii_vocabulary_restriction(tiny_loaded):
    backend = TransformersBackend(tiny_loaded, vocab_restriction="ascii")
    out = backend.generate(PROMPTS, GenerationConfig(max_new_tokens=10, temperature=1.5, num_samples=4, seed=3))
    assert all(s.isascii() for samples in out for s in samples)
    with pytest.raises(ValueError, match="none, ascii"):
        TransformersBackend(tiny_loaded, vocab_restriction="latin")


def test_chat_formatting(tiny_loaded):
    backend = TransformersBackend(tiny_loaded)
    assert backend.is_chat_model
    text = backend.format_chat([{"role": "user", "content": "Tag: Toy Story"}])
    assert text == "<|user|>Tag: Toy Story\n<|assistant|>"


def test_lora_adapter_merged_and_unmerged_agree(tiny_loaded, tmp_path):
    from peft import LoraConfig, get_peft_model

    from betag_engine.llm.models import load_private_copy

    base = load_private_copy(tiny_loaded).model
    lora = get_peft_model(base, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    with torch.no_grad():
        for name, param in lora.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.5)
    lora.save_pretrained(tmp_path / "adapter")
    config = GenerationConfig(max_new_tokens=10, stop_at_newline=False)
    plain = TransformersBackend(tiny_loaded).generate(PROMPTS, config)
    merged = TransformersBackend(tiny_loaded, adapter_path=tmp_path / "adapter", merge_adapter=True)
    unmerged = TransformersBackend(tiny_loaded, adapter_path=tmp_path / "adapter", merge_adapter=False)
    assert merged.description.endswith("+lora:adapter")
    assert merged.generate(PROMPTS, config) == unmerged.generate(PROMPTS, config) != plain
    assert TransformersBackend(tiny_loaded).generate(PROMPTS, config) == plain  # shared copy untouched


def test_diverse_beams_make_greedy_samples_differ(tiny_loaded):
    """Greedy samples are identical; with the diversity penalty the m samples of a prompt start differently."""
    backend = TransformersBackend(tiny_loaded, batch_size=8)
    plain = backend.generate(PROMPTS, GenerationConfig(max_new_tokens=3, num_samples=3, stop_at_newline=False))
    assert all(len(set(samples)) == 1 for samples in plain)
    config = GenerationConfig(max_new_tokens=3, num_samples=3, stop_at_newline=False, diverse_beams=True,
                              diversity_penalty=1e4)
    ids = [[tiny_loaded.tokenizer(s, add_special_tokens=False)["input_ids"][:1] for s in samples]
           for samples in backend.generate(PROMPTS, config)]
    assert all(len({tuple(first) for first in samples}) == 3 for samples in ids)
    assert backend.generate(PROMPTS, config)[0][0] == plain[0][0]  # the first sample is the greedy one
