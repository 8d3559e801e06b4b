"""llm_training_dtype: LoRA over bf16 base weights on a CPU with native bf16; "auto" keeps the loaded dtype."""

from __future__ import annotations

import pytest
import torch

from betag_engine.llm import models
from betag_engine.llm.models import ModelLoadError, cpu_has_native_bf16, training_dtype

PROMPTS = ["Item: Toy Story (1995)\nTags: animation", "Item: Jurassic Park (1993)\nTags: dino"]
NATIVE_BF16 = cpu_has_native_bf16()


def _settings(tiny_model_dir, tmp_path, dtype):
    from betag_engine.settings import load_settings

    return load_settings().with_overrides(llm_model=str(tiny_model_dir), model_cache_dir=tmp_path / "models",
                                          llm_device="cpu", llm_training_dtype=dtype)


def _trained_step(settings):
    from betag_engine.tagging.finetune import FinetuneParams, training_loss
    from betag_engine.tagging.llm_access import load_for_training

    loaded, model = load_for_training(settings, FinetuneParams(rank=4, alpha=8), None)
    enc = loaded.tokenizer(PROMPTS, return_tensors="pt", padding=True)
    labels = enc.input_ids.masked_fill(enc.attention_mask == 0, -100)
    head = sorted({int(i) for i in enc.input_ids.flatten()})
    loss = training_loss(model, head)(enc.input_ids, enc.attention_mask, labels)
    loss.backward()
    return model, loss


def _base_weight(model):
    return model.get_base_model().get_decoder().layers[0].self_attn.o_proj.weight


def test_auto_trains_over_the_loaded_fp32_weights(tiny_model_dir, tmp_path):
    model, loss = _trained_step(_settings(tiny_model_dir, tmp_path, "auto"))
    assert _base_weight(model).dtype == torch.float32 and torch.isfinite(loss)


@pytest.mark.skipif(not NATIVE_BF16, reason="this CPU has no native bf16 arithmetic")
def test_bfloat16_trains_fp32_lora_weights_over_bf16_base_weights(tiny_model_dir, tmp_path):
    model, loss = _trained_step(_settings(tiny_model_dir, tmp_path, "bfloat16"))
    assert _base_weight(model).dtype == torch.bfloat16
    trainable = [q for q in model.parameters() if q.requires_grad]
    assert {q.dtype for q in trainable} == {torch.float32}  # the adapter itself stays fp32
    assert torch.isfinite(loss) and all(q.grad is not None for q in trainable)


def test_bfloat16_is_refused_where_the_cpu_would_emulate_it(tiny_loaded, monkeypatch):
    monkeypatch.setattr(models, "cpu_has_native_bf16", lambda: False)
    with pytest.raises(ModelLoadError, match="needs a CPU with native bf16"):
        training_dtype(tiny_loaded, "bfloat16")
    assert training_dtype(tiny_loaded, "auto") is None


def test_an_unknown_training_dtype_is_refused_by_name(tiny_loaded):
    with pytest.raises(ValueError, match="llm_training_dtype must be one of auto, bfloat16, got 'fp8'"):
        training_dtype(tiny_loaded, "fp8")


def test_bench_generation_times_the_bf16_lora_step_against_fp32(tiny_loaded):
    from betag_engine.bench.generation import Figure, _bench_lora

    figures: list[Figure] = []
    _bench_lora(tiny_loaded, 2, PROMPTS, 2, 4, figures)
    steps = {f.label.split(", ", 2)[2]: f for f in figures if f.unit == "s/step"}
    labels = list(steps)
    assert steps[labels[0]].baseline is None
    for label in labels[1:]:  # each lever against the path it replaces, named in its label
        baseline = label.rsplit(" (vs ", 1)[1].rstrip(")")
        assert steps[label].baseline == next(f.value for k, f in steps.items() if k.split(" (vs ")[0] == baseline)
    assert sum("bf16 base weights" in label for label in labels) == (2 if NATIVE_BF16 else 0)
