"""A small incremental decoder: prefill once, repeat the KV cache for samples, stop each row at a newline.

Why not ``model.generate``: BETag draws m samples per prompt, and ``num_return_sequences`` re-processes the
prompt m times; prefilling once and repeating the cache (``DynamicCache.batch_repeat_interleave``) does not.
Rows that finish are dropped from the batch (``batch_select_indices``) instead of being fed padding, and the
output layer can be restricted to a subset of the vocabulary (Gemma's 262k-row head dominates its step cost).
With allowed lines (a token trie), a greedy row whose line is decided leaves the batch with the rest of that line
written out, since no later step of it has a choice (``_jump_forced``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from betag_engine.llm.constraints import LineTrie, TrieWalker
from betag_engine.llm.interface import GenerationConfig
from betag_engine.llm.prefix import PrefixCache

_NUCLEUS_FAST_K = 256  # top_p is computed exactly within the top 256 tokens when they hold the mass


@dataclass
class TokenTables:
    """Per-tokenizer lookups, computed once per model.

    ``newline``: bool [V], tokens whose text contains a newline; ``stop``: bool [V], end-of-sequence tokens;
    ``allowed``: long [V'] or None, the restricted output vocabulary; ``to_allowed``: long [V] mapping a token
    id to its index in ``allowed`` (-1 if absent).
    """

    newline: torch.Tensor
    stop: torch.Tensor
    allowed: torch.Tensor | None
    to_allowed: torch.Tensor | None


def token_texts(tokenizer, vocab_size: int) -> list[str]:
    """The decoded text of every token id (special tokens included)."""
    return tokenizer.batch_decode([[i] for i in range(vocab_size)], skip_special_tokens=False)


def build_tables(tokenizer, model_config, vocab_size: int, restriction: str) -> TokenTables:
    """Newline/stop masks and the optional restricted vocabulary (``none`` or ``ascii``)."""
    texts = token_texts(tokenizer, vocab_size)
    newline = torch.tensor(["\n" in t for t in texts], dtype=torch.bool)
    stop = torch.zeros(vocab_size, dtype=torch.bool)
    eos = getattr(getattr(model_config, "generation_config", None), "eos_token_id", None)
    for ids in (tokenizer.eos_token_id, getattr(model_config, "eos_token_id", None), eos):
        for i in ids if isinstance(ids, (list, tuple)) else [ids]:
            if i is not None and 0 <= i < vocab_size:
                stop[i] = True
    if restriction == "none":
        return TokenTables(newline, stop, None, None)
    if restriction != "ascii":
        raise ValueError(f"vocab_restriction must be one of none, ascii; got {restriction!r}")
    special = set(tokenizer.all_special_ids)
    keep = torch.tensor([(t.isascii() and t != "" and i not in special) for i, t in enumerate(texts)], dtype=torch.bool)
    keep |= newline | stop
    allowed = keep.nonzero().squeeze(1)
    return TokenTables(newline, stop, allowed, head_rows(allowed, vocab_size))


def restrict_tables(tables: TokenTables, token_ids) -> TokenTables:
    """``tables`` with the output vocabulary restricted to ``token_ids`` (plus every newline and stop token).

    A LoRA adapter trained against a head restricted to its tag lines' tokens (``finetune`` with head "tags")
    must generate through the same head: logits outside it were never trained down.
    """
    keep = tables.newline | tables.stop
    ids = torch.as_tensor(sorted({int(i) for i in token_ids}), dtype=torch.long)
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= keep.numel()):
        raise ValueError(f"head token ids must be in [0, {keep.numel()}), got {int(ids.min())}..{int(ids.max())}")
    keep[ids] = True
    allowed = keep.nonzero().squeeze(1)
    return TokenTables(tables.newline, tables.stop, allowed, head_rows(allowed, keep.numel()))


def head_rows(allowed: torch.Tensor, vocab_size: int, missing: int = -1) -> torch.Tensor:
    """long [vocab_size]: each token id's row in a head restricted to ``allowed`` (sorted ids), ``missing`` for the
    tokens outside it (finetuning passes -100, cross-entropy's ignore index)."""
    rows = torch.full((vocab_size,), missing, dtype=torch.long)
    rows[allowed] = torch.arange(allowed.numel())
    return rows


class OutputHead:
    """The model's output layer, optionally restricted to ``allowed`` rows; applies Gemma's logit softcap."""

    def __init__(self, model, allowed: torch.Tensor | None):
        head = model.get_output_embeddings()
        weight, bias = head.weight, getattr(head, "bias", None)
        if allowed is not None:
            allowed = allowed.to(weight.device)
            weight = weight.detach()[allowed].contiguous()
            bias = None if bias is None else bias.detach()[allowed]
        self.weight, self.bias = weight, bias
        self.softcap = getattr(model.config, "final_logit_softcapping", None)

    def __call__(self, hidden: torch.Tensor) -> torch.Tensor:
        logits = F.linear(hidden.to(self.weight.dtype), self.weight, self.bias).float()
        if self.softcap:
            logits = torch.tanh(logits / self.softcap) * self.softcap
        return logits


def _penalise(logits: torch.Tensor, seen: torch.Tensor, penalty: float) -> torch.Tensor:
    """HF-style repetition penalty over every token already in the row (prompt included)."""
    penalised = torch.where(logits > 0, logits / penalty, logits * penalty)
    return torch.where(seen, penalised, logits)


def _nucleus_mask(logits: torch.Tensor, top_p: float) -> torch.Tensor:
    """Mask tokens outside the top-p nucleus. Exact; avoids sorting the whole vocabulary when possible."""
    probs = logits.softmax(-1)
    k = min(_NUCLEUS_FAST_K, logits.shape[-1])
    top_probs, top_idx = probs.topk(k, dim=-1)
    if bool((top_probs.sum(-1) >= top_p).all()):
        sorted_probs, sorted_idx = top_probs, top_idx
    else:
        sorted_probs, sorted_idx = probs.sort(-1, descending=True)
    # keep a token if the mass before it is < top_p (always keeps the first)
    remove_sorted = (sorted_probs.cumsum(-1) - sorted_probs) >= top_p
    remove = torch.ones_like(logits, dtype=torch.bool)
    remove.scatter_(-1, sorted_idx, remove_sorted)
    return logits.masked_fill(remove, float("-inf"))


def choose_tokens(logits: torch.Tensor, config: GenerationConfig, generator: torch.Generator | None) -> torch.Tensor:
    """Greedy (temperature 0) or sampled next tokens. logits: [rows, V'] -> [rows]."""
    if config.temperature == 0:
        return logits.argmax(-1)
    logits = logits / config.temperature
    if config.top_k and config.top_k < logits.shape[-1]:
        kth = logits.topk(config.top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if config.top_p < 1.0:
        logits = _nucleus_mask(logits, config.top_p)
    probs = logits.softmax(-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)


@torch.inference_mode()
def decode(
    model,
    head: OutputHead,
    tables: TokenTables,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    config: GenerationConfig,
    generator: torch.Generator | None,
    tries: list[LineTrie | None] | None = None,
    prefix: PrefixCache | None = None,
) -> list[list[int]]:
    """Generate for a left-padded batch; returns ``num_samples`` token-id lists per prompt, prompt-major.

    Args:
        input_ids, attention_mask: [B, L] left-padded prompts on the model's device.
        tries: per prompt, the lines its completions must spell out (``constraints.LineTrie``), or None (free).
        prefix: tokens every prompt starts with, already prefilled (``prefix.PrefixCache``); ``input_ids`` then
            hold only what follows it, left-padded.
    Returns:
        B * num_samples lists of new token ids, each ending before the stop/newline token that finished it.
    """
    from transformers import DynamicCache

    backbone = model.base_model
    device = input_ids.device
    m = config.num_samples
    positions = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    if prefix is None:
        cache = DynamicCache(config=model.config)
    else:  # the shared prefix's cache for every row; the rows' own tokens continue its positions
        cache = prefix.expanded(input_ids.shape[0])
        positions = positions + prefix.length
        shared = torch.tensor(prefix.ids, dtype=input_ids.dtype, device=device).expand(input_ids.shape[0], -1)
        attention_mask = torch.cat([torch.ones_like(shared), attention_mask], 1)
        input_ids_all = torch.cat([shared, input_ids], 1)
    out = backbone(
        input_ids=input_ids,
        attention_mask=attention_mask,
        position_ids=positions,
        past_key_values=cache,
        use_cache=True,
    )
    if prefix is not None:
        input_ids = input_ids_all  # the whole prompt, for the repetition penalty's record of seen tokens
    hidden = out.last_hidden_state[:, -1]
    next_pos = positions[:, -1] + 1
    if m > 1:  # prefill once, then one cache row per sample
        cache.batch_repeat_interleave(m)
        hidden, next_pos = hidden.repeat_interleave(m, 0), next_pos.repeat_interleave(m, 0)
        attention_mask, input_ids = attention_mask.repeat_interleave(m, 0), input_ids.repeat_interleave(m, 0)
    rows = input_ids.shape[0]
    seen = _seen_matrix(input_ids, attention_mask, tables, head) if config.repetition_penalty != 1.0 else None
    newline, stop = tables.newline.to(device), tables.stop.to(device)
    if not config.stop_at_newline:
        newline = torch.zeros_like(newline)
    allowed = None if tables.allowed is None else tables.allowed.to(device)
    outputs: list[list[int]] = [[] for _ in range(rows)]
    active = torch.arange(rows, device=device)
    walker = None if tries is None else TrieWalker(tries, m, tables.to_allowed)
    jump = walker is not None and config.jump_forced and config.temperature == 0
    ends = (newline | stop).cpu()  # looked up token by token on the host (_jump_forced)
    ahead: dict[int, list[int]] = {}  # rows that jumped to the end of their line -> head indices still to come
    for step in range(config.max_new_tokens):
        forced = _forced_now(ahead)
        logits = head(hidden)
        if seen is not None:
            logits = _penalise(logits, seen, config.repetition_penalty)
        if walker is not None:
            logits = walker.mask(logits, active)
        if config.diverse_beams and m > 1:
            chosen = _choose_diverse(logits, active, m, config, generator, forced)
        else:
            chosen = choose_tokens(logits, config, generator)
        token = chosen if allowed is None else allowed[chosen]
        finished = newline[token] | stop[token]
        if walker is not None:
            walker.advance(active, token)
        for row, tok, fin in zip(active.tolist(), token.tolist(), finished.tolist()):
            if not fin:
                outputs[row].append(tok)
        if step == config.max_new_tokens - 1:
            break
        if seen is not None:
            seen[torch.arange(seen.shape[0], device=device), chosen] = True
        if jump:
            finished = finished | _jump_forced(walker, active, finished, ends, outputs, ahead,
                                               config.max_new_tokens - 1 - step)
        keep = (~finished).nonzero().squeeze(1)
        if keep.numel() == 0:
            break
        if keep.numel() < finished.numel():  # drop finished rows instead of padding them
            cache.batch_select_indices(keep)
            active, token, next_pos = active[keep], token[keep], next_pos[keep]
            attention_mask = attention_mask[keep]
            if seen is not None:
                seen = seen[keep]
        attention_mask = torch.cat([attention_mask, attention_mask.new_ones((attention_mask.shape[0], 1))], 1)
        out = backbone(
            input_ids=token[:, None],
            attention_mask=attention_mask,
            position_ids=next_pos[:, None],
            past_key_values=cache,
            use_cache=True,
        )
        hidden = out.last_hidden_state[:, -1]
        next_pos = next_pos + 1
    return outputs


def _forced_now(ahead: dict[int, list[int]]) -> list[tuple[int, int]]:
    """(row, head index) of every jumped row's token at this step; rows with nothing left are forgotten."""
    now = [(row, left.pop(0)) for row, left in ahead.items()]
    for row in [row for row, left in ahead.items() if not left]:
        del ahead[row]
    return now


def _jump_forced(walker: TrieWalker, active: torch.Tensor, finished: torch.Tensor, ends: torch.Tensor,
                 outputs: list[list[int]], ahead: dict[int, list[int]], steps_left: int) -> torch.Tensor:
    """Finish every row whose completion can only be one line: at each remaining step its trie allows a single
    token, which the greedy choice takes whatever the logits, so its text is known without the model. Its
    tokens (at most ``steps_left``, cut at the first newline/stop like decoding would) go to ``outputs``;
    ``ahead`` keeps their head indices, which the later beams' diversity penalty still counts step by step.

    Returns:
        bool [rows]: the rows that jumped (they leave the batch like finished ones).
    """
    jumped = []
    for row, done in zip(active.tolist(), finished.tolist()):
        rest = None if done else walker.forced_rest(row)
        if rest is None or not bool(ends[rest[-1]]):  # a line that does not end must be decoded as before
            jumped.append(False)
            continue
        rest = rest[:steps_left]
        cut = next((i for i, tok in enumerate(rest) if bool(ends[tok])), len(rest))
        outputs[row].extend(rest[:cut])
        taken = rest[:cut + 1]
        ahead[row] = taken if walker.to_head is None else walker.to_head[torch.tensor(taken)].tolist()
        jumped.append(True)
    return torch.tensor(jumped, dtype=torch.bool, device=finished.device)


def _choose_diverse(logits: torch.Tensor, active: torch.Tensor, m: int, config: GenerationConfig,
                    generator: torch.Generator | None, forced: list[tuple[int, int]] = ()) -> torch.Tensor:
    """Diverse beam search's Hamming diversity, one beam per group: samples of a prompt choose in order, and a
    token already taken at this step by an earlier sample of the same prompt loses ``diversity_penalty`` per use.

    Args:
        logits: [rows, V'] of the active rows; active: [rows] row ids (prompt-major, m samples per prompt).
        forced: (row, head index) of rows that jumped to the end of their line (``_jump_forced``): not in the
            batch, but their token at this step counts against the later samples as if they had chosen it.
    Returns:
        [rows] chosen indices in the head's index space.
    """
    device, n = logits.device, active.shape[0]
    f_rows = torch.tensor([row for row, _ in forced], dtype=torch.long, device=device)
    f_tokens = torch.tensor([tok for _, tok in forced], dtype=torch.long, device=device)
    prompts, local = torch.cat([active // m, f_rows // m]).unique(return_inverse=True)
    local, f_local = local[:n], local[n:]
    sample_of, f_sample = active % m, f_rows % m
    used = torch.zeros((prompts.numel(), logits.shape[-1]), dtype=logits.dtype, device=device)
    chosen = torch.empty(n, dtype=torch.long, device=device)
    for j in range(m):
        sel = (sample_of == j).nonzero().squeeze(1)
        if sel.numel():
            picked = choose_tokens(logits[sel] - config.diversity_penalty * used[local[sel]], config, generator)
            chosen[sel] = picked
            used[local[sel], picked] += 1.0
        f_sel = (f_sample == j).nonzero().squeeze(1)
        if f_sel.numel():
            used[f_local[f_sel], f_tokens[f_sel]] += 1.0
    return chosen


def _seen_matrix(input_ids, attention_mask, tables: TokenTables, head: OutputHead) -> torch.Tensor:
    """bool [rows, V'], True where the (non-pad) prompt holds the token, in the head's index space."""
    rows, width = input_ids.shape[0], head.weight.shape[0]
    seen = torch.zeros((rows, width), dtype=torch.bool, device=input_ids.device)
    ids = input_ids.masked_fill(attention_mask == 0, -1)
    if tables.to_allowed is not None:
        mapped = tables.to_allowed.to(ids.device)[ids.clamp(min=0)]
        ids = mapped.masked_fill(ids < 0, -1)
    valid = ids >= 0
    row_idx = torch.arange(rows, device=ids.device)[:, None].expand_as(ids)
    seen[row_idx[valid], ids[valid]] = True
    return seen
