"""A seeded synthetic merchandiser catalog (items with titles and native tags, users, interactions) at any size.

Tags per item: uniform in [tags_min, tags_max], distinct, drawn from a Zipf(tag_zipf) vocabulary; item
popularity Zipf(item_zipf) over a random permutation of the items; user activity log-normal, every user at least
one interaction; timestamps increase along each user's sequence. Same seed, same catalog.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from betag_engine.settings import DEFAULT_SEED

_BRANDS = ("Zephyr", "Aurora", "Nimbus", "Kestrel", "Solace", "Vertex", "Harbor", "Juniper", "Cobalt", "Meridian",
           "Tundra", "Saffron", "Quill", "Lumen", "Pioneer", "Orchid", "Granite", "Willow", "Falcon", "Ember")
_ADJECTIVES = ("Organic", "Compact", "Deluxe", "Classic", "Portable", "Smart", "Vintage", "Ultra", "Eco", "Pro",
               "Mini", "Premium", "Rustic", "Modern", "Wireless", "Foldable", "Heavy-Duty", "Travel", "Silent",
               "Quick")
_NOUNS = ("Blender", "Kettle", "Backpack", "Lamp", "Jacket", "Headphones", "Skillet", "Tent", "Notebook", "Sneaker",
          "Toaster", "Speaker", "Chair", "Blanket", "Bottle", "Watch", "Drill", "Mug", "Pillow", "Scarf", "Router",
          "Grinder", "Helmet", "Vase", "Keyboard")


@dataclass(frozen=True)
class CatalogSpec:
    """Sizes and shapes of the synthetic catalog (the defaults are issue 17's merchandiser catalog)."""

    n_items: int = field(default=100_000, metadata={"help": "Items."})
    n_users: int = field(default=50_000, metadata={"help": "Users (each with at least one interaction)."})
    n_interactions: int = field(default=1_000_000, metadata={"help": "Interactions (>= n_users)."})
    n_tags: int = field(default=5_000, metadata={"help": "Native tag vocabulary."})
    tags_min: int = field(default=2, metadata={"help": "Fewest native tags per item."})
    tags_max: int = field(default=6, metadata={"help": "Most native tags per item."})
    tag_zipf: float = field(default=1.0, metadata={"help": "Zipf exponent of tag frequency."})
    item_zipf: float = field(default=1.0, metadata={"help": "Zipf exponent of item popularity."})
    seed: int = field(default=DEFAULT_SEED, metadata={"help": "Seed of every draw."})

    def __post_init__(self) -> None:
        if min(self.n_items, self.n_users, self.n_tags) < 1:
            raise ValueError("n_items, n_users and n_tags must be >= 1")
        if self.n_interactions < self.n_users:
            raise ValueError(f"n_interactions ({self.n_interactions}) must be >= n_users ({self.n_users})")
        if not 1 <= self.tags_min <= self.tags_max <= self.n_tags:
            raise ValueError(f"need 1 <= tags_min <= tags_max <= n_tags, got {self.tags_min}, {self.tags_max}")


@dataclass
class Catalog:
    """items: item_id, title, tags ('|'-joined); interactions: user_id, item_id, timestamp (epoch seconds)."""

    items: pd.DataFrame
    interactions: pd.DataFrame


def _zipf(n: int, s: float) -> np.ndarray:
    p = 1.0 / np.arange(1, n + 1, dtype=np.float64) ** s
    return p / p.sum()


def _item_tags(spec: CatalogSpec, rng: np.random.Generator) -> list[str]:
    """'|'-joined distinct tag names per item, Zipf over the vocabulary."""
    vocab = np.array([f"tag {i:05d}" for i in range(spec.n_tags)], dtype=object)
    want = rng.integers(spec.tags_min, spec.tags_max + 1, size=spec.n_items)
    p = _zipf(spec.n_tags, spec.tag_zipf)
    extra = 3 * spec.tags_max  # draws per item, so that the wanted number of distinct tags is nearly always there
    draws = rng.choice(spec.n_tags, size=(spec.n_items, extra), p=p)
    out = []
    for row, k in zip(draws, want):
        _, first = np.unique(row, return_index=True)
        cols = row[np.sort(first)][:k]
        out.append("|".join(vocab[cols]))
    return out


def build_catalog(spec: CatalogSpec = CatalogSpec()) -> Catalog:
    """Draw the catalog (100k items / 1M interactions: a few seconds)."""
    rng = np.random.default_rng(spec.seed)
    ids = np.array([f"SKU{i:07d}" for i in range(spec.n_items)], dtype=object)
    b, a, n = (rng.integers(0, len(x), spec.n_items) for x in (_BRANDS, _ADJECTIVES, _NOUNS))
    number = rng.integers(100, 10_000, spec.n_items)
    titles = [f"{_BRANDS[i]} {_ADJECTIVES[j]} {_NOUNS[k]} {m}" for i, j, k, m in zip(b, a, n, number)]
    items = pd.DataFrame({"item_id": ids, "title": titles, "tags": _item_tags(spec, rng)})
    activity = rng.lognormal(0.0, 1.0, spec.n_users)
    rest = rng.choice(spec.n_users, size=spec.n_interactions - spec.n_users, p=activity / activity.sum())
    users = np.concatenate([np.arange(spec.n_users), rest])
    rank_of_item = rng.permutation(spec.n_items)
    chosen = rank_of_item[rng.choice(spec.n_items, size=spec.n_interactions, p=_zipf(spec.n_items, spec.item_zipf))]
    stamps = 1_600_000_000 + rng.integers(0, 3 * 365 * 86_400, spec.n_interactions)
    inter = pd.DataFrame({"user_id": np.array([f"U{u:06d}" for u in range(spec.n_users)], dtype=object)[users],
                          "item_id": ids[chosen], "timestamp": stamps})
    inter = inter.drop_duplicates(["user_id", "item_id", "timestamp"]).reset_index(drop=True)
    return Catalog(items, inter)


def write_catalog(catalog: Catalog, folder: str | Path, fmt: str = "csv") -> tuple[Path, Path]:
    """Write items and interactions files (csv or parquet) into ``folder``; returns their paths."""
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"fmt must be one of csv, parquet, got {fmt!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / f"items.{fmt}", folder / f"interactions.{fmt}"
    for frame, path in zip((catalog.items, catalog.interactions), paths):
        frame.to_csv(path, index=False) if fmt == "csv" else frame.to_parquet(path, index=False)
    return paths
