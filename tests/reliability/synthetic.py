"""A seeded synthetic catalog at a chosen size, written as the CSV files a merchandiser would import.

Items get 2-6 native tags from a Zipf vocabulary, users interact with Zipf-popular items at increasing times.
Used by the import-at-scale measurement (``python tests/reliability/import_scale.py``) and the concurrency suite.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

WORDS = ("organic blender zephyr steel lamp desk walnut linen cotton pad pen notebook cable usb charger kettle "
         "ceramic glass oak chair shelf brush paper ink bottle").split()


def write_catalog(folder: Path, items: int, users: int, interactions: int, tags_vocab: int = 5000,
                  seed: int = 0) -> dict[str, Path]:
    """Write items.csv (item_id, title, description, tags, brand) and interactions.csv (user_id, item_id,
    timestamp, rating) into ``folder``; returns their paths. Interactions are unique per (user, item, timestamp)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"items": folder / "items.csv", "interactions": folder / "interactions.csv"}
    vocab = np.array([f"tag{i}" for i in range(tags_vocab)])
    tag_p = 1.0 / np.arange(1, tags_vocab + 1)
    tag_p /= tag_p.sum()
    with paths["items"].open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["item_id", "title", "description", "tags", "brand"])
        n_tags = rng.integers(2, 7, size=items)
        picks = rng.choice(tags_vocab, size=int(n_tags.sum()), p=tag_p)
        words = rng.integers(0, len(WORDS), size=(items, 3))
        start = 0
        for i in range(items):
            tags = dict.fromkeys(vocab[picks[start:start + n_tags[i]]])
            start += n_tags[i]
            title = " ".join(WORDS[w] for w in words[i]).title() + f" {i}"
            out.writerow([f"I{i:07d}", title, f"A {title.lower()} for every day.", "|".join(tags), f"brand{i % 97}"])
    item_p = 1.0 / np.arange(1, items + 1) ** 0.8
    item_p /= item_p.sum()
    chosen = rng.choice(items, size=interactions, p=item_p)
    who = rng.integers(0, users, size=interactions)
    when = 1_600_000_000 + np.arange(interactions, dtype=np.int64) * 7  # distinct: no repeated (user, item, time)
    ratings = rng.integers(1, 6, size=interactions)
    with paths["interactions"].open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["user_id", "item_id", "timestamp", "rating"])
        for u, i, t, r in zip(who.tolist(), chosen.tolist(), when.tolist(), ratings.tolist()):
            out.writerow([f"U{u:06d}", f"I{i:07d}", t, r])
    return paths
