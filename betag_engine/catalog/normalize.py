"""The one tag-normalisation function used everywhere (imports, LLM output, reviewer edits)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

MAX_TAG_CHARS = 64

_BULLET = re.compile(r"^\s*(?:[-*\u2022\u2023\u25e6\u2043\u2219>#]+|\(?\d{1,3}[.):\]](?=\s)|[a-z][.)](?=\s))\s*", re.I)
_EDGE_PUNCT = re.compile(r"^[\W_]+|[\W_]+$", re.UNICODE)
_INNER_SEP = re.compile(r"[_\s]+")
_ODD_CHARS = re.compile(r"[^\w\s&'+./-]", re.UNICODE)


def normalize_tag(text: str) -> str:
    """Normalise one tag: Unicode NFKC, lower case, no bullets or numbering, no edge punctuation or quotes,
    underscores and runs of whitespace collapsed to one space. Returns "" for something that is not a tag."""
    if not isinstance(text, str):
        return ""
    tag, previous = text, None
    while tag != previous:  # each pass can expose another bullet or edge mark; stop at the fixed point
        previous, tag = tag, _normalize_once(tag)
    return tag if len(tag) <= MAX_TAG_CHARS else ""


def _normalize_once(text: str) -> str:
    tag = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold()).strip()
    tag = _BULLET.sub("", tag)
    tag = _ODD_CHARS.sub(" ", tag)
    tag = _INNER_SEP.sub(" ", tag)
    return _EDGE_PUNCT.sub("", tag).strip()


def normalize_tags(tags: Iterable[str]) -> list[str]:
    """Normalise each tag, drop empties and duplicates, keep the first-seen order."""
    seen: dict[str, None] = {}
    for raw in tags:
        tag = normalize_tag(raw)
        if tag and tag not in seen:
            seen[tag] = None
    return list(seen)
