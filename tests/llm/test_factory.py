"""get_backend and model-spec resolution: configuration errors name the field and every valid choice."""

from __future__ import annotations

import pytest

from betag_engine.llm import get_backend
from betag_engine.llm.models import ModelLoadError, load_model, pick_device, resolve_model
from betag_engine.llm.openai_backend import OpenAIBackend
from betag_engine.llm.transformers_backend import TransformersBackend
from betag_engine.settings import load_settings


def test_factory_picks_the_configured_backend(monkeypatch, tmp_path, tiny_model_dir):
    monkeypatch.setenv("BETAG_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("BETAG_LLM_MODEL", str(tiny_model_dir))
    monkeypatch.setenv("BETAG_LLM_DEVICE", "cpu")
    backend = get_backend(load_settings())
    assert isinstance(backend, TransformersBackend)
    monkeypatch.setenv("BETAG_LLM_BACKEND", "openai")
    monkeypatch.setenv("BETAG_OPENAI_MODEL", "served")
    assert isinstance(get_backend(load_settings()), OpenAIBackend)
    monkeypatch.setenv("BETAG_LLM_BACKEND", "llama")
    with pytest.raises(ValueError, match="transformers, openai"):
        get_backend(load_settings())


def test_model_specs(tmp_path, tiny_model_dir):
    resolved = resolve_model("gemma3-270m", tmp_path)
    assert resolved.hf_dir == tmp_path / "gemma3-270m" and resolved.needs_conversion
    assert resolve_model(str(tiny_model_dir), tmp_path).builtin is None
    with pytest.raises(ModelLoadError, match="gemma3-270m, smollm2-135m"):
        resolve_model("gpt-5", tmp_path)


def test_device_and_quantization_validation(tiny_model_dir, tmp_path):
    with pytest.raises(ValueError, match="auto, cpu, cuda"):
        pick_device("tpu")
    with pytest.raises(ValueError, match="none, nf4"):
        load_model(str(tiny_model_dir), cache_dir=tmp_path, device="cpu", quantization="int3")
    with pytest.raises(ModelLoadError, match="nf4"):
        load_model(str(tiny_model_dir), cache_dir=tmp_path, device="cpu", quantization="nf4")


def test_models_are_cached_process_wide(tiny_model_dir, tmp_path):
    first = load_model(str(tiny_model_dir), cache_dir=tmp_path, device="cpu")
    assert load_model(str(tiny_model_dir), cache_dir=tmp_path, device="cpu") is first
    assert load_model(str(tiny_model_dir), cache_dir=tmp_path, device="cpu", fresh=True) is not first
