"""Broken queues: each is `MemoryQueue` with one realistic sequential bug.

Responsibility: prove the suite's power. The catalogue
(`mqspec.adapters.selftest.catalogue.SELFTEST_QUEUES`) says which clauses may name each one's
divergence and which profile must catch it (quick, or the crash check for the durable one);
``mqspec selftest`` and the harness's own tests run every one and require a divergence naming
one of its clauses; a mutant that survives is a hole in the suite. Each docstring names the
real-world failure it models. Never use these as queues.
"""

from __future__ import annotations

import heapq
import os
import sys
from typing import Any

import attrs

from mqspec.adapters.base import QueueAdapter, Task
from mqspec.adapters.memory import MemoryQueue, _Job
from mqspec.reference.jsonvalue import TOKEN_KEY, copy_json
from mqspec.reference.tasks import task_problem
from mqspec.reference.types import Capabilities

__all__ = [
    "AcceptsInvalid",
    "DelayIgnored",
    "DelayOneSecondLate",
    "DeleteAbsentFails",
    "DeleteAnything",
    "DeleteFailsNearDeadline",
    "DeleteIgnoresDeadline",
    "DeleteKeepsJob",
    "DiesAfterBurst",
    "DoubleDelivery",
    "DropsOpaqueFields",
    "DuplicateOverwrites",
    "EmptyIsError",
    "ForgetfulDurable",
    "LifoWithinPriority",
    "LosesWhenManyExpire",
    "NeverRestores",
    "NumericToken",
    "PriorityIgnored",
    "PriorityInverted",
    "PushEchoesKey",
    "RejectNotEnforced",
    "RestoreToHead",
    "RestoreToTail",
    "RestoresEarly",
    "RetypesNumbers",
    "SilentCapacity",
    "TokensIgnored",
    "TruncatesAt32Ki",
    "dies_after_burst",
    "dies_after_burst_queue",
]


def _forget(queue: MemoryQueue, ident: str) -> None:
    """Remove every live job of ``ident`` from ``queue`` whatever its state, checking nothing
    (the caller holds the lock when it must)."""
    for job in queue._index.pop(ident, {}).values():
        job.live = False
        job.gen += 1
        queue._live -= 1


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


class _MishandledRestore(MemoryQueue):
    """`MemoryQueue`'s restore loop with the fate of an expired reservation left to `_expired`,
    the one step the restore mutants get wrong."""

    def _advance(self, now: float) -> None:
        hidden = self._hidden
        expired = 0
        while hidden and hidden[0][0] <= now:
            _, _, gen, job = heapq.heappop(hidden)
            if gen != job.gen or not job.live:
                continue
            if job.token is not None:
                expired += 1
                if not self._expired(job, now, expired):
                    continue  # never made visible again
            job.token = None
            job.deadline = None
            heapq.heappush(self._visible, (job.key, job.gen, job))

    def _expired(self, job: _Job, now: float, nth: int) -> bool:
        """Handle the ``nth`` reservation found expired by one restore pass; False drops it."""
        return True


class RestoreToTail(_MishandledRestore):
    """A timed-out job is re-queued at the tail with a fresh sequence: fn's bolt queue ([C, A])."""

    def _expired(self, job: _Job, now: float, nth: int) -> bool:
        job.key = (job.key[0], now, self._seq)  # a new place at the tail
        self._seq += 1
        return True


class RestoreToHead(_MishandledRestore):
    """A timed-out job jumps to the head of its priority (an RPUSH back onto the read end)."""

    def _expired(self, job: _Job, now: float, nth: int) -> bool:
        job.key = (job.key[0], float("-inf"), -job.seq)
        return True


class NeverRestores(_MishandledRestore):
    """A timed-out reservation is dropped, not restored: fn's redis queue lost these jobs."""

    def _expired(self, job: _Job, now: float, nth: int) -> bool:
        return False  # forgotten: still "live" in the index, never visible again


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
            _forget(self, task["id"])


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
                _forget(self, task["id"])
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
            _forget(self, task["id"])
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

    def __init__(self, timeout: float = 60) -> None:
        super().__init__(tokens=True, timeout=timeout)

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

    def __init__(self, timeout: float = 60) -> None:
        super().__init__(duplicates="reject", timeout=timeout)

    def push(self, task: Task, now: float | None) -> Task:
        self._duplicates = "distinct"  # the check reads this; the declaration stays "reject"
        try:
            return super().push(task, now)
        finally:
            self._duplicates = "reject"


class NumericToken(MemoryQueue):
    """Declares tokens but hands out the lease id as a number (a SERIAL column passed through),
    where the contract asks for a string."""

    def __init__(self, timeout: float = 60) -> None:
        super().__init__(tokens=True, timeout=timeout)
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
            ident = task.get("id")
            jobs = self._index.get(ident, {}) if isinstance(ident, str) else {}
            for job in jobs.values():
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


class LosesWhenManyExpire(_MishandledRestore):
    """When three or more reservations expire together, only the first two are restored."""

    def _expired(self, job: _Job, now: float, nth: int) -> bool:
        return nth <= 2  # the rest are lost in a batch that overflowed


class DeleteKeepsJob(MemoryQueue):
    """Delete reports success but the job stays, and comes back after its timeout."""

    def delete(self, task: Task, now: float | None) -> None:
        with self._lock:
            if not self._index.get(task["id"]):
                return
        # Succeed without touching anything.
