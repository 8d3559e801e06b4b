"""The one tag-normalisation function used everywhere (imports, LLM output, reviewer edits).

Normalisation decides how a tag is *spelled*; it never refuses one. Whether a tag may be stored at all (empty,
too long, control characters) is validation (``catalog.rules`` on imports, the decision functions in curation).

What a tag keeps: letters, digits, spaces and the characters real tags use, ``& ' + # % . / -`` inside a tag, and
``+ # %`` at its end (``c++``, ``c#``, ``100% cotton``, ``usb-c``, ``3.5mm``, ``2-in-1``, ``18+``). What goes: list
bullets and numbering at the start, quotes, anything else at the start (so formula triggers ``= + - @`` never start
a stored tag), other symbols (replaced by a space), trailing punctuation such as a sentence's full stop.

Tags made of letters, digits, spaces and hyphens normalise exactly as before the symbols above were kept (the
generated tags of the published evaluation depend on it; ``tests/catalog/test_normalize.py`` holds the earlier
function as a reference and checks it).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

MAX_TAG_CHARS = 64  # the validation limit (catalog.rules, curation); normalisation itself never truncates

_BULLET = re.compile(r"^\s*(?:[-*\u2022\u2023\u25e6\u2043\u2219>#]+|\(?\d{1,3}[.):\]](?=\s)|[a-z][.)](?=\s))\s*", re.I)
_ODD_CHARS = re.compile(r"[^\w\s&'+#%./-]", re.UNICODE)
_INNER_SEP = re.compile(r"[_\s]+")
_LEADING = re.compile(r"^[\W_]+", re.UNICODE)
_TRAILING = re.compile(r"[\W_]+$", re.UNICODE)
_KEPT_AT_END = re.compile(r"^[+#%]+")  # of the trailing run of symbols: c++, c#, 100%


def normalize_tag(text: str) -> str:
    """Normalise one tag: Unicode NFKC, lower case, no bullets or numbering, no quotes or leading symbols,
    underscores and runs of whitespace collapsed to one space, ``+ # %`` kept at the end.

    Returns "" only for something without a letter or a digit (not a tag); the result is a fixed point
    (``normalize_tag(normalize_tag(x)) == normalize_tag(x)``).
    """
    if not isinstance(text, str):
        return ""
    tag, previous = text, None
    while tag != previous:  # each pass can expose another bullet or edge mark; stop at the fixed point
        previous, tag = tag, _normalize_once(tag)
    return tag


def _normalize_once(text: str) -> str:
    tag = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold()).strip()
    unbulleted = _BULLET.sub("", tag)
    if _has_alnum(unbulleted):  # "a) )" is not a bullet followed by a tag
        tag = unbulleted
    tag = _ODD_CHARS.sub(" ", tag)
    tag = _INNER_SEP.sub(" ", tag)
    tag = _LEADING.sub("", tag)
    end = _TRAILING.search(tag)
    if end:
        kept = _KEPT_AT_END.match(end.group())
        tag = tag[: end.start()] + (kept.group() if kept else "")
    return tag.strip()


def _has_alnum(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def normalize_tags(tags: Iterable[str]) -> list[str]:
    """Normalise each tag, drop empties and duplicates, keep the first-seen order."""
    seen: dict[str, None] = {}
    for raw in tags:
        tag = normalize_tag(raw)
        if tag and tag not in seen:
            seen[tag] = None
    return list(seen)


def is_rewritten(raw: str, tag: str) -> bool:
    """True when normalisation changed ``raw`` into ``tag`` beyond letter case and spacing (what a reviewer is
    told before saving and an import summary counts): "C++" -> "c++" is not a rewrite, "=1+1" -> "1+1" is."""
    folded = " ".join(unicodedata.normalize("NFKC", str(raw)).casefold().split())
    return folded != tag
