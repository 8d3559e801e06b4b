"""LoRA finetuning on behaviour sequences (BETag §3.3).

Examples come from the training split only (validation/test items never appear). Each epoch re-crops one random
window of at most ``window`` consecutive items per sampled user; the text is the static instruction followed by
one line of comma-separated base tags per item, and the loss covers only the tag lines. After every epoch the
adapter, its LoRA config, ``training.json`` (params, data hash, loss curve) and the optimizer state are saved
under ``Settings.model_cache_dir/adapters/<adapter>``; a rerun resumes after the last finished epoch, or inside
an epoch from its last mid-epoch checkpoint (``partial/``, written at most every ``CHECKPOINT_SECONDS``: adapter,
optimizer, random state and steps done), drawing the same batches and dropout as an uninterrupted run.

Job kind "finetune", parameters :class:`FinetuneParams`. With ``head="tags"`` the loss is computed over the rows
of the output layer that belong to the training tag lines' tokens only (plus newline and end tokens); they are
saved as the adapter's ``head_tokens.json`` so that BETag generation uses the same head. Gemma's 262k-row output
layer is most of a training step's cost, so this makes steps about 3x faster there.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from betag_engine.jobs.runner import JobContext
from betag_engine.tagging.common import training_data
from betag_engine.tagging.config import PromptConfig, tag_line
from betag_engine.tagging.context import NO_CONTEXT, ContextOptions, behaviour_prompter
from betag_engine.tagging.params import (
    item_ids_field,
    limit_field,
    model_field,
    prompt_field,
    with_global_seed,
)
from betag_engine.tagging.sequences import Example, build_context_examples, build_examples, data_hash, length_batches
from betag_engine.vocabulary import BASE, DEFAULT_ADAPTER

HEADS = ("tags", "full")
CHECKPOINT_SECONDS = 120.0  # a mid-epoch checkpoint at most this often: a crash loses at most about this much
PARTIAL_DIR = "partial"


@dataclass
class FinetuneParams(ContextOptions):
    adapter: str = field(default=DEFAULT_ADAPTER,
                         metadata={"help": "Adapter folder name under model_cache_dir/adapters."})
    model: str | None = model_field()
    base_system: str = field(default=BASE, metadata={"help": "Tagging system whose tags write the sequences."})
    item_ids: list[int] | None = item_ids_field()
    limit: int | None = limit_field()
    users: int | None = field(default=None, metadata={"help": "Sample this many users (null = all).",
                                                      "min": 1, "null": "every user"})
    window: int = field(default=15, metadata={"help": "Max consecutive items per example (paper: 15).",
                                              "min": 2})
    epochs: int = field(default=1, metadata={"help": "Epochs; a rerun with more epochs continues the adapter.",
                                             "min": 1, "max": 50})
    batch_size: int = field(default=4, metadata={"help": "Examples per optimizer step.", "min": 1})
    lr: float = field(default=1e-4, metadata={"help": "AdamW learning rate (paper: 1e-4).", "above": 0})
    rank: int = field(default=8, metadata={"help": "LoRA rank (paper: 64).", "min": 1})
    alpha: int = field(default=16, metadata={"help": "LoRA alpha (scale = alpha / rank).", "min": 1})
    dropout: float = field(default=0.05, metadata={"help": "LoRA dropout.", "min": 0, "max": 0.9})
    target_modules: list[str] = field(default_factory=lambda: ["q_proj", "v_proj"],
                                      metadata={"help": "Modules that get LoRA weights."})
    max_tags_per_item: int = field(default=8, metadata={"help": "Base tags per item line.", "min": 1})
    max_tokens: int = field(default=320, metadata={"help": "Tokens per example (longer ones are cut).", "min": 16})
    seed: int | None = field(default=None, metadata={"help": "Seed of user sampling, windows, LoRA init and "
                                                                     "dropout; null = BETAG_SEED."})
    prompt: dict[str, Any] = prompt_field()
    head: str = field(default="tags", metadata={"help": "Loss over the tag lines' tokens (tags) or all (full)."})
    examples_per_epoch: int = field(default=1200, metadata={
        "help": "With context=behaviour: training transitions (i -> j) drawn per epoch; each example is the "
                "betag job's prompt for i with j's tag line as the answer."})
    cold_rate: float = field(default=0.2, metadata={
        "help": "With context=behaviour: share of examples that show item i as a cold item (its content "
                "neighbours' pairs), so the model learns the cold case too."})

    def __post_init__(self) -> None:
        self.check_context()
        if not 0 <= self.cold_rate <= 1:
            raise ValueError(f"cold_rate must be in [0, 1], got {self.cold_rate}")
        if self.head not in HEADS:
            raise ValueError(f"head must be one of {', '.join(HEADS)}, got {self.head!r}")
        for name in ("window", "epochs", "batch_size", "rank", "max_tags_per_item", "max_tokens", "examples_per_epoch"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if not self.adapter or "/" in self.adapter or self.adapter.startswith("."):
            raise ValueError(f"adapter must be a plain folder name, got {self.adapter!r}")


def adapter_dir(name: str, cache_dir: Path) -> Path:
    """Where adapter ``name`` lives: ``<cache_dir>/adapters/<name>`` (``Settings.model_cache_dir``)."""
    return Path(cache_dir) / "adapters" / name


def load_training_data(session, p: FinetuneParams) -> tuple[dict[int, list[int]], dict[int, list[str]]]:
    """(training sequences restricted to the selected items, without held-out items, of the sampled users;
    base tags per item)."""
    data = training_data(session, p.base_system, p.max_tags_per_item, item_ids=p.item_ids, limit=p.limit)
    held = set(p.holdout_items)
    train = {u: [i for i in seq if i not in held] for u, seq in data.train.items()}
    train = {u: seq for u, seq in train.items() if len(seq) >= 2}
    if p.users and len(train) > p.users:
        chosen = random.Random(p.seed).sample(sorted(train), p.users)
        train = {u: train[u] for u in sorted(chosen)}
    return train, data.tags


def encode_batch(tokenizer, examples: list[Example], max_tokens: int):
    """Right-padded tensors; labels are -100 on the instruction and padding (loss only on the tag lines)."""
    import torch

    rows, labels = [], []
    for ex in examples:
        prefix = tokenizer(ex.prefix, add_special_tokens=True)["input_ids"]
        body = tokenizer(ex.body, add_special_tokens=False)["input_ids"]
        ids = (prefix + body)[:max_tokens]
        rows.append(ids)
        labels.append(([-100] * len(prefix) + body)[:max_tokens])
    width = max(len(r) for r in rows)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
    label_t = torch.full((len(rows), width), -100, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for r, (ids, lab) in enumerate(zip(rows, labels)):
        input_ids[r, : len(ids)] = torch.tensor(ids)
        label_t[r, : len(lab)] = torch.tensor(lab)
        mask[r, : len(ids)] = 1
    return input_ids, mask, label_t


def finetune_job(ctx: JobContext, params: dict) -> dict:
    """Job kind "finetune": train (or resume) the LoRA adapter; checkpoint unit = ``epoch-<n>``."""
    import torch

    from betag_engine.tagging.llm_access import load_for_training

    p = with_global_seed(FinetuneParams(**params), ctx.settings)
    prompt = PromptConfig.from_dict(p.prompt)
    start = time.perf_counter()
    with ctx.session() as s:
        train, tags = load_training_data(s, p)
    if not train:
        raise ValueError(f"no training sequences: system {p.base_system!r} tags too few items of the selection")
    extra = {"instruction": prompt.instruction, "window": p.window, "seed": p.seed}
    if p.head != "full":  # adapters trained before the option existed used the full head: their hash stays
        extra["head"] = p.head
    if ctx.settings.llm_training_dtype != "auto":  # bf16 base weights train another adapter; auto's hashes stay
        extra["training_dtype"] = ctx.settings.llm_training_dtype
    if p.context != NO_CONTEXT:  # what the context examples depend on beyond the sequences and tags
        extra.update(_context_extra(p))
    digest = data_hash(train, tags, extra)
    make_examples = _example_maker(ctx, p, prompt, train, tags)
    out_dir = adapter_dir(p.adapter, ctx.settings.model_cache_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    state = _read_state(out_dir, digest)
    done_epochs = min(int(state["epochs_done"]), p.epochs)
    losses: list[dict] = list(state["losses"]) if done_epochs else []
    steps_per_epoch = -(-(len(train) if p.context == NO_CONTEXT else p.examples_per_epoch) // p.batch_size)
    ctx.set_total(p.epochs * steps_per_epoch, f"finetune {p.adapter}")
    if done_epochs >= p.epochs:
        return _result(p, out_dir, state.get("model", p.model or ""), train, digest, losses, start)
    partial = _read_partial(out_dir, digest, done_epochs + 1)
    resume_dir = out_dir / PARTIAL_DIR if partial else (out_dir if done_epochs else None)
    torch.manual_seed(p.seed)  # the LoRA weights' initialisation
    loaded, model = load_for_training(ctx.settings, p, resume_dir)
    tokenizer = loaded.tokenizer
    head_ids = head_token_ids(loaded, [tag_line(tags[i]) for i in _items_of(train)]) if p.head == "tags" else None
    step_loss = training_loss(model, head_ids)
    optimizer = torch.optim.AdamW([q for q in model.parameters() if q.requires_grad], lr=p.lr)
    if resume_dir is not None and (resume_dir / "optimizer.pt").is_file():
        optimizer.load_state_dict(torch.load(resume_dir / "optimizer.pt"))
    model.train()
    for epoch in range(done_epochs + 1, p.epochs + 1):
        rng = random.Random(p.seed * 1000 + epoch)  # fresh windows every epoch, reproducible on resume
        torch.manual_seed(p.seed * 1000 + epoch)  # dropout: a resumed epoch draws what an uninterrupted run does
        examples = make_examples(rng)
        batches = length_batches(examples, p.batch_size, rng)
        skip, epoch_losses = 0, []
        if partial and partial["epoch"] == epoch:  # continue inside the epoch, with the random state it had
            skip, losses, epoch_losses = partial["steps_done"], partial["losses"], partial["epoch_losses"]
            _restore_rng(torch.load(out_dir / PARTIAL_DIR / "rng.pt"))
            ctx.log(f"epoch {epoch}: resuming after step {skip} of {len(batches)}")
        last_save = time.perf_counter()
        for step, batch in enumerate(batches[skip:], start=skip):
            input_ids, mask, labels = encode_batch(tokenizer, batch, p.max_tokens)
            dev = loaded.device
            loss = step_loss(input_ids.to(dev), mask.to(dev), labels.to(dev))
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            epoch_losses.append(float(loss.detach()))
            losses.append({"epoch": epoch, "step": step + 1, "loss": round(epoch_losses[-1], 4)})
            ctx.progress((epoch - 1) * steps_per_epoch + step + 1, f"epoch {epoch} loss {epoch_losses[-1]:.3f}")
            if time.perf_counter() - last_save >= CHECKPOINT_SECONDS and step + 1 < len(batches):
                _save_partial(out_dir, model, optimizer, digest, epoch, step + 1, losses, epoch_losses)
                last_save = time.perf_counter()
        mean = sum(epoch_losses) / max(1, len(epoch_losses))
        _save_epoch(out_dir, model, optimizer, p, prompt, digest, epoch, losses, len(examples), loaded.name,
                    head_ids)
        with ctx.session() as s:
            ctx.mark_done(s, {f"epoch-{epoch}": {"mean_loss": mean, "examples": len(examples)}})
        ctx.log(f"epoch {epoch}: mean loss {mean:.4f} over {len(examples)} examples")
    return _result(p, out_dir, loaded.name, train, digest, losses, start)


def _context_extra(p: FinetuneParams) -> dict:
    names = ("context", "context_pairs", "lift_alpha", "content_neighbours", "holdout_items", "examples_per_epoch",
             "cold_rate", "embedding_model")
    return {n: getattr(p, n) for n in names}


def _example_maker(ctx: JobContext, p: FinetuneParams, prompt: PromptConfig, train, tags):
    """``rng -> examples`` of one epoch: the paper's windows (context none), or context examples written with
    the prompter the betag job uses (context behaviour)."""
    if p.context == NO_CONTEXT:
        def windows(rng: random.Random) -> list[Example]:
            examples = build_examples(train, tags, prompt.instruction, p.window, rng)
            rng.shuffle(examples)
            return examples

        return windows
    with ctx.session() as s:
        prompter = behaviour_prompter(s, ctx.settings, prompt, p, tags, cold_examples=p.cold_rate > 0)
    return lambda rng: build_context_examples(train, tags, prompter, p.examples_per_epoch, p.cold_rate, rng)


def _items_of(train: dict[int, list[int]]) -> list[int]:
    return sorted({i for seq in train.values() for i in seq})


def head_token_ids(loaded, lines: list[str]) -> list[int]:
    """The restricted output vocabulary: every token of the tag lines (each tokenized with its newline), plus
    every newline and end token, exactly as ``restrict_tables`` completes it again at generation time."""
    from betag_engine.llm.decoding import build_tables, restrict_tables

    tokenizer = loaded.tokenizer
    ids = {t for line in lines for t in tokenizer(line + "\n", add_special_tokens=False)["input_ids"]}
    vocab = loaded.model.get_output_embeddings().weight.shape[0]
    tables = restrict_tables(build_tables(tokenizer, loaded.model.config, vocab, "none"), ids)
    return tables.allowed.tolist()


def training_loss(model, head_ids: list[int] | None):
    """``loss(input_ids, mask, labels)``: the model's own loss (full head), or cross-entropy over ``head_ids``.

    With a restricted head the logits are computed only at the positions that carry a label (the tag lines),
    and only for the allowed rows of the output layer; a label outside them (a line that tokenizes differently
    inside the text than alone) is skipped.
    """
    import torch
    import torch.nn.functional as F

    if head_ids is None:
        return lambda ids, mask, labels: model(input_ids=ids, attention_mask=mask, labels=labels).loss
    from betag_engine.llm.decoding import OutputHead, head_rows

    allowed = torch.tensor(head_ids, dtype=torch.long)
    head = OutputHead(model, allowed)
    to_allowed = head_rows(allowed, model.get_output_embeddings().weight.shape[0], missing=-100)
    decoder = model.get_base_model().base_model  # the transformer without its output layer (LoRA inside)

    def loss(ids, mask, labels):
        hidden = decoder(input_ids=ids, attention_mask=mask).last_hidden_state[:, :-1]
        targets = labels[:, 1:]  # the token at t is predicted from position t - 1
        mapped = to_allowed.to(ids.device)[targets.clamp(min=0)].masked_fill(targets < 0, -100)
        keep = mapped >= 0
        return F.cross_entropy(head(hidden[keep]), mapped[keep])

    return loss


def _result(p, out_dir, model_name, train, digest, losses, start) -> dict:
    return {"adapter": p.adapter, "adapter_dir": str(out_dir), "model": model_name, "users": len(train),
            "epochs": p.epochs, "data_hash": digest, "loss_curve": losses,
            "first_loss": losses[0]["loss"] if losses else None, "last_loss": losses[-1]["loss"] if losses else None,
            "seconds": round(time.perf_counter() - start, 1)}


def _read_state(out_dir: Path, digest: str) -> dict:
    """Epochs already saved for the same training data (a different data hash starts over)."""
    path = out_dir / "training.json"
    if path.is_file():
        state = json.loads(path.read_text())
        if state.get("data_hash") == digest:
            return state
    return {"epochs_done": 0, "losses": []}


def _read_partial(out_dir: Path, digest: str, epoch: int) -> dict | None:
    """The mid-epoch checkpoint of ``epoch`` for the same training data, or None."""
    path = out_dir / PARTIAL_DIR / "partial.json"
    if not path.is_file():
        return None
    partial = json.loads(path.read_text())
    return partial if partial.get("data_hash") == digest and partial.get("epoch") == epoch else None


def _restore_rng(state: dict) -> None:
    import torch

    torch.set_rng_state(state["cpu"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _save_partial(out_dir: Path, model, optimizer, digest: str, epoch: int, steps_done: int, losses: list[dict],
                  epoch_losses: list[float]) -> None:
    """A mid-epoch checkpoint: the state file is written last, so a crash while saving keeps the previous one."""
    import torch

    folder = out_dir / PARTIAL_DIR
    folder.mkdir(exist_ok=True)
    (folder / "partial.json").unlink(missing_ok=True)
    model.save_pretrained(folder)
    torch.save(optimizer.state_dict(), folder / "optimizer.pt")
    rng = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    torch.save(rng, folder / "rng.pt")
    _write_json(folder / "partial.json", {"data_hash": digest, "epoch": epoch, "steps_done": steps_done,
                                          "losses": losses, "epoch_losses": epoch_losses})


def _write_json(path: Path, value) -> None:
    """Write ``path`` whole or not at all (a temporary file renamed over it)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value, indent=1))
    tmp.replace(path)


def _save_epoch(out_dir, model, optimizer, p, prompt, digest, epoch, losses, n_examples, model_name,
                head_ids: list[int] | None) -> None:
    import torch

    from betag_engine.llm.transformers_backend import HEAD_TOKENS_FILE

    model.save_pretrained(out_dir)  # adapter_model.safetensors + adapter_config.json
    head_file = out_dir / HEAD_TOKENS_FILE
    if head_ids is None:
        head_file.unlink(missing_ok=True)
    else:
        head_file.write_text(json.dumps(head_ids))
    torch.save(optimizer.state_dict(), out_dir / "optimizer.pt")
    state = {"params": asdict(p), "model": model_name, "prompt": prompt.to_dict(), "data_hash": digest,
             "epochs_done": epoch,
             "examples_per_epoch": n_examples, "losses": losses}
    _write_json(out_dir / "training.json", state)
    (out_dir / "loss_curve.json").write_text(json.dumps(losses))
    shutil.rmtree(out_dir / PARTIAL_DIR, ignore_errors=True)  # the finished epoch supersedes it
