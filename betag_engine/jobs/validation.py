"""The one validation path of job parameters: names, types and ranges, read from the parameter dataclasses.

Every launch goes through :func:`betag_engine.jobs.registry.check_params` (the Generate page's form fields and its
JSON box alike, the CLI, a worker, a pipeline stage), which calls :func:`check_values` before the class's own
``__post_init__``. A field's range lives in its metadata next to its ``help``: ``min`` / ``max`` (inclusive),
``above`` (exclusive lower bound), ``min_items`` (lists); ``null`` gives the meaning of None. The same metadata
sets the Generate page's number inputs (:func:`bounds`) and the valid range in docs/JOBS.md (:func:`range_text`),
so the message of a refused value states the range the form allows.
"""

from __future__ import annotations

import math
import numbers
import types
import typing
from dataclasses import Field, fields
from typing import Any

from betag_engine.vocabulary import CURATED

WRITTEN_SYSTEM = "system"  # the parameter naming the tagging system a job writes (or scores)


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _optional(hint: Any) -> tuple[bool, Any]:
    """(None allowed, the hint without None)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) < len(typing.get_args(hint)):
            return True, (args[0] if len(args) == 1 else Any)
    return False, hint


_NAMES = {int: ("an integer", "integers"), float: ("a number", "numbers"), str: ("a text", "texts"),
          bool: ("true or false", "booleans"), dict: ("a JSON object", "JSON objects")}


def _kind_text(hint: Any, plural: bool = False) -> str:
    origin = typing.get_origin(hint) or hint
    if origin in (list, tuple):
        args = [a for a in typing.get_args(hint) if a is not Ellipsis]
        return f"a list of {_kind_text(args[0], plural=True)}" if args else "a list"
    return _NAMES.get(origin, ("a value", "values"))[plural]


def _is(value: Any, hint: Any) -> bool:
    if hint is Any:
        return True
    allows_none, hint = _optional(hint)
    if value is None:
        return allows_none
    origin = typing.get_origin(hint) or hint
    if origin is bool:
        return isinstance(value, bool)
    if origin is int:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if origin is float:
        return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if origin is str:
        return isinstance(value, str)
    if origin in (list, tuple):
        args = [a for a in typing.get_args(hint) if a is not Ellipsis]
        return isinstance(value, list | tuple) and all(_is(v, args[0]) for v in value) if args else \
            isinstance(value, list | tuple)
    if origin is dict:
        return isinstance(value, dict)
    return True


def range_text(f: Field) -> str:
    """The valid range of a field from its metadata, e.g. ">= 1", "1 to 50", "> 0 and <= 1" ("" when none)."""
    meta = f.metadata
    low, high, above = meta.get("min"), meta.get("max"), meta.get("above")
    parts = ["not empty"] if meta.get("min_items") == 1 else []
    if (meta.get("min_items") or 0) > 1:
        parts.append(f"at least {meta['min_items']} values")
    if low is not None and high is not None:
        parts.append(f"{low} to {high}")
    elif low is not None:
        parts.append(f">= {low}")
    elif above is not None:
        parts.append(f"> {above}" + (f" and <= {high}" if high is not None else ""))
    elif high is not None:
        parts.append(f"<= {high}")
    return ", ".join(parts)


def describe(f: Field, hint: Any) -> str:
    """What a field accepts, in words: "an integer >= 1, or null (every item)"."""
    allows_none, bare = _optional(hint)
    text = _kind_text(bare)
    rng = range_text(f)
    if rng:
        each = "each " if typing.get_origin(bare) in (list, tuple) and f.metadata.get("min") is not None else ""
        text += f" ({rng.replace('not empty, ', 'not empty, ' + each) if each else rng})"
    if allows_none:
        text += f", or null ({f.metadata['null']})" if f.metadata.get("null") else ", or null"
    return text


def _in_range(value: Any, meta: dict) -> bool:
    if isinstance(value, list | tuple):
        return len(value) >= meta.get("min_items", 0) and all(_in_range(v, meta) for v in value)
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        return True
    if meta.get("min") is not None and value < meta["min"]:
        return False
    if meta.get("max") is not None and value > meta["max"]:
        return False
    return not (meta.get("above") is not None and value <= meta["above"])


def check_values(kind: str, cls: type, params: dict) -> None:
    """Refuse a value of the wrong type or outside its field's range, naming the field, what it accepts and what
    was given. ValueError on the first bad value (in field order)."""
    hints = _hints(cls)
    for f in fields(cls):
        if f.name not in params:
            continue
        value, hint = params[f.name], hints[f.name]
        if not _is(value, hint) or (value is not None and not _in_range(value, f.metadata)):
            raise ValueError(f"{kind} job: {f.name} must be {describe(f, hint)}; got {value!r}")
    if params.get(WRITTEN_SYSTEM) == CURATED and WRITTEN_SYSTEM in {f.name for f in fields(cls)}:
        raise ValueError(f"{kind} job: system {CURATED!r} holds the reviewers' decisions and is written only by them; "
                         "name another system")


def bounds(cls: type, name: str) -> tuple[float | None, float | None]:
    """(min, max) of a numeric field for a form's number input (None where open)."""
    meta = {f.name: f.metadata for f in fields(cls)}[name]
    return meta.get("min"), meta.get("max")
