"""LLM backends behind one interface (see interface.py); ``get_backend(settings)`` picks one.

Importing this package loads neither torch nor httpx; the backends are imported when chosen.
"""

import logging

from betag_engine.llm.factory import get_backend
from betag_engine.llm.interface import GenerationConfig, LLMBackend

# peft imports bitsandbytes (installed for the GPU's NF4 path); on a CPU with AVX512-BF16 its CPU backend warns on
# import that the optional hub package 'kernels' is absent. Nothing here fetches kernels from a hub: keep it quiet.
logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)

__all__ = ["GenerationConfig", "LLMBackend", "get_backend"]
