"""Export curated tags as CSV (safe to open in a spreadsheet) or JSON (the data as stored).

CSV cells starting with ``= + - @``, a tab or a carriage return are prefixed with a single quote (OWASP "CSV
injection"), so a tag like ``=HYPERLINK("http://x")`` is shown as text instead of being evaluated. JSON is no
spreadsheet format: its strings are exactly the stored values.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from betag_engine.vocabulary import CURATED
from db.models import Item, ItemTag, TaggingSystem

EXPORT_FORMATS = ("csv", "json")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
COLUMNS = ("item_id", "title", "tag", "count", "confidence")


def escape_cell(value):
    """Neutralise a spreadsheet formula: strings starting with = + - @ tab or CR get a leading quote."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def curated_records(session: Session, item_ids: Iterable[int] | Select | None = None) -> list[dict]:
    """Curated tags, one record per (item, tag), ordered by item then count (desc); ``item_ids`` limits them."""
    stmt = (
        select(Item.external_id, Item.title, ItemTag.tag, ItemTag.count, ItemTag.confidence)
        .join(ItemTag, ItemTag.item_id == Item.id)
        .join(TaggingSystem, TaggingSystem.id == ItemTag.system_id)
        .where(TaggingSystem.name == CURATED)
        .order_by(Item.id, ItemTag.count.desc(), ItemTag.tag)
    )
    if item_ids is not None:  # a list of ids, or a SELECT of them (an app filter: the ids stay in the database)
        stmt = stmt.where(Item.id.in_(item_ids if isinstance(item_ids, Select) else list(item_ids)))
    return [dict(zip(COLUMNS, row)) for row in session.execute(stmt)]


def export_curated(session: Session, fmt: str = "csv", item_ids: Iterable[int] | Select | None = None) -> str:
    """The curated tags of ``item_ids`` (all items when None) as CSV text or a JSON list of items."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(EXPORT_FORMATS)}, got {fmt!r}")
    records = curated_records(session, item_ids)
    if fmt == "csv":
        records = [{k: escape_cell(v) for k, v in r.items()} for r in records]
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)
        return buf.getvalue()
    items: dict[str, dict] = {}
    for r in records:
        entry = items.setdefault(r["item_id"], {"item_id": r["item_id"], "title": r["title"], "tags": []})
        entry["tags"].append({"tag": r["tag"], "count": r["count"], "confidence": r["confidence"]})
    return json.dumps(list(items.values()), ensure_ascii=False, indent=1)
