"""Queues that break only under faults: each is `MemoryQueue` with one realistic fault bug.

Responsibility: prove the faults profile's power (issue 8). Each mutant declares fault points
(`mqspec.adapters.base.FaultPoints`) inside an operation that is not atomic, and mishandles a
fault there. Without faults each one conforms; the faults machine must catch each on one of the
clauses listed in `FAULT_MUTANTS`. `FAULT_CORRECT` holds queues with fault points that handle
them correctly, which the faults machine must pass. Each docstring names the real-world failure
it models. Never use these as queues.
"""

from __future__ import annotations

import copy
import heapq
import uuid
from collections.abc import Callable

from mqspec.adapters.base import FaultInjected, FaultPoints, QueueAdapter, Task
from mqspec.adapters.memory import MemoryQueue, _Job
from mqspec.reference.jsonvalue import TOKEN_KEY

__all__ = ["FAULT_CORRECT", "FAULT_MUTANTS"]


class _TwoStepReserve(FaultPoints, MemoryQueue):
    """`MemoryQueue.reserve` split in two steps, "take the head" then "record the lease", with
    a fault point between them; subclasses choose the order."""

    FAULT_POINTS = ("reserve:between",)
    RECORD_FIRST = True

    def reserve(self, now: float | None) -> Task | None:
        with self._lock:
            t = self._clock(now)
            self._advance(t)
            while self._visible:
                _, gen, job = heapq.heappop(self._visible)
                if gen != job.gen or not job.live:
                    continue  # stale entry
                if self.RECORD_FIRST:
                    self._lease(job, t)
                    self._fault_point("reserve:between")  # the answer is lost; the lease holds
                else:
                    self._fault_point("reserve:between")  # popped, not yet leased: lost
                    self._lease(job, t)
                out = copy.deepcopy(job.task)
                if self._tokens:
                    out[TOKEN_KEY] = job.token
                return out
            return None

    def _lease(self, job: _Job, t: float) -> None:
        job.gen += 1
        job.token = uuid.uuid4().hex
        job.deadline = t + self._timeout
        heapq.heappush(self._hidden, (job.deadline, job.seq, job.gen, job))


class PopBeforeRecord(_TwoStepReserve):
    """Reserve pops the job off the queue, then records the reservation in a second write: a
    crash or dropped connection between the two loses the job for good (an RPOP followed by a
    separate HSET of the lease, fn's Redis queue before it used one script)."""

    RECORD_FIRST = False


class RecordBeforeAnswer(_TwoStepReserve):
    """Correct: the lease is recorded before the fault can strike, so a cut Reserve's job comes
    back after its timeout, like any reservation (MQ-LOSS-2)."""

    RECORD_FIRST = True


class PushRetriesTwice(FaultPoints, MemoryQueue):
    """A client that retries a write whose acknowledgement was lost, without an idempotency key:
    the first write had landed, so the job is queued twice, and the push still reports failure
    (a naive "retry on connection error" around INSERT or LPUSH)."""

    FAULT_POINTS = ("push:after-write",)

    def push(self, task: Task, now: float | None) -> Task:
        stored = super().push(task, now)
        try:
            self._fault_point("push:after-write")
        except FaultInjected:
            super().push(task, now)  # the retry: a second job
            raise
        return stored


class DeleteAcksFailedWrite(FaultPoints, MemoryQueue):
    """Delete swallows the error of its write and answers success: the job was never removed,
    so it comes back after its timeout although the caller was told it was acknowledged (an
    ``except Exception: pass`` around the DELETE)."""

    FAULT_POINTS = ("delete:write",)

    def delete(self, task: Task, now: float | None) -> None:
        try:
            self._fault_point("delete:write")
        except FaultInjected:
            return  # the bug: the failed write is reported as done
        super().delete(task, now)


class PushFailsCleanly(FaultPoints, MemoryQueue):
    """Correct: a push that fails before its write queues nothing and says so (MQ-LOSS-3)."""

    FAULT_POINTS = ("push:before-write",)

    def push(self, task: Task, now: float | None) -> Task:
        self._fault_point("push:before-write")
        return super().push(task, now)


FaultMutant = tuple[str, Callable[[], QueueAdapter], frozenset[str]]

FAULT_MUTANTS: tuple[FaultMutant, ...] = (
    # A lost job is flagged where the model first misses it: in the drain (MQ-LOSS-1, the
    # minimal program), as a ready job a Reserve did not return (MQ-READY-1), as a restored
    # job that never came back (MQ-RESTORE-1), or, with other jobs about, as one that should
    # have come out first.
    (
        "pop-before-record",
        PopBeforeRecord,
        frozenset(
            {
                "MQ-LOSS-1",
                "MQ-LOSS-2",
                "MQ-RESTORE-1",
                "MQ-RESTORE-2",
                "MQ-ORDER-1",
                "MQ-ORDER-2",
                "MQ-READY-1",
            }
        ),
    ),
    (
        "push-retries-twice",
        PushRetriesTwice,
        frozenset({"MQ-LOSS-2", "MQ-RESERVE-3", "MQ-LOSS-3", "MQ-LOSS-1"}),
    ),
    (
        "delete-acks-failed-write",
        DeleteAcksFailedWrite,
        frozenset({"MQ-DELETE-1", "MQ-DELETE-2", "MQ-RESERVE-2"}),
    ),
)
"""Every fault mutant: ``(name, factory, clauses any of which may name its divergence)``."""

FAULT_CORRECT: tuple[tuple[str, Callable[[], QueueAdapter]], ...] = (
    ("record-before-answer", RecordBeforeAnswer),
    ("push-fails-cleanly", PushFailsCleanly),
)
"""Queues with fault points that handle every fault correctly: the faults machine passes them."""
