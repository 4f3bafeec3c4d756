"""What makes a task valid (MQ-TASK-1), as a pure function returning the problem in words."""

from __future__ import annotations

from typing import Any

from mqspec.reference.jsonvalue import TOKEN_KEY

__all__ = ["PRIORITIES", "task_problem"]

PRIORITIES = (0, 1, 2)


def _is_integer(value: Any) -> bool:
    # bool is a subclass of int in Python, but true/false are not JSON numbers.
    return isinstance(value, int) and not isinstance(value, bool)


def task_problem(task: Any, *, tokens: bool = False) -> str | None:
    """Return what is wrong with ``task``, or None when it is a valid task.

    A valid task is a JSON object with ``id`` (non-empty string), ``priority`` (0, 1 or 2) and
    optionally ``delay`` (integer seconds >= 0); every other field is opaque. For a queue that
    declares reservation tokens (``tokens``), the ``_mq_token`` key is reserved and a task that
    carries it is invalid; for any other queue that key is as opaque as the rest (MQ-TASK-1).
    """
    if not isinstance(task, dict):
        return f"task is not a JSON object: {type(task).__name__}"
    if "id" not in task:
        return "task has no id"
    ident = task["id"]
    if not isinstance(ident, str):
        return f"task id is not a string: {ident!r}"
    if ident == "":
        return "task id is empty"
    if "priority" not in task:
        return "task has no priority"
    priority = task["priority"]
    if not _is_integer(priority) or priority not in PRIORITIES:
        return f"task priority is not 0, 1 or 2: {priority!r}"
    delay = task.get("delay", 0)
    if not _is_integer(delay):
        return f"task delay is not an integer: {delay!r}"
    if delay < 0:
        return f"task delay is negative: {delay!r}"
    if tokens and TOKEN_KEY in task:
        return f"task carries the reserved key {TOKEN_KEY!r}"
    return None
