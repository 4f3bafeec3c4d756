"""JSON equality as the contract defines it (MQ-TASK-2), independent of any language's types.

Two values are JSON-equal when they are the same JSON value: numbers compare by numeric value
(``1`` equals ``1.0``, since JSON itself does not tell them apart; an integer and a float
compare as IEEE-754 doubles, because that is how most JSON parsers read a number, so a float
that a JavaScript driver prints in integer form still matches), booleans are not numbers,
objects compare as key sets (order ignored), arrays in order, strings exactly.
"""

from __future__ import annotations

import copy
import json
from typing import Any

__all__ = [
    "TOKEN_KEY",
    "copy_json",
    "describe_difference",
    "json_equal",
    "json_text",
    "same_json",
    "without_token",
]

TOKEN_KEY = "_mq_token"
"""The task key that carries a reservation token (MQ-TOKEN-1); ignored by round-trip checks."""


def copy_json(value: Any) -> Any:
    """A deep copy of a JSON value, so neither holder can mutate what the other holds.

    Only dicts and lists are mutable in JSON; everything else is shared. A plain recursive copy
    is several times faster than `copy.deepcopy` or a JSON round trip, and queues copy every
    task they store and hand out. A non-JSON value inside is copied with `copy.deepcopy`.
    """
    kind = type(value)
    if kind is dict:
        return {key: copy_json(item) for key, item in value.items()}
    if kind is list:
        return [copy_json(item) for item in value]
    if kind in _IMMUTABLE:
        return value
    return copy.deepcopy(value)


_IMMUTABLE = frozenset({str, int, float, bool, type(None)})


def json_equal(a: Any, b: Any) -> bool:
    """Return whether ``a`` and ``b`` are the same JSON value."""
    return _strict_equal(a, b)


# Types whose Python == is exactly JSON equality when both sides have that very type. float is
# left out: inside a container, one NaN object compares equal to itself.
_PLAIN = frozenset((str, int, type(None)))


def same_json(a: Any, b: Any) -> bool:
    """`json_equal`, with a fast path for the common flat task of strings, integers and nulls."""
    if type(a) is dict and type(b) is dict:
        if a != b:
            return json_equal(a, b)  # an int and a float equal as doubles, e.g.
        for key, value in a.items():
            kind = type(value)
            if kind not in _PLAIN or kind is not type(b[key]):
                return json_equal(a, b)
        return True
    return json_equal(a, b)


def _strict_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict):
        return (
            isinstance(b, dict)
            and a.keys() == b.keys()
            and all(_strict_equal(v, b[k]) for k, v in a.items())
        )
    if isinstance(a, list):
        return (
            isinstance(b, list)
            and len(a) == len(b)
            and all(_strict_equal(x, y) for x, y in zip(a, b, strict=True))
        )
    if isinstance(a, (int, float)):
        if not isinstance(b, (int, float)):
            return False
        if a == b:
            return True
        return type(a) is not type(b) and _as_double(a) == _as_double(b)
    return type(a) is type(b) and a == b


def _as_double(number: int | float) -> float:
    try:
        return float(number)
    except OverflowError:  # an integer beyond any double: compare it as itself
        return float("inf") if number > 0 else float("-inf")


def without_token(task: dict[str, Any]) -> dict[str, Any]:
    """Return ``task`` without its reservation token (the same object when it has none)."""
    if TOKEN_KEY not in task:
        return task
    return {k: v for k, v in task.items() if k != TOKEN_KEY}


_CUT = 120  # characters of one JSON value shown in a message


def json_text(value: Any, limit: int = _CUT) -> str:
    """``value`` as JSON for a message (not a Python repr), cut past ``limit`` characters
    with the full length shown, so a 1 MiB payload never floods a report."""
    try:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError):
        text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters in all)"


def describe_difference(expected: Any, observed: Any) -> str:
    """How ``observed`` differs from ``expected``, key by key, with both values as JSON.

    For two objects: each key missing, added or changed (``"memory": 256 pushed, 256.5
    returned``); anything else: both values. Long values are cut with their length shown.
    """
    if not isinstance(expected, dict) or not isinstance(observed, dict):
        return f"pushed {json_text(expected)}, got {json_text(observed)}"
    parts = []
    for key in sorted(expected.keys() | observed.keys(), key=str):
        name = json.dumps(key, ensure_ascii=False)
        if key not in observed:
            parts.append(f"{name} missing (pushed {json_text(expected[key])})")
        elif key not in expected:
            parts.append(f"{name} added ({json_text(observed[key])}, never pushed)")
        elif not json_equal(expected[key], observed[key]):
            parts.append(
                f"{name}: pushed {json_text(expected[key])}, got {json_text(observed[key])}"
            )
    return "; ".join(parts) or "no key differs"
