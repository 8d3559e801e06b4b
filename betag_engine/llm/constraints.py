"""Constrained decoding: each completion must spell out one of a prompt's allowed lines (a token trie).

BETag's beams are lines of the catalog's own tag vocabulary (LLM4Tag's idea of decoding inside the tags that exist):
with ``allowed`` lines per prompt, every step may only continue one of them, so every beam is a valid line and no
step is spent on text no item has. Diverse beams still choose in order, so beam j prefers lines whose tokens the
earlier beams did not take at that step.
"""

from __future__ import annotations

import torch


class LineTrie:
    """The token sequences of the allowed lines (each ending with its newline token), as a trie."""

    def __init__(self, sequences: list[list[int]]):
        self.root: dict[int, dict] = {}
        for seq in sequences:
            node = self.root
            for tok in seq:
                node = node.setdefault(int(tok), {})

    @classmethod
    def from_lines(cls, tokenizer, lines: list[str]) -> LineTrie:
        """A trie over ``lines``, each tokenized as the model writes it: followed by a newline, no special tokens."""
        return cls([tokenizer(line + "\n", add_special_tokens=False)["input_ids"] for line in dict.fromkeys(lines)])


class TrieWalker:
    """Where each decoding row stands in its prompt's trie; masks the logits to the allowed next tokens."""

    def __init__(self, tries: list[LineTrie | None], samples: int, to_head: torch.Tensor | None):
        self.nodes: list[dict | None] = [None if t is None else t.root for t in tries for _ in range(samples)]
        self.to_head = to_head  # token id -> index in the output head (-1 when the head lacks it), or None

    def mask(self, logits: torch.Tensor, active: torch.Tensor) -> torch.Tensor:
        """``logits`` [rows, V'] with every token a row's trie does not allow set to -inf (free rows unchanged)."""
        blocked = torch.zeros_like(logits, dtype=torch.bool)
        for k, row in enumerate(active.tolist()):
            node = self.nodes[row]
            if node is None:
                continue
            ids = torch.tensor(list(node), dtype=torch.long, device=logits.device)
            if self.to_head is not None and ids.numel():
                ids = self.to_head.to(logits.device)[ids]
                ids = ids[ids >= 0]
            blocked[k] = True
            if ids.numel():
                blocked[k, ids] = False
        return logits.masked_fill(blocked, float("-inf"))

    def forced_rest(self, row: int) -> list[int] | None:
        """The tokens that must follow, when the row's trie node leads to a single line and every one of them is in
        the output head; None when it branches ahead, is free, or has nothing left."""
        node = self.nodes[row]
        if node is None:
            return None
        rest: list[int] = []
        while len(node) == 1:
            ((tok, node),) = node.items()
            rest.append(tok)
        if node or not rest:
            return None
        if self.to_head is not None and bool((self.to_head[torch.tensor(rest)] < 0).any()):
            return None
        return rest

    def advance(self, active: torch.Tensor, tokens: torch.Tensor) -> None:
        for row, tok in zip(active.tolist(), tokens.tolist()):
            node = self.nodes[row]
            if node is not None:
                self.nodes[row] = node.get(int(tok), {})
