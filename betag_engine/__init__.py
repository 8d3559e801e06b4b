"""BETag Studio's engine: catalog access, tagging systems, retrieval, evaluation, curation and the experiments
that combine them. Never imports Streamlit or the app (docs/ARCHITECTURE.md, tests/test_architecture.py)."""

__version__ = "0.1.0"
