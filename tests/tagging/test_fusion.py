import numpy as np

from betag_engine.tagging.confidence import yes_probability
from betag_engine.tagging.config import PromptConfig
from betag_engine.tagging.fusion import fuse_vocabulary, make_embed
from betag_engine.tagging.item_text import ItemInfo
from betag_engine.tagging.taggpt import finalize_taggpt

VECTORS = {"sci fi": [1, 0, 0], "sci-fi": [0.99, 0.14, 0], "scifi": [0.9, 0.43, 0], "drama": [0, 0, 1],
           "war": [0, 1, 0], "rare": [0.5, 0.5, 0.7]}


def _embed(tags):
    return np.array([VECTORS[t] for t in tags], dtype=float)


def test_frequency_filter_then_fusion_into_most_frequent():
    raw = {1: {"sci fi": 1, "sci-fi": 2, "drama": 3}, 2: {"sci-fi": 1, "war": 2, "rare": 1}, 3: {"war": 1}}
    out = finalize_taggpt(raw, min_count=3, threshold=0.95, embed=_embed)
    # "rare" (1) and "sci fi" (1) fall under the filter; war (3), sci-fi (3), drama (3) stay
    assert out == {1: {"sci-fi": 2.0, "drama": 3.0}, 2: {"sci-fi": 1.0, "war": 2.0}, 3: {"war": 1.0}}
    mapping = fuse_vocabulary(["sci fi", "sci-fi", "scifi"], {"sci fi": 5, "sci-fi": 2, "scifi": 1}, _embed, 0.95)
    assert mapping == {"sci fi": "sci fi", "sci-fi": "sci fi", "scifi": "scifi"}  # scifi: cos 0.90 < 0.95


def test_real_embedding_model_fuses_spelling_variants():
    embed = make_embed()
    mapping = fuse_vocabulary(["sci fi", "sci-fi", "comedy"], {"sci fi": 3, "sci-fi": 1, "comedy": 2}, embed, 0.95)
    assert mapping["sci-fi"] == "sci fi" and mapping["comedy"] == "comedy"


def test_confidence_and_prompt_config_round_trip(tmp_path):
    assert abs(yes_probability(-1.0, -1.0) - 0.5) < 1e-12
    assert yes_probability(0.0, -50.0) > 0.999 and yes_probability(-800.0, 0.0) >= 0.0
    for domain in ("movies", "products"):
        config = PromptConfig(domain=domain, instruction="Custom instruction.")
        config.save(tmp_path / f"{domain}.json")
        assert PromptConfig.load(tmp_path / f"{domain}.json") == config
        prompt = config.base_prompt(ItemInfo("X"))
        assert "{item}" not in prompt and prompt.endswith(": X\nTags:")
