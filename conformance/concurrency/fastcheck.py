"""A fast, queue-specific checker for concurrent histories: O(n log n), never a false alarm.

Responsibility: scan a whole `History` with sorts, bisections and prefix maxima, and report
every anomaly that is *certain*: one that every linearization of the history would show,
wherever inside its [invoke, complete] window each operation took effect. When in doubt it
says nothing; the exact checker (`mqspec.conformance.concurrency.linearize`) decides the rest.

What is flagged, and why each is certain (spec/history-format.md gives the full argument):

* MQ-RESERVE-1: a Reserve answered an error (the model refuses it in every state).
* MQ-RESERVE-2: a Reserve returned an id no Push had been invoked for by the time the Reserve
  completed; or returned a job after a successful Delete of it completed, that Delete having
  started after the job's Push completed.
* MQ-RESERVE-3: two Reserves returned the same job, and whichever went first, the second
  ran less than T after the first (``c2 - i1 < T`` and ``c1 - i2 < T``).
* MQ-READY-2: a Reserve returned a delayed job and completed before push-invocation + delay.
* MQ-ORDER-1 / MQ-RESTORE-2: a Reserve returned a job of priority p while a job of higher
  priority was certainly ready (its Push completed, plus delay and slack, before the Reserve
  started) and nothing that could precede the Reserve had taken or deleted it.
* MQ-ORDER-2: the same within one priority, for a job certainly enqueued before the returned
  one (its latest possible enqueue instant before the returned job's earliest one).
* MQ-READY-1 / MQ-READY-3: a Reserve outside the drain returned null while such a job existed.
* MQ-LOSS-1: the drain ended with null while more jobs were certainly live and ready than
  Reserves of unknown outcome could be holding.

Only jobs whose id was pushed exactly once, with success, are judged ("tracked" jobs): with
duplicate ids or uncertain pushes, which job an answer refers to is not certain. A Reserve of
unknown outcome (or one that answered an error or garbage) may have taken any job, so order
and readiness checks skip every Reserve it could precede.

Rule: no I/O, no clock; imports the history values and the clause catalogue only.
"""

from __future__ import annotations

import gc
import math
from bisect import bisect_left, bisect_right
from itertools import accumulate

import attrs

from mqspec.conformance.concurrency.history import History, Operation
from mqspec.reference.clauses import Clause, clause
from mqspec.reference.types import Failed, Ok

__all__ = ["Anomaly", "find_anomalies"]

RESERVE_ERROR = clause("MQ-RESERVE-1")
UNEXPECTED = clause("MQ-RESERVE-2")
DOUBLE = clause("MQ-RESERVE-3")
EARLY = clause("MQ-READY-2")
AT_ONCE = clause("MQ-READY-1")
LATE = clause("MQ-READY-3")
PRIORITY = clause("MQ-ORDER-1")
RESTORED_PRIORITY = clause("MQ-RESTORE-2")
FIFO = clause("MQ-ORDER-2")
LOST = clause("MQ-LOSS-1")

INF = math.inf
_NEG = (-INF, -1)  # the identity of the prefix maxima below


@attrs.frozen
class Anomaly:
    """One certain violation: the clause it breaks, why, and the operations (indices) involved."""

    clause: Clause
    message: str
    operations: tuple[int, ...]

    def render(self, history: History | None = None) -> str:
        """Clause first, then each operation involved (described when ``history`` is given)."""
        lines = [f"{self.clause.id} ({self.clause.level}): {self.message}"]
        for index in self.operations:
            detail = f": {history.operations[index].describe()}" if history is not None else ""
            lines.append(f"  op #{index}{detail}")
        return "\n".join(lines)


_Job = tuple[int, float, float, int, int, float]
"""A tracked job: (push op, push invocation, push completion, priority, delay, ready_by), where
ready_by is the instant after which, untouched, it is certainly ready."""


def find_anomalies(history: History) -> tuple[Anomaly, ...]:
    """Every certain anomaly in ``history``, ordered by the operations involved.

    Cost: O(n log n) in the number of operations. An empty result does not prove the history
    correct; ask `mqspec.conformance.concurrency.linearize.check` for that.
    """
    # The scan allocates a few small objects per operation, which would set off the cyclic
    # collector many times over a large history (every one of its operations is tracked);
    # none of them forms a cycle, so collection waits until the scan is over.
    paused = gc.isenabled()
    gc.disable()
    try:
        return _find(history)
    finally:
        if paused:
            gc.enable()


def _find(history: History) -> tuple[Anomaly, ...]:
    ops = history.operations
    caps = history.capabilities
    timeout, slack = caps.reservation_timeout, caps.slack
    out: list[Anomaly] = []

    reserves: list[tuple[int, str, float, float]] = []  # Ok, with a task: (op, id, i, c)
    nulls: list[int] = []  # Ok(None) reserves outside the drain
    drain_nulls: list[int] = []
    takers: list[float] = []  # invocations of reserves that may have taken any job
    first_push: dict[str, float] = {}  # the earliest invocation of any push of the id
    jobs: dict[str, _Job] = {}
    twice: list[str] = []
    # Who could touch each job: the earliest invocation of a Reserve that returned it or a
    # Delete that may have removed it; those Deletes; and its Reserves.
    take: dict[str, float] = {}
    removed: dict[str, list[tuple[int, float, float]]] = {}  # id -> [(op, i, c if Ok)]
    first_reserve: dict[str, int] = {}
    reserved: dict[str, list[int]] = {}  # only ids reserved more than once
    take_get = take.get
    for index, op in enumerate(ops):
        kind, result = op.op, op.result
        if kind == "reserve":
            if type(result) is Ok:
                value = result.value
                if value is None:
                    (drain_nulls if op.drain else nulls).append(index)
                    continue
                ident = value.get("id") if type(value) is dict else None
                if type(ident) is str:
                    invoke = op.invoke
                    reserves.append((index, ident, invoke, op.complete))  # type: ignore[arg-type]
                    if ident in first_reserve:
                        reserved.setdefault(ident, [first_reserve[ident]]).append(index)
                    else:
                        first_reserve[ident] = index
                    if invoke < take_get(ident, INF):
                        take[ident] = invoke
                    continue
            elif type(result) is Failed:
                out.append(
                    Anomaly(
                        RESERVE_ERROR, f"reserve answered an error: {result.message!r}", (index,)
                    )
                )
            takers.append(op.invoke)
        elif kind == "push":
            task = op.task
            ident = task.get("id") if type(task) is dict else None
            if type(ident) is not str:
                continue
            invoke = op.invoke
            if ident in first_push:
                twice.append(ident)
                first_push[ident] = min(first_push[ident], invoke)
                continue
            first_push[ident] = invoke
            priority, delay = task.get("priority"), task.get("delay", 0)
            if (
                type(result) is Ok
                and type(priority) is int
                and 0 <= priority <= 2
                and type(delay) is int
                and delay >= 0
            ):
                done: float = op.complete  # type: ignore[assignment]
                jobs[ident] = (
                    index,
                    invoke,
                    done,
                    priority,
                    delay,
                    done + delay + slack if delay else done,
                )
        elif type(result) is not Failed:  # a delete that may have removed its job
            ident, invoke = op.task["id"], op.invoke
            # Only a Delete that answered Ok surely removed it: the others end at infinity.
            end = op.complete if type(result) is Ok else INF
            removed.setdefault(ident, []).append((index, invoke, end))  # type: ignore[arg-type]
            if invoke < take_get(ident, INF):
                take[ident] = invoke
    for ident in twice:
        jobs.pop(ident, None)

    # Per priority: jobs sorted by ready_by, with the prefix maximum of (first take, push op):
    # "is a job of priority p certainly ready before x and untouched up to y" is one bisection.
    ready: list[list[float]] = [[], [], []]
    best: list[list[tuple[float, int]]] = [[], [], []]
    for p in (0, 1, 2):
        members = sorted(
            (j[5], take.get(ident, INF), j[0]) for ident, j in jobs.items() if j[3] == p
        )
        ready[p] = [m[0] for m in members]
        best[p] = list(accumulate(((m[1], m[2]) for m in members), max, initial=_NEG))[1:]

    first_taker = min(takers, default=INF)
    for index, ident, invoke, end in reserves:
        if first_push.get(ident, INF) > end:
            out.append(
                Anomaly(
                    UNEXPECTED,
                    f"reserve returned {ident!r}, which no push had been invoked for by then",
                    (index,),
                )
            )
            continue
        job = jobs.get(ident)
        if job is None:
            continue
        push, invoked, pushed, priority, delay, _ = job
        if delay and end < invoked + delay:
            out.append(
                Anomaly(
                    EARLY,
                    f"reserve returned delayed job {ident!r} (delay {delay}) by {end:g}, "
                    f"before its push started plus the delay ({invoked + delay:g})",
                    (push, index),
                )
            )
        for d, gone_invoke, gone_end in removed.get(ident, ()):
            if gone_invoke > pushed and gone_end < invoke:
                out.append(
                    Anomaly(
                        UNEXPECTED,
                        f"reserve returned {ident!r} after a delete of it had succeeded",
                        (push, d, index),
                    )
                )
                break
        if first_taker <= end:
            continue  # a reserve of unknown outcome may have taken the job we would cite
        # MQ-ORDER-1: a higher priority job ready before the reserve and untouched by then.
        for p in range(2, priority, -1):
            k = bisect_left(ready[p], invoke)
            if k and best[p][k - 1][0] > end:
                other = best[p][k - 1][1]
                again = any(ops[r].invoke <= end for r in reserved.get(ident, ()) if r != index)
                out.append(
                    Anomaly(
                        RESTORED_PRIORITY if again else PRIORITY,
                        f"reserve returned {ident!r} (priority {priority}) while "
                        f"{ops[other].task['id']!r} (priority {p}) was ready",
                        (other, push, index),
                    )
                )
                break
        else:
            # MQ-ORDER-2: one of its priority, enqueued (at the latest) before this one was
            # (at the earliest), ready before the reserve and untouched by then.
            k = bisect_left(ready[priority], min(invoke, invoked + delay))
            if k and best[priority][k - 1][0] > end:
                other = best[priority][k - 1][1]
                out.append(
                    Anomaly(
                        FIFO,
                        f"reserve returned {ident!r} while {ops[other].task['id']!r}, "
                        f"enqueued before it in priority {priority}, was ready",
                        (other, push, index),
                    )
                )

    for index in nulls:
        op = ops[index]
        if first_taker <= op.end:
            continue
        for p in (2, 1, 0):
            k = bisect_left(ready[p], op.invoke)
            if k and best[p][k - 1][0] > op.end:
                other = best[p][k - 1][1]
                late = ops[other].task.get("delay", 0)
                out.append(
                    Anomaly(
                        LATE if late else AT_ONCE,
                        f"reserve returned null while "
                        f"{ops[other].task['id']!r} (priority {p}) was ready",
                        (other, index),
                    )
                )
                break

    out.extend(_double_deliveries(ops, jobs, reserved, removed, timeout))
    out.extend(
        _losses(ops, jobs, removed, first_reserve, reserved, drain_nulls, takers, timeout + slack)
    )
    out = [attrs.evolve(a, operations=tuple(sorted(a.operations))) for a in out]
    out.sort(key=lambda a: (a.operations, a.clause.id))
    return tuple(out)


def _double_deliveries(
    ops: tuple[Operation, ...],
    jobs: dict[str, _Job],
    reserved: dict[str, list[int]],
    removed: dict[str, list[tuple[int, float, float]]],
    timeout: float,
) -> list[Anomaly]:
    """MQ-RESERVE-3: pairs a, b of Reserves of one job with c_b - i_a < T and c_a - i_b < T.

    Whichever took effect first, the other took effect before its reservation could end. A
    pair between which a Delete of the job may have taken effect is left out: the second
    Reserve then breaks MQ-RESERVE-2 instead, which is flagged only when certain.
    Per job: sort by invocation; for each b, the Reserves with i_a > c_b - T are a suffix, and
    the one with the smallest completion there is checked against i_b + T.
    """
    out: list[Anomaly] = []
    seen: set[tuple[int, int]] = set()

    def flag(ident: str, a: int, b: int) -> None:
        pair = (min(a, b), max(a, b))
        first, second = ops[a], ops[b]
        for _, gone_invoke, gone_end in removed.get(ident, ()):
            if (gone_invoke < second.end and gone_end > first.invoke) or (
                gone_invoke < first.end and gone_end > second.invoke
            ):
                return  # a Delete may lie between the two
        if pair not in seen:
            seen.add(pair)
            out.append(
                Anomaly(
                    DOUBLE,
                    f"two reserves returned {ident!r} less than T={timeout:g}s apart, "
                    "whichever came first",
                    (jobs[ident][0], *pair),
                )
            )

    for ident, group in reserved.items():
        if ident not in jobs:
            continue
        if len(group) == 2:  # the common case (a job taken again in the drain): directly
            one, two = ops[group[0]], ops[group[1]]
            if two.end - one.invoke < timeout and one.end - two.invoke < timeout:
                flag(ident, *group)
            continue
        group = sorted(group, key=lambda r: ops[r].invoke)
        invokes = [ops[r].invoke for r in group]
        # Suffix minima of completion, keeping the two smallest so b can skip itself.
        tops: list[tuple[tuple[float, int], tuple[float, int]]] = [((INF, -1), (INF, -1))]
        for r in reversed(group):
            first, second = tops[-1]
            entry = (ops[r].end, r)
            tops.append((entry, first) if entry < first else (first, min(second, entry)))
        tops.reverse()
        for b in group:
            start = bisect_right(invokes, ops[b].end - timeout)
            first, second = tops[start]
            a_end, a = first if first[1] != b else second
            if a >= 0 and a_end < ops[b].invoke + timeout:
                flag(ident, a, b)
    return out


def _losses(
    ops: tuple[Operation, ...],
    jobs: dict[str, _Job],
    removed: dict[str, list[tuple[int, float, float]]],
    first_reserve: dict[str, int],
    reserved: dict[str, list[int]],
    drain_nulls: list[int],
    takers: list[float],
    hold: float,
) -> list[Anomaly]:
    """MQ-LOSS-1: at a null answer of the drain, more jobs certainly ready than could be held.

    A job is certainly ready at the drain's null Reserve N when its push completed (plus delay
    and slack) before N started, no Delete of it may have succeeded, no Reserve of the drain
    returned it, and every Reserve that returned it completed at least ``hold`` (T + slack)
    before N started. Each Reserve of unknown outcome that could precede N may hold one job.
    """
    if not drain_nulls:
        return []
    null = ops[drain_nulls[0]]  # the first null of the drain says it all
    missing = []
    for ident, job in jobs.items():
        if ident in removed or not job[5] < null.invoke:
            continue
        group = reserved.get(ident) or ([first_reserve[ident]] if ident in first_reserve else ())
        if any(ops[r].drain or ops[r].end + hold > null.invoke for r in group):
            continue
        missing.append(job[0])
    if len(missing) <= bisect_left(sorted(takers), null.end):
        return []
    names = ", ".join(repr(ops[push].task["id"]) for push in missing[:10])
    more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
    return [
        Anomaly(
            LOST,
            f"the drain returned null while {len(missing)} job(s) pushed and never deleted "
            f"had not come out: {names}{more}",
            (*missing, drain_nulls[0]),
        )
    ]
