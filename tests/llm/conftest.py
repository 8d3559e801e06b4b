"""A tiny random Llama model and a byte-level BPE tokenizer, both built in-process (no hub, no files read)."""

from __future__ import annotations

import pytest

CORPUS = [
    "Item: Toy Story (1995)\nTags: animation, toys, friendship, pixar\n",
    "Item: GoldenEye (1995)\nTags: spy, james bond, action, russia\n",
    "Item: Jurassic Park (1993)\nTags: dinosaurs, adventure, sci fi, island\n",
    "Tags for books and songs, as comma-separated keywords. Caf\u00e9 na\u00efve r\u00e9sum\u00e9\n",
]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def build_tokenizer(chat: bool = False):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=330,
        special_tokens=["<pad>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS * 5, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>")
    if chat:
        fast.chat_template = CHAT_TEMPLATE
    return fast


def build_model(vocab_size: int, seed: int = 0):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config)
    with torch.no_grad():  # sharper logits than the 0.02-std init, so greedy paths are well separated
        model.lm_head.weight.mul_(20)
    return model.eval()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A local Hugging Face model directory (config, safetensors, tokenizer with a chat template)."""
    path = tmp_path_factory.mktemp("tiny-llama")
    tokenizer = build_tokenizer(chat=True)
    build_model(len(tokenizer)).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture
def tiny_loaded(tiny_model_dir, tmp_path):
    from betag_engine.llm.models import load_model

    return load_model(str(tiny_model_dir), cache_dir=tmp_path / "models", device="cpu")
