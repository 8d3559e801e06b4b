"""Item tagging: base tags (BETag eq. 1), TagGPT, LoRA finetuning (§3.3), BETag beams (§3.4), confidence, pipeline.

Heavy modules (torch, peft, sentence-transformers) are imported inside the functions that need them.
"""
