"""The one place the LLM backend is chosen from the settings."""

from __future__ import annotations

from betag_engine.llm.interface import LLMBackend

BACKENDS = ("transformers", "openai")


def get_backend(settings, **kwargs) -> LLMBackend:
    """The backend named by ``settings.llm_backend``.

    Args:
        settings: ``betag_engine.settings.Settings``.
        **kwargs: passed to the backend's ``from_settings`` (e.g. ``adapter_path=``, ``batch_size=`` for
            transformers; ``timeout_s=`` for openai).
    """
    if settings.llm_backend == "transformers":
        from betag_engine.llm.transformers_backend import TransformersBackend

        return TransformersBackend.from_settings(settings, **kwargs)
    if settings.llm_backend == "openai":
        from betag_engine.llm.openai_backend import OpenAIBackend

        return OpenAIBackend.from_settings(settings, **kwargs)
    raise ValueError(f"llm_backend must be one of {', '.join(BACKENDS)}, got {settings.llm_backend!r}")
