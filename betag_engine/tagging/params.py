"""Parameters the tagging jobs share: which items, which model, which prompt, and the global seed."""

from __future__ import annotations

from dataclasses import field, replace
from typing import Any


def item_ids_field() -> Any:
    """The ``item_ids`` parameter every tagging job takes (see ``common.select_items``)."""
    return field(default=None, metadata={"help": "Items to work on (database ids); default: limit, else every item.",
                                         "min": 1, "min_items": 1, "null": "limit, else every item"})


def limit_field() -> Any:
    """The ``limit`` parameter every tagging job takes (see ``common.select_items``)."""
    return field(default=None, metadata={"help": "Only the N most-interacted items (when item_ids is not given).",
                                         "min": 1, "null": "every item"})


def model_field() -> Any:
    """The ``model`` parameter of the jobs that run an LLM."""
    return field(default=None, metadata={"help": "Model spec (built-in key or local model folder); "
                                                 "default BETAG_LLM_MODEL."})


def with_global_seed(p: Any, settings: Any) -> Any:
    """``p`` (a job's parameter dataclass) with ``seed`` = BETAG_SEED where the job's parameters left it unset."""
    return p if p.seed is not None else replace(p, seed=settings.seed)


def prompt_field() -> Any:
    """The ``prompt`` parameter of the tagging jobs: ``config.PromptConfig`` fields."""
    return field(default_factory=dict, metadata={"help": "PromptConfig fields: a domain preset "
                                                         "({\"domain\": \"products\"}) and/or templates."})


def holdout_field() -> Any:
    """The ``holdout_items`` parameter of the behaviour stages: cold items whose behaviour is ignored."""
    return field(default_factory=list, metadata={"help": "Items treated as cold: every interaction with them is left "
                                                         "out of the behaviour the job learns from."})
