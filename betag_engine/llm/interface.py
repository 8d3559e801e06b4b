"""The one small interface every LLM backend implements (local transformers, OpenAI-compatible HTTP).

Tagging code (base tags, TagGPT, BETag, confidence) depends only on this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class GenerationConfig:
    """How to sample. ``temperature == 0`` means greedy; ``num_samples`` completions are returned per prompt."""

    max_new_tokens: int = field(default=48, metadata={"help": "Tokens generated per completion at most."})
    temperature: float = field(default=0.0, metadata={"help": "0 = greedy decoding."})
    top_p: float = field(default=1.0, metadata={"help": "Nucleus sampling mass (1 = off)."})
    top_k: int = field(default=0, metadata={"help": "Top-k sampling (0 = off)."})
    repetition_penalty: float = field(default=1.0, metadata={"help": "1 = off."})
    num_samples: int = field(default=1, metadata={"help": "Completions per prompt (BETag's m beams)."})
    stop_at_newline: bool = field(default=True, metadata={"help": "Cut each completion at its first newline."})
    diverse_beams: bool = field(
        default=False,
        metadata={"help": "Diverse beam search (Vijayakumar et al.): each of the m samples is a group of one beam; "
                  "a token already chosen at this step by an earlier sample of the same prompt loses "
                  "diversity_penalty per use. Works with greedy (temperature 0) or sampling."},
    )
    diversity_penalty: float = field(default=1.0, metadata={"help": "Hamming diversity strength (logits)."})
    jump_forced: bool = field(
        default=True,
        metadata={"help": "Constrained greedy decoding: once a completion can only end as one allowed line, write "
                  "the rest of that line without running the model (each remaining step has a single allowed "
                  "token, so the text is the same; off = one model step per token, the slower path)."},
    )
    seed: int | None = field(default=None, metadata={"help": "Sampling seed (None = nondeterministic)."})

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.num_samples < 1:
            raise ValueError(f"num_samples must be >= 1, got {self.num_samples}")


@runtime_checkable
class LLMBackend(Protocol):
    """What tagging needs from a language model."""

    @property
    def description(self) -> str:
        """Model and backend, as recorded on the tagging system (e.g. 'transformers:gemma3-270m')."""

    def generate(self, prompts: list[str], config: GenerationConfig,
                 allowed: list[list[str] | None] | None = None) -> list[list[str]]:
        """For each prompt, ``config.num_samples`` completions (prompt excluded; cut at newline if asked).
        ``allowed``: per prompt, the only lines a completion may be (None: free text)."""

    def score(self, prompts: list[str], answers: list[str]) -> list[float]:
        """Sum of the log-probabilities of each answer's tokens given its prompt."""
