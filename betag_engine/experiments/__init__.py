"""Experiments: runs that combine tagging, retrieval and evaluation and store what they found.

``profiles`` (the pipeline's stage parameters), ``pipeline`` (the whole experiment as one job), ``evaluate`` (the
evaluation of the systems in the database, as a command or a job), ``diagnosis`` (what BETag's beams learned and
the oracle ceiling) and ``report`` (the one report format and the rows the app shows). This package sits above
tagging and evaluation: they never import it.
"""
