"""Turn raw LLM output into normalised tags.

Handles numbered lists, bullets, comma/semicolon lists, quotes, labels ("Tags:"), refusals ("I cannot ...",
"As an AI ..."), empty, overlong and repetitive output. The result is always a list of unique tags, each a
fixed point of :func:`betag_engine.catalog.normalize.normalize_tag` of at most ``MAX_TAG_CHARS`` characters, at most
``max_tags`` long. Normalisation keeps ``# %`` inside a tag and ``+ # %`` at its end (``c++``, ``100% cotton``);
output made of words, digits, spaces and hyphens parses exactly as before it did (tests/tagging/test_parsing.py).
"""

from __future__ import annotations

import re

from betag_engine.catalog.normalize import MAX_TAG_CHARS, normalize_tag

MAX_TAGS = 20
MAX_TAG_WORDS = 5
MAX_INPUT_CHARS = 4000

_REFUSAL = re.compile(
    r"\b(?:i\s+(?:cannot|can\s*not|can't|can’t|won't|am\s+unable|am\s+not\s+able|'m\s+unable|'m\s+sorry|am\s+sorry)"
    r"|as\s+an\s+ai|as\s+a\s+language\s+model|language\s+model|i\s+apologi[sz]e|sorry,|unable\s+to\s+(?:provide|help)"
    r"|not\s+able\s+to\s+(?:provide|help)|cannot\s+(?:provide|help|assist))",
    re.IGNORECASE,
)
# Separators between tags: newlines, commas, semicolons, pipes, bullets, inline "2." numbering, " - " lists.
_SPLIT = re.compile(r"[\n\r,;|\u2022\u00b7\t]+|\s(?=\d{1,2}[.)]\s)|\s+-\s+|\s+/\s+")
_LABEL = re.compile(r"^\s*(?:tags?|keywords?|labels?|answer|output)\s*:\s*", re.IGNORECASE)
_QUOTES = re.compile(r"[\"“”„«»`]|(?:^')|(?:'$)")


def is_refusal(text: str) -> bool:
    """True when ``text`` reads like a refusal or an assistant disclaimer rather than tags."""
    return bool(_REFUSAL.search(text or ""))


def canonical_tag(text: str, max_words: int = MAX_TAG_WORDS) -> str:
    """Normalise one candidate tag to a fixed point of ``normalize_tag``; "" when it is not a usable tag."""
    tag = text
    for _ in range(4):
        nxt = normalize_tag(tag)
        if nxt == tag:
            break
        tag = nxt
    else:
        return ""
    if not tag or len(tag) > MAX_TAG_CHARS or len(tag.split(" ")) > max_words or not any(ch.isalnum() for ch in tag):
        return ""
    return tag


def parse_tags(text: str | None, max_tags: int = MAX_TAGS, max_words: int = MAX_TAG_WORDS) -> list[str]:
    """Parse one completion into tags.

    Args:
        text: raw model output (any string; None gives []).
        max_tags: keep at most this many tags (first-seen order).
        max_words: drop candidates longer than this many words (sentences are not tags).

    Returns:
        Unique normalised tags, ``len <= max_tags``.
    """
    if not isinstance(text, str) or not text.strip():
        return []
    text = text[:MAX_INPUT_CHARS]
    first = text.strip().splitlines()[0] if text.strip() else ""
    if is_refusal(first[:120]):
        return []
    out: dict[str, None] = {}
    for raw in _SPLIT.split(text):
        if len(out) >= max_tags:
            break
        if not raw or is_refusal(raw):
            continue
        raw = _QUOTES.sub("", _LABEL.sub("", raw))
        tag = canonical_tag(raw, max_words=max_words)
        if tag and tag not in out:
            out[tag] = None
    return list(out)


def parse_many(texts: list[str], max_tags: int = MAX_TAGS, max_words: int = MAX_TAG_WORDS) -> list[list[str]]:
    """:func:`parse_tags` over a list of completions."""
    return [parse_tags(t, max_tags=max_tags, max_words=max_words) for t in texts]
