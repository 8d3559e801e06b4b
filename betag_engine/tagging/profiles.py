"""Pipeline profiles: the stage parameters of ``quick`` (a subset that fits 30 minutes on a 2-core CPU) and
``full`` (every item and user). Each stage's params are exactly those of its job kind."""

from __future__ import annotations

import copy

from betag_engine.vocabulary import BASE, BASE_TAGS, BETAG, BETAG_JOB, BETAG_NOFT, FINETUNE, TAGGPT, TAGGPT_JOB

DEFAULT_PROFILE = "quick"
OVERRIDE_STAGES = ("base", "taggpt", "finetune", "betag", "noft")  # the profiles' sections
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
        "base": {"batch_size": 16, "max_new_tokens": 40, "repetition_penalty": 1.0},
        "taggpt": {"batch_size": 5, "samples": 3, "max_new_tokens": 24, "min_count": 3, "fusion_threshold": 0.95,
                   "seed": 2024},
        # every user, 2 epochs: the tag-token head made steps 3x cheaper, so this fits where 320 users x 1 epoch
        # with the full head did (measured: BETag H@10 summed over the four cells 0.458 -> 0.520)
        "finetune": {"adapter": "betag-quick", "users": None, "window": 10, "epochs": 2, "batch_size": 4,
                     "lr": 3e-4, "rank": 8, "alpha": 16, "max_tags_per_item": 6, "max_tokens": 128, "head": "tags"},
        "betag": {"m": QUICK_M, "sweep": [1, 2, 4], "max_new_tokens": 24, "batch_size": 4,
                  "max_tags_per_item": 6},
        "noft": {"m": QUICK_M, "max_new_tokens": 24, "batch_size": 4, "max_tags_per_item": 6},
    },
    "full": {
        "description": "all items and users; LoRA r=64 on all attention/MLP projections (paper), lr 1e-4, "
        "3 epochs, m=10",
        "limit": None,
        "base": {"batch_size": 8, "max_new_tokens": 48},
        "taggpt": {"batch_size": 4, "samples": 5, "max_new_tokens": 48, "min_count": 3, "fusion_threshold": 0.95,
                   "seed": 2024},
        "finetune": {"adapter": "betag-full", "window": 15, "epochs": 3, "batch_size": 4, "lr": 1e-4, "rank": 64,
                     "alpha": 128, "max_tags_per_item": 8, "max_tokens": 320,
                     "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]},
        "betag": {"m": 10, "sweep": [1, 2, 4, 6, 8], "max_new_tokens": 40, "batch_size": 4, "max_tags_per_item": 8},
        "noft": {"m": 10, "max_new_tokens": 40, "batch_size": 4, "max_tags_per_item": 8},
    },
}


def default_report_name(dataset: str, profile: str) -> str:
    """The pipeline report's file name when the run does not name it."""
    return f"pipeline-{dataset}-{profile}"


def stage_plan(profile: str, overrides: dict | None = None) -> list[tuple[str, str, dict]]:
    """(stage name, job kind, job params) in order, for ``profile`` with per-stage ``overrides`` merged in."""
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {', '.join(PROFILES)}, got {profile!r}")
    prof = copy.deepcopy(PROFILES[profile])
    for stage, extra in (overrides or {}).items():
        if stage not in OVERRIDE_STAGES:
            raise ValueError(f"override stage must be one of {', '.join(OVERRIDE_STAGES)}, got {stage!r}")
        prof[stage].update(extra)
    sel = {"limit": prof["limit"]} if prof["limit"] else {}
    adapter = prof["finetune"]["adapter"]
    return [
        (BASE, BASE_TAGS, {"system": BASE, **sel, **prof["base"]}),
        (TAGGPT, TAGGPT_JOB, {"system": TAGGPT, **sel, **prof["taggpt"]}),
        (FINETUNE, FINETUNE, {"base_system": BASE, **sel, **prof["finetune"]}),
        (BETAG, BETAG_JOB, {"system": BETAG, "adapter": adapter, **sel, **prof["betag"]}),
        (BETAG_NOFT, BETAG_JOB, {"system": BETAG_NOFT, "adapter": None, **sel, **prof["noft"]}),
    ]
