"""The tagging jobs' only door to models: backends for generation/scoring and a trainable LoRA model.

Model loading itself (GGUF conversion, caching, devices) belongs to ``betag_engine.llm``; this module only applies
the job's overrides (its ``model``) to the settings the job was given.
"""

from __future__ import annotations

from pathlib import Path

from betag_engine.llm.interface import LLMBackend
from betag_engine.settings import Settings

DEFAULT_LLM_BATCH = 16  # rows (prompts x samples) decoded together
DEFAULT_VOCAB_RESTRICTION = "ascii"  # Gemma's 262k-token head is the CPU bottleneck; tags are ASCII


def open_backend(
    settings: Settings,
    model: str | None = None,
    adapter: str | Path | None = None,
    batch_size: int = DEFAULT_LLM_BATCH,
    vocab_restriction: str = DEFAULT_VOCAB_RESTRICTION,
    head_lines: list[str] | None = None,
) -> LLMBackend:
    """A backend for ``model`` (default ``Settings.llm_model``), with a LoRA adapter directory applied if given.

    ``head_lines``: restrict the output layer to these lines' tokens (BETag's tag vocabulary) when the adapter
    brings no head of its own (the no-finetuning ablation); the local backend only.
    """
    from betag_engine.llm import get_backend

    settings = settings.with_overrides(llm_model=model or None)
    if settings.llm_backend != "transformers":
        if adapter is not None:
            raise ValueError(f"LoRA adapters need llm_backend 'transformers', got {settings.llm_backend!r}")
        return get_backend(settings)
    backend = get_backend(settings, adapter_path=adapter, batch_size=batch_size, vocab_restriction=vocab_restriction)
    if head_lines:
        backend.restrict_to_lines(head_lines)
    return backend


def load_for_training(settings: Settings, p, resume_dir: Path | None):
    """A private copy of the model (its loaded dtype, or ``Settings.llm_training_dtype``) wrapped by peft for LoRA
    training (resumed from ``resume_dir``).

    Args:
        p: ``FinetuneParams`` (model, rank, alpha, dropout, target_modules).
        resume_dir: an adapter saved by an earlier epoch, or None to start a fresh adapter.

    Returns:
        (LoadedModel, peft model in train mode).
    """
    from peft import LoraConfig, PeftModel, get_peft_model

    from betag_engine.llm.models import load_model, load_private_copy, training_dtype

    settings = settings.with_overrides(llm_model=p.model or None)
    shared = load_model(settings.llm_model, cache_dir=settings.model_cache_dir, device=settings.llm_device,
                        quantization=settings.llm_quantization, threads=settings.torch_threads)
    loaded = load_private_copy(shared, training_dtype(shared, settings.llm_training_dtype))
    if resume_dir is not None:
        model = PeftModel.from_pretrained(loaded.model, str(resume_dir), is_trainable=True, local_files_only=True)
    else:
        config = LoraConfig(r=p.rank, lora_alpha=p.alpha, lora_dropout=p.dropout,
                            target_modules=list(p.target_modules), task_type="CAUSAL_LM")
        model = get_peft_model(loaded.model, config)
    model.train()
    return loaded, model
