"""Benchmarks run by ``python -m betag_engine bench ...``; each prints ratios against a named baseline."""
