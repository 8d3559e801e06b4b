"""Local causal LMs through transformers (CPU or CUDA), implementing ``LLMBackend``.

Prompts are used verbatim (raw completion). Base models such as Gemma-3-270M take few-shot completion
prompts as they are; for instruct models (SmolLM2) build the prompt with ``format_chat(messages)``, which
applies the model's chat template and ends with the assistant turn opener. ``is_chat_model`` says which.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from betag_engine.llm.constraints import LineTrie
from betag_engine.llm.decoding import OutputHead, TokenTables, build_tables, decode, restrict_tables
from betag_engine.llm.interface import GenerationConfig
from betag_engine.llm.models import LoadedModel, ModelLoadError, load_model, load_private_copy
from betag_engine.llm.prefix import MIN_PREFIX_TOKENS, PrefixCache, common_prefix

VOCAB_RESTRICTIONS = ("none", "ascii")
HEAD_TOKENS_FILE = "head_tokens.json"  # in an adapter folder: the output vocabulary it was trained against
_TABLES: dict[tuple, TokenTables] = {}  # per (model dir, restriction): decoding 262k tokens takes seconds


class TransformersBackend:
    """``LLMBackend`` over a loaded transformers model.

    Args:
        loaded: from ``models.load_model`` (shared, process-wide cached) or a private copy.
        batch_size: rows decoded together (prompts x samples); batching is the main CPU lever.
        vocab_restriction: ``none`` or ``ascii`` (sample only tokens whose text is ASCII; newline and EOS
            stay allowed). Greedy output is unchanged whenever the unrestricted argmax is ASCII.
        adapter_path: a peft LoRA adapter directory to apply. If it holds ``head_tokens.json`` (the adapter was
            trained against an output layer restricted to those token ids), generation uses that same head
            instead of ``vocab_restriction``.
        merge_adapter: merge the adapter into a private copy of the weights (faster inference).
        prefix_cache: prefill the prompts' shared prefix once and reuse its KV cache (``llm.prefix``).
    """

    def __init__(
        self,
        loaded: LoadedModel,
        *,
        batch_size: int = 16,
        vocab_restriction: str = "none",
        adapter_path: str | Path | None = None,
        merge_adapter: bool = True,
        prefix_cache: bool = True,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if vocab_restriction not in VOCAB_RESTRICTIONS:
            raise ValueError(
                f"vocab_restriction must be one of {', '.join(VOCAB_RESTRICTIONS)}, got {vocab_restriction!r}"
            )
        self.loaded = loaded
        self.tokenizer = loaded.tokenizer
        self.batch_size = batch_size
        self.vocab_restriction = vocab_restriction
        self.adapter_path = None if adapter_path is None else Path(adapter_path)
        self.model = loaded.model
        self.head_tokens: tuple[int, ...] | None = None
        if self.adapter_path is not None:
            self.model = _apply_adapter(loaded, self.adapter_path, merge_adapter)
            self.head_tokens = read_head_tokens(self.adapter_path)
        self.merged = merge_adapter
        self._head: OutputHead | None = None
        self.prefix_cache = prefix_cache
        self._prefix: PrefixCache | None = None

    @classmethod
    def from_settings(cls, settings, *, adapter_path: str | Path | None = None, **kwargs) -> "TransformersBackend":
        """Build from ``Settings`` (llm_model, llm_device, llm_quantization, torch_threads, model_cache_dir)."""
        loaded = load_model(
            settings.llm_model,
            cache_dir=settings.model_cache_dir,
            device=settings.llm_device,
            quantization=settings.llm_quantization,
            threads=settings.torch_threads,
        )
        return cls(loaded, adapter_path=adapter_path, **kwargs)

    @property
    def description(self) -> str:
        adapter = f"+lora:{self.adapter_path.name}" if self.adapter_path is not None else ""
        return f"transformers:{self.loaded.name}{adapter}"

    @property
    def is_chat_model(self) -> bool:
        """True when the tokenizer has a chat template (instruct models): use ``format_chat``."""
        return bool(getattr(self.tokenizer, "chat_template", None))

    def format_chat(self, messages: list[dict[str, str]]) -> str:
        """Render chat turns ({'role', 'content'}) into one prompt string ending at the assistant's turn."""
        if not self.is_chat_model:
            raise ModelLoadError(f"{self.loaded.name} has no chat template; write a raw completion prompt instead")
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    # -- generation ---------------------------------------------------------------------------------------
    def restrict_to_lines(self, lines: list[str]) -> None:
        """Generate through the output rows of the tokens of ``lines`` (plus newline and end tokens), as an adapter
        trained with the tag-token head does; a no-op when an adapter already brought its own head. Greedy text
        that stays inside those tokens is what the full head gives (test); everything is faster."""
        if self.head_tokens is not None:
            return
        ids = {t for line in lines for t in self.tokenizer(line + "\n", add_special_tokens=False)["input_ids"]}
        self.head_tokens, self._head = tuple(sorted(ids)), None

    def _tables(self) -> TokenTables:
        if self.head_tokens is not None:
            key = (str(self.loaded.hf_dir), "adapter", hash(self.head_tokens))
            if key not in _TABLES:
                _TABLES[key] = restrict_tables(self._base_tables("none"), self.head_tokens)
            return _TABLES[key]
        return self._base_tables(self.vocab_restriction)

    def _base_tables(self, restriction: str) -> TokenTables:
        key = (str(self.loaded.hf_dir), restriction, len(self.tokenizer))
        if key not in _TABLES:
            vocab = self.model.get_output_embeddings().weight.shape[0]
            _TABLES[key] = build_tables(self.tokenizer, self.model.config, vocab, restriction)
        return _TABLES[key]

    def _output_head(self) -> OutputHead:
        if self._head is None:
            self._head = OutputHead(self.model, self._tables().allowed)
        return self._head

    def generate(self, prompts: list[str], config: GenerationConfig,
                 allowed: list[list[str] | None] | None = None) -> list[list[str]]:
        """``config.num_samples`` completions per prompt (prompt excluded, cut at the first newline if asked).

        Prompts are grouped so that prompts x samples <= ``batch_size`` rows; similar lengths go together.
        ``allowed``: per prompt, the lines its completions must be (decoded through a token trie), or None.
        """
        if not prompts:
            return []
        tables, head = self._tables(), self._output_head()
        generator = None
        if config.seed is not None and config.temperature > 0:
            generator = torch.Generator(device=self.loaded.device).manual_seed(config.seed)
        per_chunk = max(1, self.batch_size // config.num_samples)
        encoded = [self.tokenizer(p, add_special_tokens=True)["input_ids"] for p in prompts]
        prefix = self._shared_prefix(encoded)
        if prefix is not None:
            encoded = [e[prefix.length :] for e in encoded]
        order = sorted(range(len(prompts)), key=lambda i: len(encoded[i]))
        results: list[list[str]] = [[] for _ in prompts]
        for start in range(0, len(order), per_chunk):
            chunk = order[start : start + per_chunk]
            ids, mask = self._left_pad([encoded[i] for i in chunk])
            tries = None if allowed is None else [
                None if allowed[i] is None else LineTrie.from_lines(self.tokenizer, allowed[i]) for i in chunk]
            token_lists = decode(self.model, head, tables, ids, mask, config, generator, tries, prefix)
            for pos, index in enumerate(chunk):
                rows = token_lists[pos * config.num_samples : (pos + 1) * config.num_samples]
                results[index] = [self._text(row, config) for row in rows]
        return results

    def _shared_prefix(self, encoded: list[list[int]]) -> PrefixCache | None:
        """The prompts' shared token prefix, up to its last line break (so it is the same for every batch of a run:
        the few-shot examples or the instruction), prefilled once and kept; None when too short or switched off.
        The token tables (seconds to build for a large vocabulary) are only consulted when a prefix is long enough."""
        k = common_prefix(encoded) if self.prefix_cache else 0
        if k < MIN_PREFIX_TOKENS:
            return None
        newline = self._tables().newline
        while k > 0 and not bool(newline[encoded[0][k - 1]]):
            k -= 1
        if k < MIN_PREFIX_TOKENS:
            return None
        ids = tuple(encoded[0][:k])
        if self._prefix is None or self._prefix.ids != ids:
            self._prefix = PrefixCache.build(self.model, ids, self.loaded.device)
        return self._prefix

    def _text(self, token_ids: list[int], config: GenerationConfig) -> str:
        text = self.tokenizer.decode(token_ids, skip_special_tokens=True)
        return text.split("\n", 1)[0] if config.stop_at_newline else text

    def _left_pad(self, sequences: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        width = max(len(s) for s in sequences)
        pad = self.tokenizer.pad_token_id or 0
        ids = torch.full((len(sequences), width), pad, dtype=torch.long)
        mask = torch.zeros((len(sequences), width), dtype=torch.long)
        for row, seq in enumerate(sequences):
            if seq:
                ids[row, width - len(seq) :] = torch.tensor(seq)
                mask[row, width - len(seq) :] = 1
        return ids.to(self.loaded.device), mask.to(self.loaded.device)

    # -- scoring ------------------------------------------------------------------------------------------
    @torch.inference_mode()
    def score(self, prompts: list[str], answers: list[str]) -> list[float]:
        """Summed log-probabilities of each answer's tokens after its prompt, over the output head generation uses:
        the full vocabulary, or the restricted head an adapter was trained against (``head_tokens.json``) or that
        ``restrict_to_lines`` set, whose other rows were never trained; a token outside that head scores -inf.

        The prompt is tokenized with special tokens (e.g. BOS) and the answer without, then concatenated. A prefix
        the prompts share (up to a line break, ``llm.prefix``) is prefilled once and its cache reused, as in
        ``generate``; the scores are the same (test).
        """
        if len(prompts) != len(answers):
            raise ValueError(f"score needs as many answers as prompts, got {len(answers)} and {len(prompts)}")
        prompt_ids = [self.tokenizer(p, add_special_tokens=True)["input_ids"] for p in prompts]
        answer_ids = [self.tokenizer(a, add_special_tokens=False)["input_ids"] for a in answers]
        prefix = self._shared_prefix(prompt_ids)  # e.g. a judge prompt's instruction or examples
        scores: list[float] = []
        for start in range(0, len(prompts), self.batch_size):
            end = start + self.batch_size
            scores.extend(self._score_batch(prompt_ids[start:end], answer_ids[start:end], prefix))
        return scores

    def _score_batch(self, prompt_ids: list[list[int]], answer_ids: list[list[int]],
                     prefix: PrefixCache | None) -> list[float]:
        skip = prefix.length if prefix is not None else 0  # every prompt keeps at least one token of its own
        ids, mask = self._left_pad([p[skip:] + a for p, a in zip(prompt_ids, answer_ids)])
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        if prefix is None:
            hidden = self.model.base_model(input_ids=ids, attention_mask=mask, position_ids=positions)
        else:
            full_mask = torch.cat([mask.new_ones((mask.shape[0], skip)), mask], 1)
            hidden = self.model.base_model(input_ids=ids, attention_mask=full_mask, position_ids=positions + skip,
                                           past_key_values=prefix.expanded(ids.shape[0]), use_cache=True)
        hidden = hidden.last_hidden_state
        restricted = self.head_tokens is not None
        head = self._output_head() if restricted else OutputHead(self.model, None)
        to_row = self._tables().to_allowed.to(ids.device) if restricted else None  # vocabulary id -> head row, -1
        width = ids.shape[1]
        scores = []
        for row, answer in enumerate(answer_ids):
            if not answer:
                scores.append(0.0)
                continue
            # the token at position t is predicted by the hidden state at t-1
            target_pos = torch.arange(width - len(answer), width, device=ids.device)
            logprobs = F.log_softmax(head(hidden[row, target_pos - 1]), dim=-1)
            targets = ids[row, target_pos]
            if to_row is not None:
                targets = to_row[targets]
                if bool((targets < 0).any()):  # a token outside the head: generation can never produce it
                    scores.append(float("-inf"))
                    continue
            scores.append(float(logprobs.gather(1, targets[:, None]).sum()))
        return scores


def read_head_tokens(adapter_path: Path) -> tuple[int, ...] | None:
    """The token ids an adapter's output layer was trained against, or None (trained on the full vocabulary)."""
    path = Path(adapter_path) / HEAD_TOKENS_FILE
    if not path.is_file():
        return None
    return tuple(int(i) for i in json.loads(path.read_text()))


def _apply_adapter(loaded: LoadedModel, adapter_path: Path, merge: bool):
    """A private copy of the model with a peft LoRA adapter, merged or not (the shared copy stays untouched)."""
    try:
        from peft import PeftModel
    except ImportError as exc:  # pragma: no cover
        raise ImportError("LoRA adapters need peft: pip install peft") from exc
    if not (adapter_path / "adapter_config.json").is_file():
        raise ModelLoadError(f"adapter {adapter_path} has no adapter_config.json")
    start = time.perf_counter()
    base = load_private_copy(loaded).model  # peft injects layers in place; merging rewrites weights
    peft_model = PeftModel.from_pretrained(base, str(adapter_path), is_trainable=False, local_files_only=True)
    model = peft_model.merge_and_unload() if merge else peft_model.get_base_model()
    model.eval()
    model.adapter_load_seconds = time.perf_counter() - start
    return model
