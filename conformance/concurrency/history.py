"""Concurrent histories: what several clients did to one queue, on one clock.

Responsibility: the value classes `Operation` and `History`, their JSON-lines form
(spec/history-format.md): a header line with the queue's capabilities, then one line per
operation with its client, its arguments, its invocation and completion times, and its result;
and two structural facts the checkers use: where the history can be cut (`quiescent_windows`)
and where the instant a call took effect can matter (`timing`).
Checkers (`mqspec.conformance.concurrency.fastcheck`, `mqspec.conformance.concurrency.linearize`)
read these values;
the recorder (`mqspec.conformance.concurrency.recorder`) writes them.

Rule: no I/O besides the strings given and returned, no clock, no threads. Imports the
reference vocabulary only (capabilities, outcome values, errors).
"""

from __future__ import annotations

import json
import math
from bisect import bisect_left, bisect_right
from typing import Any, Literal

import attrs

from mqspec.reference.errors import UsageError
from mqspec.reference.types import Capabilities, Failed, Ok, Outcome, Unknown

__all__ = [
    "FORMAT",
    "VERSION",
    "History",
    "Operation",
    "from_jsonl",
    "quiescent_windows",
    "result_from_json",
    "result_to_json",
    "timing",
    "to_jsonl",
]

FORMAT = "mqspec-history"
VERSION = 1

OpName = Literal["push", "reserve", "delete"]
_OPS = ("push", "reserve", "delete")
INF = math.inf


def _finite(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise UsageError(f"{attribute.name} must be a finite number of seconds, got {value!r}")


def _client(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UsageError(f"{attribute.name} must be an integer >= 0, got {value!r}")


def _op_name(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value not in _OPS:
        raise UsageError(f"{attribute.name} must be one of {', '.join(_OPS)}, got {value!r}")


def _clock(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value not in ("virtual", "queue"):
        raise UsageError(f"{attribute.name} must be 'virtual' or 'queue', got {value!r}")


def _capabilities(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, Capabilities):
        raise UsageError(f"{attribute.name} must be Capabilities, got {value!r}")


def _outcome(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, (Ok, Failed, Unknown)):
        raise UsageError(f"{attribute.name} must be Ok, Failed or Unknown, got {value!r}")


@attrs.frozen(kw_only=True)
class Operation:
    """One call one client made: its arguments, when it ran, and what it answered.

    Attributes:
        client: the caller, an integer >= 0; one client's operations never overlap.
        op: ``push``, ``reserve`` or ``delete``.
        task: the task pushed, or the task given to Delete (as Reserve returned it, token
            included); None for Reserve.
        invoke: when the call started, in seconds on the history's one clock.
        complete: when it returned, on the same clock; None when it never returned.
        result: ``Ok(value)`` (Push: the task returned, Reserve: the task or None, Delete:
            None), ``Failed(message)`` (the queue answered an error), or ``Unknown(reason)``
            (no answer: it may have taken effect at any time after ``invoke``, or not at all).
        drain: a Reserve of the final drain (MQ-LOSS-1), made after every delay and deadline
            plus slack has passed.

    Raises:
        UsageError: a field is malformed (the message names it), ``complete`` is before
            ``invoke``, an Unknown result has a completion time or a known one has none, a
            Delete's task has no string id, or a non-Reserve is marked ``drain``.
    """

    client: int = attrs.field(validator=_client)
    op: OpName = attrs.field(validator=_op_name)
    task: Any = None
    invoke: float = attrs.field(validator=_finite)
    complete: float | None = attrs.field(validator=attrs.validators.optional(_finite))
    result: Outcome = attrs.field(validator=_outcome)
    drain: bool = False

    def __attrs_post_init__(self) -> None:
        if self.complete is not None and self.complete < self.invoke:
            raise UsageError(
                f"complete must not be before invoke, got invoke={self.invoke!r} "
                f"complete={self.complete!r}"
            )
        if isinstance(self.result, Unknown) != (self.complete is None):
            raise UsageError(
                "complete must be None exactly when the result is Unknown (the call did not "
                f"return), got complete={self.complete!r} result={self.result!r}"
            )
        if self.op == "delete" and (
            not isinstance(self.task, dict) or not isinstance(self.task.get("id"), str)
        ):
            raise UsageError(f"a delete needs a task with a string id, got {self.task!r}")
        if self.op == "reserve" and self.task is not None:
            raise UsageError(f"a reserve takes no task, got {self.task!r}")
        if self.drain and self.op != "reserve":
            raise UsageError(f"only a reserve can be part of the drain, got {self.op!r}")

    @property
    def end(self) -> float:
        """The completion time, or infinity for a call that never returned."""
        return math.inf if self.complete is None else self.complete

    @property
    def returned(self) -> Any:
        """What an Ok answer carried (a task, or None); None for any other result."""
        return self.result.value if isinstance(self.result, Ok) else None

    def describe(self) -> str:
        """A one-line summary: ``client 2 reserve [0.001200, 0.001450] -> 'c0-3'``."""
        window = f"[{self.invoke:.6f}, " + (
            "never]" if self.complete is None else f"{self.complete:.6f}]"
        )
        arg = f" {self.task['id']!r}" if isinstance(self.task, dict) and "id" in self.task else ""
        kind = "drain" if self.drain else self.op
        return f"client {self.client} {kind}{arg} {window} -> {_short(self.op, self.result)}"


def _short(op: str, outcome: Outcome) -> str:
    if isinstance(outcome, Ok):
        value = outcome.value
        if op != "reserve":
            return "ok"
        if isinstance(value, dict) and "id" in value:
            return repr(value["id"])
        return "null" if value is None else f"{value!r}"[:60]
    if isinstance(outcome, Failed):
        return f"error {outcome.message!r}"
    return f"unknown ({outcome.reason})"


def _ops(value: Any) -> tuple[Operation, ...]:
    return tuple(value)


@attrs.frozen(kw_only=True)
class History:
    """Everything the clients of one queue did, on one monotonic clock.

    Attributes:
        capabilities: what the queue declares (T and slack are what the checkers need).
        operations: the calls, in any order (the recorder writes them by invocation time).
        clock: ``virtual`` (each call got ``now`` = its invocation time) or ``queue`` (the
            queue read its own clock, the same monotonic clock, inside each call).
        meta: free-form facts about the run (seed, clients, adapter); never interpreted.
    """

    capabilities: Capabilities = attrs.field(validator=_capabilities)
    operations: tuple[Operation, ...] = attrs.field(converter=_ops)
    clock: Literal["virtual", "queue"] = attrs.field(default="virtual", validator=_clock)
    meta: dict[str, Any] = attrs.field(factory=dict, eq=False, hash=False)

    def __attrs_post_init__(self) -> None:
        last: dict[int, float] = {}
        for op in sorted(self.operations, key=lambda o: (o.client, o.invoke)):
            if op.client in last and op.invoke < last[op.client]:
                raise UsageError(
                    f"client {op.client}'s calls overlap: one invoked at {op.invoke!r} before "
                    f"the previous one completed at {last[op.client]!r}"
                )
            # A call that never returned does not hold its client back: an abandoned call
            # (a cancelled context) may still run while the client goes on.
            last[op.client] = op.invoke if op.complete is None else op.complete

    def __len__(self) -> int:
        return len(self.operations)


# ---------------------------------------------------------------- structure


def quiescent_windows(history: History) -> list[list[int]]:
    """The history cut where nothing is pending: lists of operation indices, in order.

    A cut falls between two operations (by invocation) when every operation before it
    completed strictly before the next was invoked.
    """
    ops = history.operations
    order = sorted(range(len(ops)), key=lambda i: (ops[i].invoke, ops[i].end))
    windows: list[list[int]] = []
    current: list[int] = []
    reach = -INF
    for i in order:
        if current and reach < ops[i].invoke:
            windows.append(current)
            current = []
        current.append(i)
        reach = max(reach, ops[i].end)
    if current:
        windows.append(current)
    return windows


def timing(history: History) -> tuple[bool, list[bool], list[bool]]:
    """Where time choices could matter: (time-separated, watch, late) over the operations.

    A Reserve that took (or may have taken) a job sets a deadline in [invoke + T, complete + T
    + slack], which only Reserves and Deletes compare their instant with; a delayed Push sets
    a ready time in [invoke + d, complete + d + slack], which Reserves compare with, and Pushes
    too (FIFO between an immediate and a delayed job, or two delayed ones). ``watch[k]``: a
    range that operation k compares with meets its window, so thresholds may fall inside it.
    ``late[j]``: operation j's range meets the window of one that compares with it, or another
    delayed range, so the instant j took effect may matter. Time-separated: no ``late`` at all.
    O(n log n).
    """
    ops = history.operations
    caps = history.capabilities
    deadlines: list[tuple[float, float, int]] = []
    ready: list[tuple[float, float, int]] = []
    for j, op in enumerate(ops):
        if op.op == "reserve" and (op.complete is None or op.returned is not None):
            deadlines.append(
                (
                    op.invoke + caps.reservation_timeout,
                    op.end + caps.reservation_timeout + caps.slack,
                    j,
                )
            )
        elif op.op == "push" and isinstance(op.task, dict):
            delay = op.task.get("delay", 0)
            if type(delay) is int and delay > 0:
                ready.append((op.invoke + delay, op.end + delay + caps.slack, j))
    late = [False] * len(ops)
    watch = [False] * len(ops)
    for ranges, kinds in ((deadlines, ("reserve", "delete")), (ready, ("reserve", "push"))):
        looking = [k for k, op in enumerate(ops) if op.op in kinds]
        starts = sorted(ops[k].invoke for k in looking)
        ends = sorted(ops[k].end for k in looking)
        for a, b, j in ranges:  # does some window that compares with this range meet it?
            me = ops[j]
            mine = 1 if me.op in kinds and me.invoke <= b and a <= me.end else 0
            if bisect_right(starts, b) - bisect_left(ends, a) - mine > 0:
                late[j] = True
        range_starts = sorted(r[0] for r in ranges)
        range_ends = sorted(r[1] for r in ranges)
        owner = {r[2]: r for r in ranges}
        for k in looking:  # does some range this window compares with meet it?
            op = ops[k]
            hits = bisect_right(range_starts, op.end) - bisect_left(range_ends, op.invoke)
            own = owner.get(k)
            if own is not None and op.invoke <= own[1] and own[0] <= op.end:
                hits -= 1
            watch[k] = watch[k] or hits > 0
    reach, holder = -INF, -1
    for a, b, j in sorted(ready):
        if a <= reach:  # two delayed jobs whose enqueue ranges meet: FIFO may hang on time
            late[j] = late[holder] = True
        if b > reach:
            reach, holder = b, j
    return not any(late), watch, late


# ---------------------------------------------------------------- JSON lines


def result_to_json(outcome: Outcome) -> dict[str, Any]:
    """``{"ok": value}``, ``{"error": message}`` or ``{"unknown": reason}``."""
    if isinstance(outcome, Ok):
        return {"ok": outcome.value}
    if isinstance(outcome, Failed):
        return {"error": outcome.message}
    out: dict[str, Any] = {"unknown": outcome.reason}
    if outcome.reported_failure:
        out["reported_failure"] = True
    return out


def result_from_json(data: Any) -> Outcome:
    """Inverse of `result_to_json`.

    Raises:
        UsageError: ``data`` is not one of the three shapes.
    """
    if isinstance(data, dict) and len(data) == 1 and "ok" in data:
        return Ok(data["ok"])
    if isinstance(data, dict) and len(data) == 1 and isinstance(data.get("error"), str):
        return Failed(data["error"])
    if isinstance(data, dict) and isinstance(data.get("unknown"), str):
        extra = set(data) - {"unknown", "reported_failure"}
        flag = data.get("reported_failure", False)
        if not extra and isinstance(flag, bool):
            return Unknown(data["unknown"], flag)
    raise UsageError(
        f'a result must be {{"ok": value}}, {{"error": "..."}} or {{"unknown": "..."}}, '
        f"got {data!r}"
    )


def _dump(value: Any) -> str:
    # allow_nan=False: NaN and Infinity are not JSON, and a history must be JSON.
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def to_jsonl(history: History) -> str:
    """The history as JSON lines: the header, then one line per operation, each ending in "\\n".

    Raises:
        UsageError: a task or result holds something JSON cannot carry (NaN, a set, ...).
    """
    header = {
        "format": FORMAT,
        "version": VERSION,
        "capabilities": history.capabilities.to_json(),
        "clock": history.clock,
        "meta": history.meta,
    }
    lines = [_dump(header)]
    for op in history.operations:
        record: dict[str, Any] = {"client": op.client, "op": op.op}
        if op.op != "reserve":
            record["task"] = op.task
        record["invoke"] = op.invoke
        record["complete"] = op.complete
        record["result"] = result_to_json(op.result)
        if op.drain:
            record["drain"] = True
        try:
            lines.append(_dump(record))
        except (TypeError, ValueError) as err:
            raise UsageError(f"operation {op.describe()} is not JSON: {err}") from None
    return "\n".join(lines) + "\n"


_OP_KEYS = {"client", "op", "task", "invoke", "complete", "result", "drain"}
_HEADER_KEYS = {"format", "version", "capabilities", "clock", "meta"}


def from_jsonl(text: str) -> History:
    """Read a history written by `to_jsonl`.

    Lines are split on "\\n" only (a JSON string may hold U+2028 or a form feed, which
    ``str.splitlines`` would split on); blank lines are ignored.

    Raises:
        UsageError: the text is not a history; the message names the line number.
    """
    lines = [(n, line) for n, line in enumerate(text.split("\n"), start=1) if line.strip()]
    if not lines:
        raise UsageError("not a history: the text is empty")
    number, first = lines[0]
    header = _load(number, first)
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise UsageError(f"line {number}: not an {FORMAT} header: {first[:80]!r}")
    if header.get("version") != VERSION:
        raise UsageError(f"line {number}: unsupported version {header.get('version')!r}")
    unknown = set(header) - _HEADER_KEYS
    if unknown:
        raise UsageError(f"line {number}: unknown header keys {sorted(unknown)}")
    try:
        caps = Capabilities(**header.get("capabilities", {}))
    except (TypeError, ValueError) as err:
        raise UsageError(f"line {number}: bad capabilities: {err}") from None
    operations = []
    for number, line in lines[1:]:
        record = _load(number, line)
        if not isinstance(record, dict):
            raise UsageError(f"line {number}: an operation must be a JSON object")
        if not isinstance(record.get("drain", False), bool):
            raise UsageError(f"line {number}: drain must be true or false")
        unknown = set(record) - _OP_KEYS
        if unknown:
            raise UsageError(f"line {number}: unknown keys {sorted(unknown)}")
        try:
            operations.append(
                Operation(
                    client=record.get("client"),  # type: ignore[arg-type]
                    op=record.get("op"),  # type: ignore[arg-type]
                    task=record.get("task"),
                    invoke=record.get("invoke"),  # type: ignore[arg-type]
                    complete=record.get("complete"),
                    result=result_from_json(record.get("result")),
                    drain=record.get("drain", False),
                )
            )
        except (UsageError, ValueError, TypeError) as err:
            raise UsageError(f"line {number}: {err}") from None
    try:
        return History(
            capabilities=caps,
            operations=operations,
            clock=header.get("clock", "virtual"),
            meta=header.get("meta") or {},
        )
    except (UsageError, ValueError) as err:
        raise UsageError(f"history: {err}") from None


def _load(number: int, line: str) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as err:
        raise UsageError(f"line {number}: not JSON: {err.msg} (column {err.colno})") from None
