"""Job kinds a worker can run: kind -> "module:function" taking (JobContext, params) and returning a result dict.

Lazy strings keep the app and CLI start fast: heavy modules (torch, transformers) load only in the worker.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

JOB_HANDLERS: dict[str, str] = {
    "import-builtin": "betag_engine.jobs.builtin_jobs:import_builtin_job",
    "evaluate": "betag_engine.evaluation.jobs:evaluate_job",
    "base-tags": "betag_engine.tagging.base_tags:base_tags_job",
    "taggpt": "betag_engine.tagging.taggpt:taggpt_job",
    "finetune": "betag_engine.tagging.finetune:finetune_job",
    "betag": "betag_engine.tagging.betag:betag_job",
    "confidence": "betag_engine.tagging.confidence:confidence_job",
    "pipeline": "betag_engine.tagging.pipeline:pipeline_job",
}


def register_handler(kind: str, target: str) -> None:
    JOB_HANDLERS[kind] = target


def handler_for(kind: str) -> Callable:
    if kind not in JOB_HANDLERS:
        raise ValueError(f"job kind must be one of {', '.join(sorted(JOB_HANDLERS))}, got {kind!r}")
    module, func = JOB_HANDLERS[kind].split(":")
    return getattr(importlib.import_module(module), func)


JOB_PARAMS: dict[str, str] = {
    "base-tags": "betag_engine.tagging.base_tags:BaseTagParams",
    "taggpt": "betag_engine.tagging.taggpt:TagGPTParams",
    "finetune": "betag_engine.tagging.finetune:FinetuneParams",
    "betag": "betag_engine.tagging.betag:BetagParams",
}


def check_params(kind: str, params: dict) -> None:
    """Refuse a job's parameters before it starts (unknown names, wrong values), naming the valid ones."""
    from dataclasses import fields

    handler_for(kind)  # unknown kind -> ValueError listing the kinds
    if kind not in JOB_PARAMS:
        return
    module, name = JOB_PARAMS[kind].split(":")
    cls = getattr(importlib.import_module(module), name)
    valid = sorted(f.name for f in fields(cls))
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise ValueError(f"{kind} job: unknown parameter(s) {', '.join(unknown)}; valid: {', '.join(valid)}")
    try:
        cls(**params)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{kind} job: {exc}") from exc
