"""Item tagging: base tags (BETag eq. 1), TagGPT, LoRA finetuning (§3.3), BETag beams (§3.4), confidence; each a
resumable job (parameters: docs/JOBS.md). The experiment that runs them all is ``experiments.pipeline``.

Heavy modules (torch, peft, sentence-transformers) are imported inside the functions that need them.
"""
