import random

from hypothesis import given
from hypothesis import strategies as st

from betag_engine.catalog.store import ensure_system, set_item_tags, user_sequences
from betag_engine.split import leave_one_last, restrict_sequences
from betag_engine.tagging.common import aggregate_beams, popular_item_ids
from betag_engine.tagging.config import PromptConfig, tag_line
from betag_engine.tagging.finetune import FinetuneParams, load_training_data
from betag_engine.tagging.sequences import build_examples, crop_window


@given(st.lists(st.integers(), max_size=40), st.integers(1, 20), st.integers(0, 10_000))
def test_crop_window_is_consecutive_and_bounded(seq, window, seed):
    out = crop_window(seq, window, random.Random(seed))
    assert len(out) == min(len(seq), window)
    starts = [i for i in range(len(seq) - len(out) + 1) if seq[i : i + len(out)] == out]
    assert starts  # a run of consecutive elements


def test_windows_are_recropped_each_epoch():
    train = {1: list(range(100))}
    tags = {i: [f"t{i}"] for i in range(100)}
    first = {build_examples(train, tags, "I", 15, random.Random(1))[0].item_ids for _ in range(1)}
    other = {build_examples(train, tags, "I", 15, random.Random(e))[0].item_ids for e in range(2, 12)}
    assert all(len(w) == 15 for w in first | other) and len(first | other) > 2


def test_example_text_format():
    ex = build_examples({7: [1, 2, 3]}, {1: ["a", "b"], 2: [], 3: ["c"]}, "Instr.", 15, random.Random(0))[0]
    assert ex.prefix == "Instr.\n" and ex.body == "a, b\nc\n" and ex.item_ids == (1, 3)
    assert PromptConfig().betag_prompt(["x", "y"]).endswith("\nx, y\n") and tag_line(["a,b"]) == "a b"


def test_aggregation_counts_beams_containing_each_tag():
    beams = [["drama", "war"], ["drama", "drama"], [], ["war", "love"]]
    assert aggregate_beams(beams) == {"drama": 2, "war": 2, "love": 1}  # eqs. 4-5
    assert aggregate_beams([]) == {}


def test_finetuning_examples_never_contain_validation_or_test_items(session):
    pool = popular_item_ids(session, 60)
    system = ensure_system(session, "base", "base")
    for item_id in pool:
        set_item_tags(session, system, item_id, {f"tag{item_id}": 1.0})
    session.commit()
    train, tags = load_training_data(session, FinetuneParams(limit=60, users=None))
    split = leave_one_last(restrict_sequences(user_sequences(session), pool))
    held_out = {c.user: {c.target} for c in split.validation}
    for c in split.test:
        held_out[c.user].add(c.target)
    assert train
    for epoch in range(3):
        for ex in build_examples(train, tags, "I", 15, random.Random(epoch)):
            assert set(ex.item_ids) <= set(split.train[ex.user_id])
            assert not set(ex.item_ids) & held_out.get(ex.user_id, set())
            assert set(ex.item_ids) <= set(pool)


def test_length_batches_keep_every_example_once_and_group_similar_lengths():
    import random

    from betag_engine.tagging.sequences import Example, length_batches

    examples = [Example(u, (u,), "p\n", "x" * (u * 7 % 50) + "\n") for u in range(64)]
    batches = length_batches(examples, 4, random.Random(1), pool=4)
    assert sorted(e.user_id for b in batches for e in b) == list(range(64)) and all(len(b) == 4 for b in batches)
    spread = sum(max(len(e.body) for e in b) - min(len(e.body) for e in b) for b in batches)
    unsorted = sum(max(len(e.body) for e in examples[k:k + 4]) - min(len(e.body) for e in examples[k:k + 4])
                   for k in range(0, 64, 4))
    assert spread < unsorted / 2  # far less padding than batching in the shuffled order
