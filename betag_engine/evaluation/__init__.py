"""Offline evaluation (BETag §4): leave-one-last split, 100 sampled negatives, HR@10 / NDCG@10, grid search.

Typical use::

    table = evaluate_table({"native": tm}, sequences)      # the paper's Table 2 on plain data
    print(format_table(table)); json.dump(table.as_dict(), f)
    split = leave_one_last(sequences)                      # split.train feeds LLM finetuning data

    prepared = prepare(tm.item_ids, sequences, EvalConfig())          # one split and negative sample ...
    cold = evaluate_table(systems, None, prepared=prepared.by_target(cold_ids))         # ... cold targets
    warm = evaluate_table(systems, None, prepared=prepared.by_target(cold_ids, complement=True))
    cold.difference(("betag", "bm25"), ("native", "bm25"), "user").describe("betag", "native")
"""

from betag_engine.evaluation.grid_search import evaluate, evaluate_system
from betag_engine.evaluation.metrics import Metrics, case_metrics, evaluate_scores, hr_at_k, ndcg_at_k, summarize
from betag_engine.evaluation.negatives import sample_negatives
from betag_engine.evaluation.protocol import (
    EvalConfig,
    EvalResult,
    Prepared,
    align,
    grid,
    prepare,
)
from betag_engine.evaluation.stats import TagStats, popularity_curve, tag_stats
from betag_engine.evaluation.table import Table, TableRow, evaluate_table, format_table
from betag_engine.evaluation.uncertainty import CaseValues, Difference, paired_difference, standard_error
from betag_engine.split import Case, Split, leave_one_last, restrict_sequences

__all__ = [
    "Case", "Split", "leave_one_last", "restrict_sequences", "sample_negatives",
    "Metrics", "hr_at_k", "ndcg_at_k", "case_metrics", "evaluate_scores", "summarize",
    "EvalConfig", "EvalResult", "Prepared", "prepare", "align", "grid", "evaluate", "evaluate_system",
    "Table", "TableRow", "evaluate_table", "format_table",
    "CaseValues", "Difference", "paired_difference", "standard_error",
    "TagStats", "tag_stats", "popularity_curve",
]
