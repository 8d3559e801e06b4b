"""What an imported value may be: one function per kind of field, each returning the stored value or raising
:class:`Refused` with the reason a person can act on.

The rules are the same whichever file or format a value comes from (CSV, TSV, JSONL, Parquet, a DataFrame):
ids, names, text, timestamps, ratings and tags. Tags in particular follow :func:`check_tag` whether they come from
the items file's ``tags`` column or from a long-form tags file. Validation (length, emptiness, control characters)
is kept apart from normalisation (:mod:`betag_engine.catalog.normalize`, which decides how a tag is spelled).
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime
from datetime import time as dt_time
from decimal import Decimal
from functools import cached_property
from typing import Any

from betag_engine.catalog.normalize import MAX_TAG_CHARS, normalize_tag

MAX_ID_CHARS = 255  # items.external_id, users.external_id (String(255))
MAX_NAME_CHARS = 64  # tagging_systems.name (String(64))
MAX_TITLE_CHARS = 2_000
MAX_TEXT_CHARS = 100_000  # a description or a metadata value

# Control characters (Unicode Cc) and lone surrogates. Surrogates are how an undecodable byte arrives (the CSV
# reader decodes with 'surrogateescape') or what a JSON "\ud800" escape gives; no database can store them.
_ANY_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROL_BUT_WHITESPACE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_ISO = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,9})?)?)?"
                  r"(?:Z|z|[+-][0-9]{2}:?[0-9]{2})?")
_RELATIVE = re.compile(r"\b(?:now|today|tonight|yesterday|tomorrow|ago|last|next|this)\b", re.I)
_DAY_MONTH = re.compile(r"[0-9]{1,2}[/.\-][0-9]{1,2}[/.\-][0-9]{2,4}(?:\b|$)")
# What "stripped" removes: spaces, tab and line breaks, and the Unicode space characters. Not str.strip()'s other
# whitespace (\x0b, \x0c, \x1c-\x1f, \x85), which are control characters and are refused, not silently dropped.
_SPACES = " \t\n\r\u00a0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"
TIMESTAMP_FORMATS = ("auto", "epoch", "iso")  # or a strptime pattern such as "%d/%m/%Y %H:%M"


class Refused(ValueError):
    """A value cannot be imported; the message says why (the caller adds file, row and field)."""


@dataclass(frozen=True)
class TimestampRule:
    """How timestamps are read: ``auto`` (epoch seconds or ISO 8601), ``epoch``, ``iso`` or a strptime pattern
    (needed for day/month dates such as 01/02/2020, which are ambiguous without it); times without a zone are UTC.
    Years outside [min_year, max_year] are refused."""

    format: str = "auto"
    min_year: int = 1900
    max_year: int = 2100

    def __post_init__(self) -> None:
        if self.format not in TIMESTAMP_FORMATS and "%" not in self.format:
            raise ValueError(f"timestamp format must be one of {', '.join(TIMESTAMP_FORMATS)} or a strptime "
                             f"pattern containing % (e.g. %d/%m/%Y), got {self.format!r}")
        if not 1 <= self.min_year <= self.max_year <= 9998:
            raise ValueError(f"year range must satisfy 1 <= min <= max <= 9998, got {self.min_year}..{self.max_year}")

    @cached_property
    def bounds(self) -> tuple[float, float]:
        low = datetime(self.min_year, 1, 1, tzinfo=UTC).timestamp()
        return low, datetime(self.max_year + 1, 1, 1, tzinfo=UTC).timestamp()


def _describe(char: str) -> str:
    code = ord(char)
    if 0xD800 <= code <= 0xDFFF:
        return f"a byte that is not UTF-8 (0x{code - 0xDC00:02x})" if code >= 0xDC80 else "an invalid Unicode escape"
    name = {0: "NUL", 9: "tab", 10: "line feed", 13: "carriage return", 27: "escape", 127: "DEL"}.get(code)
    return f"control character U+{code:04X}" + (f" ({name})" if name else "")


def as_text(value: Any, *, integer_floats: bool = False) -> str:
    """A cell as text: strings as they are, numbers written out; None (and NaN from a DataFrame) as "".

    Raises:
        Refused: a binary, list or object cell (Parquet binary/list/struct columns, nested JSON), or a boolean.
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        raise Refused(f"a boolean ({value}) where text or a number is expected")
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if integer_floats:
            if not value.is_integer():
                raise Refused(f"{value!r} is not a whole number; ids must be text or whole numbers")
            return str(int(value))
        return repr(value)
    if isinstance(value, date | dt_time):
        return value.isoformat()
    kind = "binary data" if isinstance(value, bytes | bytearray | memoryview) else type(value).__name__
    shown = repr(value)
    raise Refused(f"not a single value: {kind} {shown[:40]}{'...' if len(shown) > 40 else ''}; a cell must be text "
                  "or a number")


def check_text(value: Any, limit: int = MAX_TEXT_CHARS, multiline: bool = True) -> str:
    """Free text (title, description, metadata): stripped; tab and line breaks allowed when ``multiline``."""
    text = as_text(value).strip(_SPACES)
    bad = (_CONTROL_BUT_WHITESPACE if multiline else _ANY_CONTROL).search(text)
    if bad:
        raise Refused(f"contains {_describe(bad.group())} at character {bad.start() + 1}")
    if len(text) > limit:
        raise Refused(f"too long: {len(text):,} characters (the limit is {limit:,})")
    return text


def check_id(value: Any, what: str = "id") -> str:
    """An item or user id: non-empty, one line, no control characters, at most MAX_ID_CHARS characters."""
    text = (value if isinstance(value, str) else as_text(value, integer_floats=True)).strip(_SPACES)
    if not text:
        raise Refused(f"empty {what}")
    bad = _ANY_CONTROL.search(text)
    if bad:
        raise Refused(f"{what} contains {_describe(bad.group())} at character {bad.start() + 1}")
    if len(text) > MAX_ID_CHARS:
        raise Refused(f"{what} too long: {len(text):,} characters (the limit is {MAX_ID_CHARS})")
    return text


def check_name(value: str, what: str = "name", limit: int = MAX_NAME_CHARS) -> str:
    """A name the user chooses (a tagging system): non-empty, no control characters, at most ``limit``."""
    text = check_id(value, what)
    if len(text) > limit:
        raise Refused(f"{what} too long: {len(text):,} characters (the limit is {limit})")
    return text


def check_tag(value: Any) -> str:
    """The one tag rule of every import path: the normalised tag, or Refused (empty, control characters, nothing
    left after normalisation, longer than MAX_TAG_CHARS)."""
    text = as_text(value).strip(_SPACES)
    if not text:
        raise Refused("empty tag")
    bad = _ANY_CONTROL.search(text)
    if bad:
        raise Refused(f"tag contains {_describe(bad.group())}")
    tag = normalize_tag(text)
    folded = unicodedata.normalize("NFKC", text)
    if (not tag and len(folded) > MAX_TAG_CHARS and re.search(r"\w", folded)) or len(tag) > MAX_TAG_CHARS:
        raise Refused(f"tag too long: {len(folded)} characters (the limit is {MAX_TAG_CHARS}); shorten it or split "
                      "a category path into several tags")
    if not tag:
        raise Refused(f"{text[:40]!r} is not a tag: nothing is left after normalisation")
    return tag


def check_tag_list(value: Any, separator: str) -> list[str]:
    """The items file's ``tags`` cell: pieces split by ``separator`` (empty pieces ignored), each by
    :func:`check_tag`; duplicates after normalisation are kept once, in the order given."""
    out: dict[str, None] = {}
    pieces = [p for p in as_text(value).split(separator) if p.strip(_SPACES)]
    for n, piece in enumerate(pieces, start=1):
        try:
            out[check_tag(piece)] = None
        except Refused as exc:
            raise Refused(f"tag {n} of {len(pieces)} ({piece.strip(_SPACES)[:40]!r}): {exc}") from None
    return list(out)


def check_rating(value: Any, low: float, high: float) -> float | None:
    """A rating: a finite number in [low, high] written with ASCII digits; "" or None is no rating."""
    if value is None or (isinstance(value, str) and not value.strip(_SPACES)):
        return None
    if isinstance(value, bool):
        raise Refused(f"a boolean ({value}) is not a rating")
    if isinstance(value, int | float | Decimal):
        number = float(value)
        if isinstance(value, float) and math.isnan(value):
            return None  # a missing value in a numeric column (Parquet null, DataFrame NaN)
    else:
        text = as_text(value).strip(_SPACES)
        if not _NUMBER.fullmatch(text):
            raise Refused(f"not a number: {text[:40]!r} (write it with digits 0-9, e.g. 4 or 3.5)")
        number = float(text)
    if not math.isfinite(number):
        raise Refused(f"not a finite number: {value!r}")
    if not low <= number <= high:
        raise Refused(f"rating {number:g} is outside the allowed range [{low:g}, {high:g}] (--rating-range)")
    return number


def check_timestamp(value: Any, rule: TimestampRule, cache: dict | None = None) -> float:
    """A timestamp as epoch seconds (UTC), by ``rule``; Refused says why a value is not one."""
    if isinstance(value, str):
        text = value.strip(_SPACES)
        if cache is not None and text in cache:
            return cache[text]
        stamp = _parse_text(text, rule)
        _check_range(stamp, text, rule)
        if cache is not None and len(cache) < 100_000:
            cache[text] = stamp
        return stamp
    if isinstance(value, datetime):
        stamp = (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    elif isinstance(value, date):
        stamp = datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp()
    elif isinstance(value, bool):
        raise Refused(f"a boolean ({value}) is not a timestamp")
    elif isinstance(value, int | float | Decimal):
        if rule.format not in ("auto", "epoch"):
            raise Refused(f"a number ({value}) where the timestamp format is {rule.format!r}")
        stamp = float(value)
        if not math.isfinite(stamp):
            raise Refused(f"not a finite number: {value!r}")
    elif value is None:
        raise Refused("empty timestamp")
    else:
        raise Refused(f"not a timestamp: {as_text(value)[:40]!r}")
    _check_range(stamp, value, rule)
    return stamp


def _check_range(stamp: float, shown: Any, rule: TimestampRule) -> None:
    low, high = rule.bounds
    if low <= stamp < high:
        return
    hint = ""
    if abs(stamp) >= 1e11 and low <= stamp / 1000 < high:
        hint = "; it looks like milliseconds: divide by 1000"
    raise Refused(f"timestamp {str(shown)[:40]!r} is outside the years {rule.min_year}-{rule.max_year}{hint}")


def _parse_text(text: str, rule: TimestampRule) -> float:
    if not text:
        raise Refused("empty timestamp")
    if rule.format not in TIMESTAMP_FORMATS:
        try:
            parsed = datetime.strptime(text, rule.format)
        except ValueError:
            raise Refused(f"{text[:40]!r} does not match the timestamp format {rule.format!r}") from None
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
    if rule.format in ("auto", "epoch") and _NUMBER.fullmatch(text):
        return float(text)
    if rule.format in ("auto", "iso") and _ISO.fullmatch(text):
        try:
            parsed = datetime.fromisoformat(text.replace("z", "Z"))
        except ValueError as exc:
            raise Refused(f"{text[:40]!r} is not a valid date or time ({exc})") from None
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
    raise Refused(_why_not_a_timestamp(text, rule.format))


def _why_not_a_timestamp(text: str, fmt: str) -> str:
    shown = repr(text[:40])
    if _RELATIVE.search(text):
        return (f"relative date {shown}: it would mean a different time at each import; give the date itself "
                "(epoch seconds or ISO 8601)")
    if _DAY_MONTH.match(text):
        return (f"ambiguous date {shown}: day/month order is unknown; give --timestamp-format (e.g. %d/%m/%Y or "
                "%m/%d/%Y) or use ISO 8601 (2020-02-01)")
    expected = {"auto": "epoch seconds or ISO 8601 (2024-01-31 or 2024-01-31T12:00:00Z)",
                "epoch": "epoch seconds (digits 0-9)", "iso": "ISO 8601 (2024-01-31T12:00:00Z)"}[fmt]
    return f"not a timestamp: {shown}; expected {expected}; other formats need --timestamp-format"
