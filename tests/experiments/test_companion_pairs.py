"""--parallel pairs: a stage and its companion run at once, so neither may read what the other writes."""

import pytest

from betag_engine.experiments.profiles import COMPANIONS, PROFILES, stage_plan
from betag_engine.vocabulary import FINETUNE


def _writes(stage) -> set[str]:
    """A finetuning stage writes its adapter; every other stage its tagging system."""
    return {stage.params["adapter"] if stage.kind == FINETUNE else stage.params["system"]}


def _reads(stage) -> set[str]:
    return {stage.params.get("base_system")} | ({stage.params.get("adapter")} if stage.kind != FINETUNE else set())


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_each_companion_comes_later_in_the_plan_and_neither_reads_what_the_other_writes(profile):
    plan = stage_plan(profile, 2024)
    order = {s.name: n for n, s in enumerate(plan)}
    by_name = {s.name: s for s in plan}
    for main, beside in COMPANIONS.items():
        a, b = by_name[main], by_name[beside]
        assert order[main] < order[beside], (main, beside)
        assert not _writes(a) & (_reads(b) | _writes(b)) and not _writes(b) & _reads(a), (main, beside)
