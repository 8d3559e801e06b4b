"""A tiny random Llama model and a byte-level BPE tokenizer, built in-process (no hub, no files shipped).

Saved as a plain Hugging Face directory so the product's own loading path (``BETAG_LLM_MODEL=<dir>``) uses it.
"""

from __future__ import annotations

from pathlib import Path

_CORPUS = [
    "action, comedy, drama, romance, sci fi, thriller, horror, animation, family, war, western, crime",
    "Each line lists the tags of a movie a user watched, in order. Predict the tags of the next movie.",
    "Movie: Toy Story (1995)\nTags: animation, toys, friendship\n",
    "Does the tag describe the movie? Answer Yes or No.\nAnswer: Yes\nAnswer: No\n",
]


def build_tiny_model(folder: Path, seed: int = 0) -> Path:
    """Write a ~100k-parameter LlamaForCausalLM with its tokenizer to ``folder``; returns the folder."""
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(_CORPUS * 4, vocab_size=400, min_frequency=1,
                            special_tokens=["<pad>", "<s>", "</s>"], show_progress=False)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, bos_token="<s>", eos_token="</s>",
                                        pad_token="<pad>")
    tokenizer.save_pretrained(folder)
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=True)
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder
