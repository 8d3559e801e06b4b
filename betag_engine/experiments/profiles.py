"""Pipeline profiles: the stage parameters of ``quick`` (a subset that fits 30 minutes on a 2-core CPU) and
``full`` (every item and user). Each stage's params are exactly those of its job kind."""

from __future__ import annotations

import copy
from typing import NamedTuple

from betag_engine.vocabulary import BASE, BASE_TAGS, BETAG, BETAG_JOB, BETAG_NOFT, FINETUNE, TAGGPT, TAGGPT_JOB

DEFAULT_PROFILE = "quick"
NOFT = "noft"  # the profile section (and --override stage) of the no-finetuning ablation, stage betag-noft
OVERRIDE_STAGES = (BASE, TAGGPT, FINETUNE, BETAG, NOFT)  # the profiles' sections
QUICK_ITEMS = 150
QUICK_M = 8

PROFILES: dict[str, dict] = {
    DEFAULT_PROFILE: {
        "description": f"the {QUICK_ITEMS} most-interacted items of the catalog and every user's interactions on "
        "them (sequences restricted to those items, then split leave-one-last; candidates = those items); base "
        "tags greedy without repetition penalty; TagGPT 3 samples; LoRA r=8 on q/v, 2 epochs over every user "
        "(windows of 10 items), lr 3e-4, loss over the tag lines' tokens (head 'tags'); "
        f"m={QUICK_M} diverse beams (one greedy beam per group, diversity penalty 1), the base tags counted as "
        "beam 0",
        "limit": QUICK_ITEMS,
        # repetition_penalty 1.0: the penalty also counts the prompt's tokens, so 1.15 pushed the model away
        # from the few-shot vocabulary (drama, family, thriller, ...) towards wrong genres
        BASE: {"batch_size": 16, "max_new_tokens": 40, "repetition_penalty": 1.0},
        TAGGPT: {"batch_size": 5, "samples": 3, "max_new_tokens": 24, "min_count": 3, "fusion_threshold": 0.95},
        # every user, 2 epochs: the tag-token head made steps 3x cheaper, so this fits where 320 users x 1 epoch
        # with the full head did (measured: BETag H@10 summed over the four cells 0.458 -> 0.520)
        FINETUNE: {"adapter": "betag-quick", "users": None, "window": 10, "epochs": 2, "batch_size": 4,
                   "lr": 3e-4, "rank": 8, "alpha": 16, "max_tags_per_item": 6, "max_tokens": 128, "head": "tags"},
        BETAG: {"m": QUICK_M, "sweep": [1, 2, 4], "max_new_tokens": 24, "batch_size": 4, "max_tags_per_item": 6},
        NOFT: {"m": QUICK_M, "max_new_tokens": 24, "batch_size": 4, "max_tags_per_item": 6},
    },
    "full": {
        "description": "all items and users; LoRA r=64 on all attention/MLP projections (paper), lr 1e-4, "
        "3 epochs, m=10",
        "limit": None,
        BASE: {"batch_size": 8, "max_new_tokens": 48},
        TAGGPT: {"batch_size": 4, "samples": 5, "max_new_tokens": 48, "min_count": 3, "fusion_threshold": 0.95},
        FINETUNE: {"adapter": "betag-full", "window": 15, "epochs": 3, "batch_size": 4, "lr": 1e-4, "rank": 64,
                   "alpha": 128, "max_tags_per_item": 8, "max_tokens": 320,
                   "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]},
        BETAG: {"m": 10, "sweep": [1, 2, 4, 6, 8], "max_new_tokens": 40, "batch_size": 4, "max_tags_per_item": 8},
        NOFT: {"m": 10, "max_new_tokens": 40, "batch_size": 4, "max_tags_per_item": 8},
    },
}


def default_report_name(dataset: str, profile: str) -> str:
    """The pipeline report's file name when the run does not name it."""
    return f"pipeline-{dataset}-{profile}"


class Stage(NamedTuple):
    """One pipeline stage: a job of ``kind`` with ``params``; ``name`` (the system it writes, or "finetune") labels
    its checkpoint, its run time and its model in the report."""

    name: str
    kind: str
    params: dict


def check_profile(profile: str, overrides: dict | None = None) -> None:
    """Refuse an unknown profile or override section, listing the valid ones."""
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {', '.join(PROFILES)}, got {profile!r}")
    for stage in overrides or {}:
        if stage not in OVERRIDE_STAGES:
            raise ValueError(f"override stage must be one of {', '.join(OVERRIDE_STAGES)}, got {stage!r}")


def stage_plan(profile: str, seed: int, overrides: dict | None = None) -> list[Stage]:
    """The stages in order, for ``profile`` with per-section ``overrides`` ({section: {param: value}}) merged in.

    Args:
        seed: TagGPT's sampling seed (BETAG_SEED), recorded in its stage's params like any other value; the other
            stages' jobs default to BETAG_SEED themselves.
    """
    check_profile(profile, overrides)
    prof = copy.deepcopy(PROFILES[profile])
    prof[TAGGPT]["seed"] = seed
    for stage, extra in (overrides or {}).items():
        prof[stage].update(extra)
    sel = {"limit": prof["limit"]} if prof["limit"] else {}
    adapter = prof[FINETUNE]["adapter"]
    return [
        Stage(BASE, BASE_TAGS, {"system": BASE, **sel, **prof[BASE]}),
        Stage(TAGGPT, TAGGPT_JOB, {"system": TAGGPT, **sel, **prof[TAGGPT]}),
        Stage(FINETUNE, FINETUNE, {"base_system": BASE, **sel, **prof[FINETUNE]}),
        Stage(BETAG, BETAG_JOB, {"system": BETAG, "adapter": adapter, **sel, **prof[BETAG]}),
        Stage(BETAG_NOFT, BETAG_JOB, {"system": BETAG_NOFT, "adapter": None, **sel, **prof[NOFT]}),
    ]
