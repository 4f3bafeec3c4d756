"""JSON equality as the contract defines it (MQ-TASK-2), independent of any language's types.

Two values are JSON-equal when they are the same JSON value: numbers compare by numeric value
(``1`` equals ``1.0``, since JSON itself does not tell them apart), booleans are not numbers,
objects compare as key sets (order ignored), arrays in order, strings exactly.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TOKEN_KEY", "json_equal", "without_token"]

TOKEN_KEY = "_mq_token"
"""The task key that carries a reservation token (MQ-TOKEN-1); ignored by round-trip checks."""


def json_equal(a: Any, b: Any) -> bool:
    """Return whether ``a`` and ``b`` are the same JSON value."""
    # Python's == is a fast, C-level first pass. It is looser than JSON (True == 1), never
    # stricter, so a False from it is final and only a True needs the exact walk.
    if a != b:
        return False
    return _strict_equal(a, b)


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
        return isinstance(b, (int, float)) and a == b
    return type(a) is type(b) and a == b


def without_token(task: dict[str, Any]) -> dict[str, Any]:
    """Return ``task`` without its reservation token (the same object when it has none)."""
    if TOKEN_KEY not in task:
        return task
    return {k: v for k, v in task.items() if k != TOKEN_KEY}
