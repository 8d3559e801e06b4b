"""Offline evaluation (BETag §4): leave-one-last split, 100 sampled negatives, HR@10 / NDCG@10, grid search.

Typical use::

    table = evaluate_table({"native": tm}, sequences)      # the paper's Table 2 on plain data
    print(format_table(table)); json.dump(table.as_dict(), f)
    split = leave_one_last(sequences)                      # split.train feeds LLM finetuning data
"""

from betag_engine.evaluation.metrics import Metrics, case_metrics, evaluate_scores, hr_at_k, ndcg_at_k
from betag_engine.evaluation.negatives import sample_negatives
from betag_engine.evaluation.protocol import (
    EvalConfig,
    EvalResult,
    Prepared,
    align,
    evaluate,
    grid,
    prepare,
)
from betag_engine.evaluation.stats import TagStats, popularity_curve, tag_stats
from betag_engine.evaluation.table import Table, TableRow, evaluate_table, format_table
from betag_engine.split import Case, Split, leave_one_last, restrict_sequences

__all__ = [
    "Case", "Split", "leave_one_last", "restrict_sequences", "sample_negatives",
    "Metrics", "hr_at_k", "ndcg_at_k", "case_metrics", "evaluate_scores",
    "EvalConfig", "EvalResult", "Prepared", "prepare", "align", "grid", "evaluate",
    "Table", "TableRow", "evaluate_table", "format_table",
    "TagStats", "tag_stats", "popularity_curve",
]
