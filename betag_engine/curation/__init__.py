"""Human review of tags: decisions with an audit trail, undo, the ``curated`` tagging system and its export.

Every decision changes the curated system only after an optimistic version check on the item
(:class:`~betag_engine.errors.ConflictError` when someone else decided on it since it was read).
"""

from betag_engine.curation.decisions import (
    DecisionResult,
    add_tag,
    approve_tags,
    bulk_decide,
    edit_tag,
    reject_tags,
    remove_tag,
    save_draft,
)
from betag_engine.curation.state import retry_busy
from betag_engine.curation.undo import undo

__all__ = [
    "DecisionResult",
    "add_tag",
    "approve_tags",
    "bulk_decide",
    "edit_tag",
    "reject_tags",
    "remove_tag",
    "save_draft",
    "retry_busy",
    "undo",
]
