"""The restricted output layer of finetuning (head "tags") and generation through an adapter trained with it."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from betag_engine.llm.decoding import decode
from betag_engine.llm.interface import GenerationConfig
from betag_engine.llm.models import load_private_copy
from betag_engine.llm.transformers_backend import HEAD_TOKENS_FILE, TransformersBackend
from betag_engine.tagging.finetune import head_token_ids, training_loss


def _lora(loaded):
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(0)
    model = get_peft_model(load_private_copy(loaded).model, LoraConfig(r=4, lora_alpha=8, init_lora_weights=False,
                                                                       target_modules=["q_proj", "v_proj"]))
    return model.eval()


def _batch(tokenizer):
    rows = [tokenizer("Tags: animation, toys, friendship\nspy, action\n")["input_ids"],
            tokenizer("Tags: dinosaurs, island\n")["input_ids"]]
    width = max(map(len, rows))
    ids = torch.zeros((2, width), dtype=torch.long)
    mask = torch.zeros_like(ids)
    labels = torch.full_like(ids, -100)
    for r, row in enumerate(rows):
        ids[r, : len(row)], mask[r, : len(row)] = torch.tensor(row), 1
        labels[r, 3 : len(row)] = torch.tensor(row[3:])  # no loss on the first tokens, as for the instruction
    return ids, mask, labels


def test_every_token_allowed_gives_the_models_own_loss(tiny_loaded):
    model = _lora(tiny_loaded)
    ids, mask, labels = _batch(tiny_loaded.tokenizer)
    vocab = model.get_output_embeddings().weight.shape[0]
    with torch.no_grad():
        ours = training_loss(model, list(range(vocab)))(ids, mask, labels)
        theirs = model(input_ids=ids, attention_mask=mask, labels=labels).loss
    assert float(ours) == pytest.approx(float(theirs), rel=1e-5)


def test_restricted_loss_is_cross_entropy_over_the_allowed_rows(tiny_loaded):
    model = _lora(tiny_loaded)
    ids, mask, labels = _batch(tiny_loaded.tokenizer)
    allowed = sorted(set(ids[labels >= 0].tolist()) | {0, 5, 7})
    with torch.no_grad():
        ours = training_loss(model, allowed)(ids, mask, labels)
        logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1][:, :, allowed]
    targets = labels[:, 1:]
    keep = targets >= 0
    index = {t: i for i, t in enumerate(allowed)}
    expected = F.cross_entropy(logits[keep], torch.tensor([index[int(t)] for t in targets[keep]]))
    assert float(ours) == pytest.approx(float(expected), rel=1e-5)


def test_head_ids_cover_the_lines_and_generation_stays_inside(tiny_loaded, tmp_path):
    lines = ["animation, toys, friendship", "spy, action"]
    head = head_token_ids(tiny_loaded, lines)
    tok = tiny_loaded.tokenizer
    assert {t for line in lines for t in tok(line + "\n", add_special_tokens=False)["input_ids"]} <= set(head)
    assert tok.eos_token_id in head and len(head) < len(tok)

    adapter = tmp_path / "adapter"
    _lora(tiny_loaded).save_pretrained(adapter)
    (adapter / HEAD_TOKENS_FILE).write_text(json.dumps(head))
    backend = TransformersBackend(tiny_loaded, adapter_path=adapter, vocab_restriction="ascii")
    assert backend.head_tokens == tuple(head) and set(backend._tables().allowed.tolist()) == set(head)
    ids, mask = backend._left_pad([tok("Tags:")["input_ids"]] * 2)
    config = GenerationConfig(max_new_tokens=12, temperature=2.0, num_samples=4, seed=3)
    rows = decode(backend.model, backend._output_head(), backend._tables(), ids, mask, config,
                  torch.Generator().manual_seed(3))
    produced = {t for row in rows for t in row}
    assert produced and produced <= set(head)
    assert all(isinstance(text, str) for outs in backend.generate(["Tags:"], config) for text in outs)
