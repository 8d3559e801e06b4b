"""Pipeline profiles: the stage parameters of ``quick`` (the most-interacted items of any catalog, sized for a
2-core CPU) and ``full`` (every item and user). Each section holds exactly its job kind's parameters.

Stages, in order (the section of each, for ``--override section.param=value``, in brackets):

* ``base`` [base]: base tags (eq. 1) of every evaluated item.
* ``taggpt`` [taggpt]: TagGPT, the multi-sample baseline.
* ``cf-tags`` [cf-tags]: behaviour-propagated base tags (no LLM): the behaviour baseline.
* ``finetune`` [finetune]: LoRA on behaviour, in BETag's best configuration (context examples: the prompt shows
  the item's behaviour pairs, the answer is a real successor's line).
* ``betag`` [betag]: BETag in the project's best configuration (behaviour in context), with the beam sweep.
* ``betag-noft`` [noft]: the same prompts with the base model (ablation: no finetuning).
* ``finetune-paper`` [finetune-paper] and ``betag-paper`` [betag-paper]: the paper's configuration (windows of
  behaviour sequences, prompt = the item's base tags only), kept as an ablation row.

``shared`` holds values every stage that has the parameter gets (m, tags per line, the behaviour context), so a
profile states them once. A seeded ``cold_share`` of the evaluated items is cold: their interactions are held
out of every behaviour stage and of popularity; the report has a Table 2 over the test cases whose target is cold.
"""

from __future__ import annotations

import copy
from typing import NamedTuple

from betag_engine.vocabulary import (
    BASE,
    BASE_TAGS,
    BETAG,
    BETAG_JOB,
    BETAG_NOFT,
    BETAG_PAPER,
    CF_TAGS,
    CF_TAGS_JOB,
    FINETUNE,
    TAGGPT,
    TAGGPT_JOB,
)

DEFAULT_PROFILE = "quick"
NOFT = "noft"  # the profile section of the no-finetuning ablation (stage betag-noft)
FINETUNE_PAPER = "finetune-paper"
SHARED = "shared"
OVERRIDE_STAGES = (SHARED, BASE, TAGGPT, CF_TAGS, FINETUNE, BETAG, NOFT, FINETUNE_PAPER, BETAG_PAPER)
# pipeline --parallel: stage -> the stage run beside it (both generate; neither reads what the other writes:
# tests/experiments/test_companion_pairs.py). The two finetuning stages are not paired: two 1-thread processes train
# at 0.87x the rate of one after the other on two threads (`bench generation`, "2 finetunes").
COMPANIONS = {BASE: TAGGPT, BETAG: BETAG_NOFT}
PARALLEL_HELP = ("Run these stages in pairs, one thread apiece (the second as its own recorded job in a worker "
                 "process): " + ", ".join(f"{b} beside {a}" for a, b in COMPANIONS.items()) + ". The same tags, "
                 "sooner on a machine with two or more cores.")
QUICK_ITEMS = 150
PAPER_LORA_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")  # every projection

PROFILES: dict[str, dict] = {
    DEFAULT_PROFILE: {
        "description": f"the {QUICK_ITEMS} most-interacted items of the catalog and every user's interactions on "
        "them (sequences restricted to those items, then split leave-one-last; candidates = those items); a "
        "seeded 20% of them are cold (held out of every behaviour stage and of popularity); base tags greedy; "
        "TagGPT 3 samples; cf-tags over 8 training successors; BETag: LoRA r=8 on q/v, 1 epoch of 600 context "
        "examples (the prompt shows 6 (item, successor) line pairs of the behaviour graph, ranked by count / "
        "popularity^0.5; cold items show their 3 nearest content neighbours' pairs; 20% of the examples shown as "
        "cold), lr 3e-4, loss over the tag lines' tokens; m=8 diverse beams with the same prompts, each beam one of "
        "the successor lines shown (token trie), the base tags counted as beam 0; betag-paper: the paper's windows "
        "of 10 items from 600 sampled users, 1 epoch, prompt = base tags only, free beams",
        "limit": QUICK_ITEMS,
        "cold_share": 0.2,
        SHARED: {"m": 8, "max_tags_per_item": 6, "context_pairs": 6, "lift_alpha": 0.5, "content_neighbours": 3},
        # repetition_penalty 1.0: the penalty also counts the prompt's tokens, so 1.15 pushed the model away
        # from the few-shot vocabulary (drama, family, thriller, ...) towards wrong genres
        BASE: {"batch_size": 16, "max_new_tokens": 40, "repetition_penalty": 1.0},
        TAGGPT: {"batch_size": 5, "samples": 3, "max_new_tokens": 24, "min_count": 3, "fusion_threshold": 0.95},
        CF_TAGS: {},
        FINETUNE: {"adapter": "betag-quick", "context": "behaviour", "examples_per_epoch": 600, "cold_rate": 0.2,
                   "epochs": 1, "batch_size": 4, "lr": 3e-4, "rank": 8, "alpha": 16, "max_tokens": 512,
                   "head": "tags"},
        BETAG: {"context": "behaviour", "vocabulary": "context", "sweep": [1, 2, 4], "max_new_tokens": 40,
                "batch_size": 4},
        NOFT: {"context": "behaviour", "vocabulary": "context", "max_new_tokens": 40, "batch_size": 4},
        # 600 users: the ablation's finetuning in about 4 min on a catalog of any size (Amazon Office has 1,706
        # training users: 427 steps, 9 min, which put the quick profile over 30 min)
        FINETUNE_PAPER: {"adapter": "betag-paper-quick", "context": "none", "users": 600, "window": 10,
                         "epochs": 1, "batch_size": 4, "lr": 3e-4, "rank": 8, "alpha": 16, "max_tokens": 128,
                         "head": "tags"},
        BETAG_PAPER: {"context": "none", "max_new_tokens": 24, "batch_size": 4},
    },
    "full": {
        "description": "all items and users; a seeded 20% of the items cold; TagGPT 5 samples; cf-tags over 10 "
        "successors; BETag: LoRA r=16 on q/v, 2 epochs of 4,000 context examples, m=10; betag-paper: LoRA r=64 "
        "on all attention/MLP projections (paper), lr 1e-4, windows of 15 items, 1 epoch, m=10",
        "limit": None,
        "cold_share": 0.2,
        SHARED: {"m": 10, "max_tags_per_item": 8, "context_pairs": 6, "lift_alpha": 0.5, "content_neighbours": 3},
        BASE: {"batch_size": 16, "max_new_tokens": 40, "repetition_penalty": 1.0},
        TAGGPT: {"batch_size": 8, "samples": 5, "max_new_tokens": 32, "min_count": 3, "fusion_threshold": 0.95},
        CF_TAGS: {},
        FINETUNE: {"adapter": "betag-full", "context": "behaviour", "examples_per_epoch": 4000, "cold_rate": 0.2,
                   "epochs": 2, "batch_size": 4, "lr": 3e-4, "rank": 16, "alpha": 32, "max_tokens": 512,
                   "head": "tags"},
        BETAG: {"context": "behaviour", "vocabulary": "context", "sweep": [1, 2, 4, 6, 8], "max_new_tokens": 40,
                "batch_size": 4},
        NOFT: {"context": "behaviour", "vocabulary": "context", "max_new_tokens": 40, "batch_size": 4},
        FINETUNE_PAPER: {"adapter": "betag-paper-full", "context": "none", "window": 15, "epochs": 1,
                         "batch_size": 4, "lr": 1e-4, "rank": 64, "alpha": 128, "max_tokens": 320, "head": "tags",
                         "target_modules": list(PAPER_LORA_MODULES)},
        BETAG_PAPER: {"context": "none", "max_new_tokens": 32, "batch_size": 4},
    },
}

# stage name, job kind, profile section; and which shared values each kind takes
_STAGES = ((BASE, BASE_TAGS, BASE), (TAGGPT, TAGGPT_JOB, TAGGPT), (CF_TAGS, CF_TAGS_JOB, CF_TAGS),
           (FINETUNE, FINETUNE, FINETUNE), (BETAG, BETAG_JOB, BETAG), (BETAG_NOFT, BETAG_JOB, NOFT),
           (FINETUNE_PAPER, FINETUNE, FINETUNE_PAPER), (BETAG_PAPER, BETAG_JOB, BETAG_PAPER))
_SHARED_BY_KIND = {
    CF_TAGS_JOB: ("m", "max_tags_per_item"),
    FINETUNE: ("max_tags_per_item", "context_pairs", "lift_alpha", "content_neighbours"),
    BETAG_JOB: ("m", "max_tags_per_item", "context_pairs", "lift_alpha", "content_neighbours"),
}
_HOLDOUT_KINDS = (CF_TAGS_JOB, FINETUNE, BETAG_JOB)


def default_report_name(dataset: str, profile: str) -> str:
    """The pipeline report's file name when the run does not name it."""
    return f"pipeline-{dataset}-{profile}"


class Stage(NamedTuple):
    """One pipeline stage: a job of ``kind`` with ``params``; ``name`` (the system it writes, or a finetune stage's
    name) labels its checkpoint, its run time and its model in the report."""

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


def profile_values(profile: str, overrides: dict | None = None) -> dict:
    """The profile's sections with ``overrides`` ({section: {param: value}}) merged in."""
    check_profile(profile, overrides)
    prof = copy.deepcopy(PROFILES[profile])
    for section, extra in (overrides or {}).items():
        prof[section].update(extra)
    return prof


def seed_system(seed: int) -> str:
    """The system of BETag's best configuration rerun with another finetuning seed."""
    return f"{BETAG}-s{seed}"


def stage_plan(profile: str, seed: int, overrides: dict | None = None, item_ids: list[int] | None = None,
               holdout: list[int] | None = None, prompt: dict | None = None,
               seeds: list[int] | None = None) -> list[Stage]:
    """The stages in order.

    Args:
        seed: TagGPT's sampling seed (BETAG_SEED), recorded in its stage's params like any other value; the other
            stages' jobs default to BETAG_SEED themselves.
        item_ids: the evaluated items (every stage works on exactly these); None = the profile's ``limit``.
        holdout: cold items, held out of the behaviour stages (cf-tags, finetuning, BETag).
        prompt: the catalog's PromptConfig fields, given to every LLM stage.
        seeds: more finetuning seeds for BETag's best configuration: each adds a finetune and a BETag stage
            (system ``betag-s<seed>``), so the report can give BETag's spread over seeds.
    """
    prof = profile_values(profile, overrides)
    prof[TAGGPT]["seed"] = seed
    if item_ids is not None:
        selection = {"item_ids": [int(i) for i in item_ids]}
    else:
        selection = {"limit": prof["limit"]} if prof["limit"] else {}
    adapters = {BETAG: prof[FINETUNE]["adapter"], BETAG_NOFT: None, BETAG_PAPER: prof[FINETUNE_PAPER]["adapter"]}
    plan = []
    for name, kind, section in _STAGES:
        params = {**selection, **{k: v for k, v in prof[SHARED].items() if k in _SHARED_BY_KIND.get(kind, ())}}
        if kind in (BASE_TAGS, TAGGPT_JOB, BETAG_JOB, CF_TAGS_JOB):
            params["system"] = name
        if kind in (FINETUNE, BETAG_JOB, CF_TAGS_JOB):
            params["base_system"] = BASE
        if kind == BETAG_JOB:
            params["adapter"] = adapters[name]
        if kind in _HOLDOUT_KINDS and holdout:
            params["holdout_items"] = sorted(int(i) for i in holdout)
        if prompt and kind != CF_TAGS_JOB:
            params["prompt"] = dict(prompt)
        plan.append(Stage(name, kind, {**params, **prof[section]}))
    by_name = {s.name: s for s in plan}
    for extra in seeds or ():
        tuned = {**by_name[FINETUNE].params, "seed": int(extra), "adapter": f"{prof[FINETUNE]['adapter']}-s{extra}"}
        plan.append(Stage(f"{FINETUNE}-s{extra}", FINETUNE, tuned))
        plan.append(Stage(seed_system(extra), BETAG_JOB, {**by_name[BETAG].params, "system": seed_system(extra),
                                                          "adapter": tuned["adapter"], "sweep": []}))
    return plan
