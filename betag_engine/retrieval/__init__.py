"""Tag-based retrieval (BETag §3.5, appendix A): BM25 and BiRank as precomputed operators, and Popular.

Typical use::

    index = build_index(tag_matrix, "bm25", {"k1": 1.2, "b": 0.75})
    q = item_queries(tag_matrix.matrix, [row])            # or user_queries(A, [history_rows], "linear")
    results = retrieve(index, q, k=10, exclude=[[row]])   # Results(rows, item_ids, scores)
    scores = score_candidates(index, Q, candidate_rows)    # the 1+100 sampled protocol
    rank(tag_matrix, "bm25", item_id)                      # the app: [(item_id, score, matched_tags)]
"""

from betag_engine.retrieval.birank import BiRankBasis, birank_basis, birank_iterate, birank_operator
from betag_engine.retrieval.bm25 import bm25_operator
from betag_engine.retrieval.config import (
    WEIGHTINGS,
    BiRankParams,
    BM25Params,
    PopularParams,
    make_params,
)
from betag_engine.retrieval.popular import popularity
from betag_engine.retrieval.queries import history_weights, item_queries, tag_query, user_queries
from betag_engine.retrieval.search import Index, Results, build_index, retrieve, score_candidates, top_k
from betag_engine.retrieval.what_if import RankedItem, rank, with_item_tags

__all__ = [
    "WEIGHTINGS", "BM25Params", "BiRankParams", "PopularParams", "make_params",
    "bm25_operator", "BiRankBasis", "birank_basis", "birank_operator", "birank_iterate", "popularity",
    "history_weights", "item_queries", "user_queries", "tag_query",
    "Index", "Results", "build_index", "retrieve", "score_candidates", "top_k",
    "RankedItem", "rank", "with_item_tags",
]
