"""What the LLM reads about an item: its title and the fields a prompt chooses, as ``Label: value`` lines.

The movies preset shows the title (with its year) and, if chosen, the native genres; the products preset the
title, brand, category path and the start of the description (the paper's strongest results came from product
catalogs with descriptions). Every value is one line, and a description is cut at ``description_chars`` on a word
boundary, so the prompt's length (and the generation's speed) stays bounded.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

TITLE, NATIVE_FIELD, DESCRIPTION = "title", "native", "description"
LABELS = {NATIVE_FIELD: "Category", DESCRIPTION: "Description"}  # other fields: the metadata key, capitalised
_TRAILING_ARTICLE = re.compile(r"^(?P<head>[^,(]+(?:,[^,(]+)*?), (?P<art>The|A|An)(?P<tail> \(\d{4}\)|)(?P<rest>.*)$",
                               re.DOTALL)
MAX_VALUE_CHARS = 400


@dataclass(frozen=True)
class ItemInfo:
    """An item's text fields: title, description, metadata (e.g. year, brand) and native tags."""

    title: str
    description: str = ""
    metadata: Mapping[str, object] = field(default_factory=dict)
    native: Sequence[str] = ()


def front_article(text: str) -> str:
    """Catalog-style titles with a trailing article ("English Patient, The (1996)") read naturally to an LLM
    as "The English Patient (1996)"; other text is unchanged."""
    m = _TRAILING_ARTICLE.match(str(text).strip())
    if not m:
        return str(text)
    return f"{m['art']} {m['head'].strip()}{m['tail']}{m['rest']}"


def one_line(text: object, limit: int = MAX_VALUE_CHARS) -> str:
    """``text`` on one line (HTML entities such as ``&amp;`` read as characters, whitespace collapsed), at most
    ``limit`` characters, cut on a word boundary."""
    flat = " ".join(html.unescape(str(text)).split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit]
    if flat[limit] != " " and " " in cut:  # the cut falls inside a word: drop that word
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.")


def title_text(info: ItemInfo) -> str:
    """The title with the year in brackets when the metadata has one the title lacks."""
    year = info.metadata.get("year")
    title = info.title or ""
    return f"{title} ({year})" if year and str(year) not in title else title


def render_item(info: ItemInfo, fields: Sequence[str], description_chars: int,
                native_label: str = LABELS[NATIVE_FIELD]) -> str:
    """The item's block: the title first, then one ``Label: value`` line per chosen field that has a value."""
    lines = [one_line(front_article(title_text(info)))]
    for name in fields:
        if name == TITLE:
            continue
        if name == NATIVE_FIELD:
            value = ", ".join(t.lower() for t in info.native)
            label = native_label
        elif name == DESCRIPTION:
            value = one_line(info.description, description_chars) if description_chars else ""
            label = LABELS[DESCRIPTION]
        else:
            value = one_line(info.metadata.get(name) or "")
            label = name.replace("_", " ").capitalize()
        if value:
            lines.append(f"{label}: {value}")
    return "\n".join(lines)


def item_infos(session: Session, item_ids: Iterable[int], native_system: str) -> dict[int, ItemInfo]:
    """ItemInfo of each item; native tags from ``native_system`` when it exists."""
    from betag_engine.catalog.store import item_tags, list_system_names
    from db.models import Item

    ids = [int(i) for i in item_ids]
    native = item_tags(session, native_system, ids) if native_system in list_system_names(session) else {}
    rows = session.execute(select(Item.id, Item.title, Item.description, Item.metadata_json).where(Item.id.in_(ids)))
    return {i: ItemInfo(title or "", desc or "", meta or {}, tuple(t.tag for t in native.get(i, [])))
            for i, title, desc, meta in rows}
