"""BETag Studio's engine: catalog access, tagging systems, retrieval and evaluation. Never imports Streamlit."""

__version__ = "0.1.0"
