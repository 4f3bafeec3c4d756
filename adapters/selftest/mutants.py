"""Broken queues: each is `MemoryQueue` with one realistic bug, and the clause that must catch it.

Responsibility: prove the suite's power. `MUTANTS` is the whole catalogue: the sequential bugs
defined here (caught by the quick profile), the races of `mqspec.adapters.selftest.race_mutants`
(caught by the concurrency profile) and the bugs under faults of
`mqspec.adapters.selftest.fault_mutants` (caught by the faults profile). ``mqspec selftest`` and the
harness's own tests run every mutant and require a divergence naming one of its clauses; a
mutant that survives is a hole in the suite. Each docstring names the real-world failure it
models. Never use these as queues.
"""

from __future__ import annotations

import heapq
import os
import sys
from collections.abc import Callable
from typing import Any

import attrs

from mqspec.adapters.base import QueueAdapter, Task
from mqspec.adapters.memory import MemoryQueue
from mqspec.adapters.selftest.fault_mutants import FAULT_MUTANTS
from mqspec.adapters.selftest.race_mutants import RACE_MUTANTS
from mqspec.reference.jsonvalue import TOKEN_KEY, copy_json
from mqspec.reference.tasks import task_problem
from mqspec.reference.types import Capabilities

__all__ = ["MUTANTS", "Mutant"]


class LifoWithinPriority(MemoryQueue):
    """A stack where a queue was meant: newest first within a priority (a LPUSH/LPOP slip)."""

    def _position(self, priority: int, ready_at: float, delayed: bool, seq: int) -> tuple[Any, ...]:
        return (-priority, -seq)


class PriorityIgnored(MemoryQueue):
    """One FIFO for all priorities: the priority field is stored but never consulted."""

    def _position(self, priority: int, ready_at: float, delayed: bool, seq: int) -> tuple[Any, ...]:
        return (ready_at, seq)


class PriorityInverted(MemoryQueue):
    """Lowest priority first: a sort order flipped (ORDER BY priority ASC)."""

    def _position(self, priority: int, ready_at: float, delayed: bool, seq: int) -> tuple[Any, ...]:
        return (priority, ready_at, seq)


class RestoreToTail(MemoryQueue):
    """A timed-out job is re-queued at the tail with a fresh sequence: fn's bolt queue ([C, A])."""

    def _advance(self, now: float) -> None:
        hidden = self._hidden
        while hidden and hidden[0][0] <= now:
            _, _, gen, job = heapq.heappop(hidden)
            if gen != job.gen or not job.live:
                continue
            if job.token is not None:  # an expired reservation: new place at the tail
                job.key = (job.key[0], now, self._seq)
                self._seq += 1
            job.token = None
            job.deadline = None
            heapq.heappush(self._visible, (job.key, job.gen, job))


class RestoreToHead(MemoryQueue):
    """A timed-out job jumps to the head of its priority (an RPUSH back onto the read end)."""

    def _advance(self, now: float) -> None:
        hidden = self._hidden
        while hidden and hidden[0][0] <= now:
            _, _, gen, job = heapq.heappop(hidden)
            if gen != job.gen or not job.live:
                continue
            if job.token is not None:
                job.key = (job.key[0], float("-inf"), -job.seq)
            job.token = None
            job.deadline = None
            heapq.heappush(self._visible, (job.key, job.gen, job))


class NeverRestores(MemoryQueue):
    """A timed-out reservation is dropped, not restored: fn's redis queue lost these jobs."""

    def _advance(self, now: float) -> None:
        hidden = self._hidden
        while hidden and hidden[0][0] <= now:
            _, _, gen, job = heapq.heappop(hidden)
            if gen != job.gen or not job.live:
                continue
            if job.token is not None:
                continue  # forgotten: still "live" in the index, never visible again
            heapq.heappush(self._visible, (job.key, job.gen, job))


class RestoresEarly(MemoryQueue):
    """The reservation lasts half the declared timeout (milliseconds read as seconds, halved)."""

    def reserve(self, now: float | None) -> Task | None:
        saved = self._timeout
        self._timeout = saved / 2
        try:
            return super().reserve(now)
        finally:
            self._timeout = saved


class DelayIgnored(MemoryQueue):
    """Delay is dropped on push: delayed jobs are reservable at once."""

    def push(self, task: Task, now: float | None) -> Task:
        out = super().push(task, now)
        if task.get("delay"):
            # Make the stored job visible now, keeping its id and fields.
            for jobs in self._index.values():
                for job in jobs.values():
                    if job.seq == self._seq - 1:
                        job.gen += 1
                        job.key = (job.key[0], self._clock(now), job.seq)
                        heapq.heappush(self._visible, (job.key, job.gen, job))
        return out


class DelayOneSecondLate(MemoryQueue):
    """Delays are rounded up by a whole second (a ticker that checks only every second)."""

    def push(self, task: Task, now: float | None) -> Task:
        delay = task.get("delay") if isinstance(task, dict) else None
        if task_problem(task) is not None or not delay:
            return super().push(task, now)
        out = super().push({**task, "delay": delay + 1}, now)
        out["delay"] = delay
        newest = max(self._index[task["id"]].values(), key=lambda job: job.seq)
        newest.task["delay"] = delay  # the stored task looks right; only its timing is late
        return out


class DeleteAnything(MemoryQueue):
    """Delete removes the job whatever its state: no check for a pending reservation."""

    def delete(self, task: Task, now: float | None) -> None:
        with self._lock:
            jobs = self._index.pop(task["id"], {})
            for job in jobs.values():
                job.live = False
                job.gen += 1
                self._live -= 1


class DeleteAbsentFails(MemoryQueue):
    """Delete of an unknown id is an error (fn's memory queue returned 'not found')."""

    def delete(self, task: Task, now: float | None) -> None:
        if not self._index.get(task["id"]):
            raise LookupError(f"job {task['id']!r} not found")
        super().delete(task, now)


class DeleteIgnoresDeadline(MemoryQueue):
    """Delete accepts any job that was ever reserved, even long after its deadline."""

    def reserve(self, now: float | None) -> Task | None:
        out = super().reserve(now)
        if out is not None:
            self._ever.add(out["id"])
        return out

    def delete(self, task: Task, now: float | None) -> None:
        if task["id"] in self._ever:
            with self._lock:
                for job in self._index.pop(task["id"], {}).values():
                    job.live = False
                    job.gen += 1
                    self._live -= 1
            return
        super().delete(task, now)

    def _clear(self) -> None:
        super()._clear()
        self._ever: set[str] = set()


class DropsOpaqueFields(MemoryQueue):
    """Only id, priority and delay survive the round trip (fn's models.Task lost fields)."""

    def reserve(self, now: float | None) -> Task | None:
        out = super().reserve(now)
        if out is None:
            return None
        return {k: v for k, v in out.items() if k in ("id", "priority", "delay", "_mq_token")}


class RetypesNumbers(MemoryQueue):
    """Numbers in opaque fields come back as strings (a string-typed column or header)."""

    def reserve(self, now: float | None) -> Task | None:
        out = super().reserve(now)
        if out is None:
            return None
        return {
            k: str(v) if k not in ("priority", "delay") and type(v) in (int, float) else v
            for k, v in out.items()
        }


class AcceptsInvalid(MemoryQueue):
    """No validation: an invalid push reports success (and queues nothing)."""

    def push(self, task: Task, now: float | None) -> Task:
        try:
            return super().push(task, now)
        except ValueError:
            return task


class SilentCapacity(MemoryQueue):
    """Past 100 live jobs, pushes report success and are dropped: loss only at depth."""

    def push(self, task: Task, now: float | None) -> Task:
        if self._live >= 100 and task_problem(task) is None:
            return copy_json(task)
        return super().push(task, now)


class DuplicateOverwrites(MemoryQueue):
    """A push of a live id replaces the first job (keyed by id), though it declares distinct."""

    def push(self, task: Task, now: float | None) -> Task:
        if isinstance(task, dict) and self._index.get(task.get("id")):  # type: ignore[arg-type]
            for job in self._index.pop(task["id"]).values():
                job.live = False
                job.gen += 1
                self._live -= 1
        return super().push(task, now)


class DoubleDelivery(MemoryQueue):
    """Reserve does not hide the job it hands out: two consumers get the same job."""

    def reserve(self, now: float | None) -> Task | None:
        out = super().reserve(now)
        if out is not None:
            for jobs in self._index.values():
                for job in jobs.values():
                    if job.token is not None and job.deadline is not None:
                        job.deadline = None
                        heapq.heappush(self._visible, (job.key, job.gen, job))
        return out


class TokensIgnored(MemoryQueue):
    """Declares tokens but Delete never checks them: a stale Delete acks the new holder."""

    def __init__(self) -> None:
        super().__init__(tokens=True)

    def delete(self, task: Task, now: float | None) -> None:
        with self._lock:
            jobs = self._index.get(task["id"], {})
            for job in jobs.values():
                if job.token is not None:
                    job.token = task.get("_mq_token")  # pretend the caller holds it
        super().delete(task, now)


class PushEchoesKey(MemoryQueue):
    """Push answers with the key it stored (id and priority), not the task as queued: a driver
    that returns its row key instead of the row."""

    def push(self, task: Task, now: float | None) -> Task:
        stored = super().push(task, now)
        return {"id": stored["id"], "priority": stored["priority"]}


class RejectNotEnforced(MemoryQueue):
    """Declares ``duplicates=reject`` but queues a second job under a live id: the unique
    constraint the policy relies on was never created."""

    def __init__(self) -> None:
        super().__init__(duplicates="reject")

    def push(self, task: Task, now: float | None) -> Task:
        self._duplicates = "distinct"  # the check reads this; the declaration stays "reject"
        try:
            return super().push(task, now)
        finally:
            self._duplicates = "reject"


class NumericToken(MemoryQueue):
    """Declares tokens but hands out the lease id as a number (a SERIAL column passed through),
    where the contract asks for a string."""

    def __init__(self) -> None:
        super().__init__(tokens=True)
        self._leases: dict[str, int] = {}

    def reserve(self, now: float | None) -> Task | None:
        task = super().reserve(now)
        if task is not None:
            self._leases.setdefault(task[TOKEN_KEY], len(self._leases) + 1)
            task[TOKEN_KEY] = self._leases[task[TOKEN_KEY]]
        return task


class ForgetfulDurable(MemoryQueue):
    """Declares ``durable`` yet keeps its jobs in the process's memory: a restart forgets them
    (a cache mistaken for a store). Caught by the crash profile, opened by URL in a host
    process as ``py:mqspec.adapters.selftest.mutants:ForgetfulDurable``."""

    @property
    def capabilities(self) -> Capabilities:
        return attrs.evolve(super().capabilities, durable=True)


class TruncatesAt32Ki(MemoryQueue):
    """Strings are stored in a column of 32,767 characters: longer ones come back cut, while
    Push answers with the task it was given (a VARCHAR(32767) or a 32 Ki text limit)."""

    def push(self, task: Task, now: float | None) -> Task:
        out = super().push(task, now)
        if isinstance(task, dict):
            newest = max(self._index[task["id"]].values(), key=lambda job: job.seq)
            newest.task = _cut_strings(newest.task, 32767)
        return out


def _cut_strings(value: Any, limit: int) -> Any:
    if isinstance(value, str):
        return value[:limit]
    if isinstance(value, dict):
        return {k: _cut_strings(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        return [_cut_strings(v, limit) for v in value]
    return value


class DeleteFailsNearDeadline(MemoryQueue):
    """Delete refuses a reservation in its last second, as if it had already expired (a
    deadline compared in whole seconds, or a clock skew margin taken off the lease)."""

    def delete(self, task: Task, now: float | None) -> None:
        with self._lock:
            t = self._clock(now)
            for job in self._index.get(task.get("id"), {}).values():
                if job.deadline is not None and job.deadline - 1 <= t < job.deadline:
                    raise LookupError(f"cannot delete job {task['id']!r}: reservation expired")
        super().delete(task, now)


class DiesAfterBurst(MemoryQueue):
    """The process dies when three or more delayed jobs fall due together, as fn's memory
    queue's ticker goroutine panicked after a burst of due jobs, taking every job with it.
    Served in a process of its own (`dies_after_burst`), since the death is the bug."""

    def _advance(self, now: float) -> None:
        due = sum(
            1
            for at, _, gen, job in self._hidden
            if at <= now and gen == job.gen and job.live and job.token is None
        )
        if due >= 3:
            sys.stderr.write(f"panic: {due} delayed jobs due at once: index out of range\n")
            sys.stderr.flush()
            os._exit(2)
        super()._advance(now)


def dies_after_burst_queue(timeout: str | float = 60) -> DiesAfterBurst:
    """`DiesAfterBurst` opened by URL: ``py:`` options arrive as text."""
    return DiesAfterBurst(timeout=float(timeout))


def dies_after_burst(timeout: float = 60) -> QueueAdapter:
    """The process dies when three or more delayed jobs fall due together, as fn's memory
    queue's ticker goroutine panicked after a burst of due jobs, taking every job with it.
    The queue is `DiesAfterBurst`, served over the driver protocol by the generic host."""
    from mqspec.adapters.process import ProcessQueue

    url = f"py:mqspec.adapters.selftest.mutants:dies_after_burst_queue?timeout={timeout:g}"
    return ProcessQueue([sys.executable, "-m", "mqspec.adapters.host", url])


class EmptyIsError(MemoryQueue):
    """An empty queue raises instead of answering null (fn's bolt returned 'no job')."""

    def reserve(self, now: float | None) -> Task | None:
        out = super().reserve(now)
        if out is None:
            raise LookupError("queue is empty")
        return out


class LosesWhenManyExpire(MemoryQueue):
    """When three or more reservations expire together, only the first two are restored."""

    def _advance(self, now: float) -> None:
        hidden = self._hidden
        restored = 0
        while hidden and hidden[0][0] <= now:
            _, _, gen, job = heapq.heappop(hidden)
            if gen != job.gen or not job.live:
                continue
            if job.token is not None:
                restored += 1
                if restored > 2:
                    continue  # lost in a batch that overflowed
            job.token = None
            job.deadline = None
            heapq.heappush(self._visible, (job.key, job.gen, job))


class DeleteKeepsJob(MemoryQueue):
    """Delete reports success but the job stays, and comes back after its timeout."""

    def delete(self, task: Task, now: float | None) -> None:
        with self._lock:
            if not self._index.get(task["id"]):
                return
        # Succeed without touching anything.


@attrs.frozen
class Mutant:
    """A broken queue and the clauses that may name its divergence (any one suffices).

    ``profile`` is the engine profile that must catch it: ``quick`` for sequential bugs,
    ``concurrency`` for races, ``faults`` for bugs that only errors reveal.
    """

    name: str
    factory: Callable[[], QueueAdapter]
    clauses: frozenset[str]
    strict: bool = False  # a SHOULD-only bug: caught as a warning, a failure in strict mode
    profile: str = "quick"
    url: str | None = None  # how to open it by URL: the crash profile reopens it in a host

    @property
    def doc(self) -> str:
        """The first paragraph of the factory's docstring (the queue class's), on one line."""
        text = self.factory.__doc__
        if not text:
            queue = self.factory()
            try:
                text = type(queue).__doc__
            finally:
                queue.close()
        paragraph = (text or "").strip().split("\n\n")[0]
        return " ".join(paragraph.split())


def _m(
    name: str, factory: Callable[[], QueueAdapter], *clauses: str, strict: bool = False
) -> Mutant:
    return Mutant(name, factory, frozenset(clauses), strict)


def _race(name: str) -> str:
    """``PeekThenTake`` -> ``peek-then-take``."""
    return "".join(f"-{c.lower()}" if c.isupper() else c for c in name).lstrip("-")


# Each mutant lists every clause its bug can honestly show as, not only the first one: a
# restore that comes early also makes a Delete inside the declared timeout fail (MQ-DELETE-1),
# an ignored or late delay also puts a job ahead of one enqueued before it (MQ-ORDER-2). Which
# one the search meets first depends on the program it happened to draw.
MUTANTS: tuple[Mutant, ...] = (
    _m("lifo-within-priority", LifoWithinPriority, "MQ-ORDER-2", "MQ-RESTORE-2"),
    _m("priority-ignored", PriorityIgnored, "MQ-ORDER-1"),
    _m("priority-inverted", PriorityInverted, "MQ-ORDER-1"),
    _m("restore-to-tail", RestoreToTail, "MQ-RESTORE-3", strict=True),
    _m("restore-to-head", RestoreToHead, "MQ-RESTORE-3", strict=True),
    _m("never-restores", NeverRestores, "MQ-RESTORE-1", "MQ-LOSS-1", "MQ-DELETE-2"),
    _m("restores-early", RestoresEarly, "MQ-RESERVE-3", "MQ-DELETE-1"),
    _m("delay-ignored", DelayIgnored, "MQ-READY-2", "MQ-RESERVE-3", "MQ-ORDER-2"),
    _m("delay-one-second-late", DelayOneSecondLate, "MQ-READY-3"),
    _m("delete-anything", DeleteAnything, "MQ-DELETE-2"),
    _m("delete-absent-fails", DeleteAbsentFails, "MQ-DELETE-3"),
    _m("delete-ignores-deadline", DeleteIgnoresDeadline, "MQ-DELETE-2"),
    _m("drops-opaque-fields", DropsOpaqueFields, "MQ-TASK-2"),
    _m("retypes-numbers", RetypesNumbers, "MQ-TASK-2"),
    _m("accepts-invalid", AcceptsInvalid, "MQ-TASK-1"),
    _m("silent-capacity", SilentCapacity, "MQ-READY-1", "MQ-LOSS-1", "MQ-ORDER-1", "MQ-ORDER-2"),
    _m(
        "duplicate-overwrites",
        DuplicateOverwrites,
        "MQ-LOSS-1",
        "MQ-READY-1",
        "MQ-RESERVE-2",
        "MQ-ORDER-1",
        "MQ-ORDER-2",
        "MQ-DELETE-1",
        "MQ-READY-3",
        "MQ-RESTORE-1",
    ),
    _m("double-delivery", DoubleDelivery, "MQ-RESERVE-3"),
    _m("tokens-ignored", TokensIgnored, "MQ-DELETE-5"),
    _m("empty-is-error", EmptyIsError, "MQ-RESERVE-1"),
    _m("loses-when-many-expire", LosesWhenManyExpire, "MQ-RESTORE-1", "MQ-LOSS-1", "MQ-RESTORE-2"),
    _m("delete-keeps-job", DeleteKeepsJob, "MQ-DELETE-2", "MQ-RESERVE-2"),
    _m("push-echoes-key", PushEchoesKey, "MQ-PUSH-1"),
    _m("reject-not-enforced", RejectNotEnforced, "MQ-PUSH-2"),
    _m("numeric-token", NumericToken, "MQ-TOKEN-1"),
    _m("truncates-at-32-ki", TruncatesAt32Ki, "MQ-TASK-2"),
    _m("delete-fails-near-deadline", DeleteFailsNearDeadline, "MQ-DELETE-1"),
    _m("dies-after-burst", dies_after_burst, "MQ-LOSS-1"),
    # The default profile's crash check catches it; the crash profile, which kills inside
    # operations too, must as well.
    Mutant(
        "forgetful-durable",
        ForgetfulDurable,
        frozenset({"MQ-DURABLE-1"}),
        url="py:mqspec.adapters.selftest.mutants:ForgetfulDurable",
    ),
    Mutant(
        "forgetful-durable-crash-profile",
        ForgetfulDurable,
        frozenset({"MQ-DURABLE-1"}),
        profile="crash",
        url="py:mqspec.adapters.selftest.mutants:ForgetfulDurable",
    ),
    *(
        Mutant(_race(m.name), m.factory, frozenset(m.clauses), profile="concurrency")
        for m in RACE_MUTANTS
    ),
    *(Mutant(name, factory, clauses, profile="faults") for name, factory, clauses in FAULT_MUTANTS),
)
"""Every mutant, with the clauses allowed to name its divergence and the profile that must
catch it."""
