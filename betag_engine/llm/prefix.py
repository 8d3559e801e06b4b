"""A prompt prefix shared by a whole run, prefilled once (its KV cache reused for every batch).

Base tags and TagGPT prompt every item with the same few-shot examples (about 200-450 tokens) followed by the
item's own few lines. The shared token prefix is computed once per model and run; each batch then copies the
cache, repeats it for its rows and prefills only the items' own tokens. The rows are left-padded *after* the
prefix (the padding sits between the prefix and each item's tokens and is masked), and positions continue from
the prefix, so each row attends to exactly the tokens it would attend to without the cache.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import torch

MIN_PREFIX_TOKENS = 16  # below this the saving is not worth a copy of the cache


def common_prefix(sequences: Sequence[Sequence[int]]) -> int:
    """Length of the longest token prefix all ``sequences`` share, leaving every sequence at least one token."""
    if not sequences:
        return 0
    first = sequences[0]
    n = min(len(s) for s in sequences) - 1
    for k in range(max(n, 0)):
        t = first[k]
        if any(s[k] != t for s in sequences):
            return k
    return max(n, 0)


@dataclass
class PrefixCache:
    """The KV cache of ``ids`` (one row), ready to be repeated for a batch."""

    ids: tuple[int, ...]
    cache: object  # transformers DynamicCache of one row

    @property
    def length(self) -> int:
        return len(self.ids)

    @classmethod
    @torch.inference_mode()
    def build(cls, model, ids: Sequence[int], device) -> PrefixCache:
        from transformers import DynamicCache

        cache = DynamicCache(config=model.config)
        tokens = torch.tensor([list(ids)], dtype=torch.long, device=device)
        model.base_model(input_ids=tokens, attention_mask=torch.ones_like(tokens),
                         position_ids=torch.arange(len(ids), device=device)[None], past_key_values=cache,
                         use_cache=True)
        return cls(tuple(int(i) for i in ids), cache)

    def expanded(self, rows: int):
        """A private copy of the cache with ``rows`` identical rows."""
        cache = copy.deepcopy(self.cache)
        if rows > 1:
            cache.batch_repeat_interleave(rows)
        return cache
