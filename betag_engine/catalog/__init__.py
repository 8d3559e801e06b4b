"""Catalog: tag normalisation, built-in datasets, user-data import and tag storage."""
