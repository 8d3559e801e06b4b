"""LLM backends behind one interface (see interface.py); ``get_backend(settings)`` picks one.

Importing this package loads neither torch nor httpx; the backends are imported when chosen.
"""

from betag_engine.llm.factory import get_backend
from betag_engine.llm.interface import GenerationConfig, LLMBackend

__all__ = ["GenerationConfig", "LLMBackend", "get_backend"]
