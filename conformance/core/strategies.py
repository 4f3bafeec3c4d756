"""Hypothesis strategies for tasks: realistic fn-shaped valid tasks and every kind of invalid one.

Values stay portable across languages: integers within +-2^53, finite floats, any unicode text,
so a driver in JavaScript or Go can round-trip them exactly.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from mqspec.reference.types import Capabilities

__all__ = [
    "INVALID_TASKS",
    "TOKEN_QUEUE_INVALID_TASKS",
    "delays",
    "invalid_tasks",
    "invalid_tasks_for",
    "json_values",
    "opaque_fields",
    "priorities",
]

MAX_SAFE_INT = 2**53

priorities = st.integers(0, 2)
delays = st.one_of(st.just(0), st.just(0), st.integers(1, 10), st.integers(11, 600))

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-MAX_SAFE_INT, MAX_SAFE_INT),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.text(max_size=20),
)

json_values: st.SearchStrategy[Any] = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(max_size=8), inner, max_size=4),
    ),
    max_leaves=12,
)
"""Any portable JSON value: unicode, nesting, every scalar kind."""

_KI = 1024
# Sizes just past the limits stores commonly have (32 Ki and 64 Ki, in characters and in UTF-8
# bytes: "é" is two bytes), and 1 MiB now and then. Sampled, not ranged: a failing size
# shrinks to the first (smallest) entry in a few steps instead of bisecting a range.
_big_payload = st.sampled_from(
    [
        ("x", 32 * _KI + 1),
        ("é", 16 * _KI + 1),
        ("x", 64 * _KI + 1),
        ("é", 32 * _KI + 1),
        ("x", 32 * _KI - 1),
        ("é", 64 * _KI),
        ("x", 1024 * _KI),
    ]
).map(lambda size: size[0] * size[1])  # built on draw: the strategy's repr stays short

opaque_fields = st.fixed_dictionaries(
    {},
    optional={
        "app_name": st.sampled_from(["myapp", "billing", "ünïcode-app"]),
        "path": st.sampled_from(["/hello", "/jobs/run", "/"]),
        "image": st.sampled_from(["fnproject/hello:0.0.1", "iron/node"]),
        "payload": st.one_of(st.text(max_size=40), _big_payload),
        "timeout": st.integers(1, 3600),
        "memory": st.sampled_from([128, 256, 1024, 4096]),
        "env_vars": st.dictionaries(
            st.text(min_size=1, max_size=8), st.text(max_size=8), max_size=3
        ),
        "extra": json_values,
    },
)
"""The opaque part of a task: fn's task fields, a payload across the common size limits (up
to 1 MiB), any JSON under extra."""

# (why it is invalid, the value). A fixed list: every kind of invalid task the spec names.
INVALID_TASKS: list[tuple[str, Any]] = [
    ("not an object: a list", ["id", "x"]),
    ("not an object: a string", "x"),
    ("not an object: a number", 7),
    ("not an object: null", None),
    ("no id", {"priority": 1}),
    ("empty id", {"id": "", "priority": 1}),
    ("id is a number", {"id": 5, "priority": 1}),
    ("id is null", {"id": None, "priority": 1}),
    ("no priority", {"id": "bad-np"}),
    ("priority 3", {"id": "bad-p3", "priority": 3}),
    ("priority -1", {"id": "bad-pm", "priority": -1}),
    ("priority 1.5", {"id": "bad-pf", "priority": 1.5}),
    ("priority is a string", {"id": "bad-ps", "priority": "1"}),
    ("priority is a boolean", {"id": "bad-pb", "priority": True}),
    ("priority is null", {"id": "bad-pn", "priority": None}),
    ("negative delay", {"id": "bad-dn", "priority": 1, "delay": -1}),
    ("fractional delay", {"id": "bad-df", "priority": 1, "delay": 2.5}),
    ("delay is a string", {"id": "bad-ds", "priority": 1, "delay": "5"}),
    ("delay is a boolean", {"id": "bad-db", "priority": 1, "delay": True}),
]

TOKEN_QUEUE_INVALID_TASKS: list[tuple[str, Any]] = [
    ("carries the reserved key _mq_token", {"id": "bad-tk", "priority": 1, "_mq_token": "x"}),
]
"""Invalid only for a queue that declares reservation tokens: the key is reserved there, and
opaque everywhere else, so the harness sends it to token queues only (MQ-TASK-1)."""


def invalid_tasks_for(caps: Capabilities) -> list[tuple[str, Any]]:
    """Every kind of invalid task for a queue declaring ``caps``."""
    if caps.reservation_tokens:
        return INVALID_TASKS + TOKEN_QUEUE_INVALID_TASKS
    return INVALID_TASKS


def invalid_tasks(caps: Capabilities) -> st.SearchStrategy[tuple[str, Any]]:
    """A strategy for (why, task) pairs of the invalid tasks of a queue declaring ``caps``."""
    return st.sampled_from(invalid_tasks_for(caps))
