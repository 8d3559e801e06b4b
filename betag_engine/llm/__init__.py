"""LLM backends behind one interface (see interface.py)."""
