"""Queues that break only under faults: each is `MemoryQueue` with one realistic fault bug.

Responsibility: prove the faults profile's power. Each mutant declares fault points
(`mqspec.adapters.base.FaultPoints`) inside an operation that is not atomic, and mishandles a
fault there. Without faults each one conforms; the faults machine must catch each on one of the
clauses the catalogue lists (`mqspec.adapters.selftest.catalogue.FAULT_MUTANTS`).
`RecordBeforeAnswer` and `PushFailsCleanly` have fault points and handle them correctly: the
faults machine must pass them (`mqspec.adapters.selftest.catalogue.FAULT_CORRECT`). Each
docstring names the real-world failure it models. Never use these as queues.
"""

from __future__ import annotations

import copy

from mqspec.adapters.base import FaultInjected, FaultPoints, Task
from mqspec.adapters.memory import MemoryQueue
from mqspec.reference.jsonvalue import TOKEN_KEY

__all__ = [
    "DeleteAcksFailedWrite",
    "PopBeforeRecord",
    "PushFailsCleanly",
    "PushRetriesTwice",
    "RecordBeforeAnswer",
]


class _TwoStepReserve(FaultPoints, MemoryQueue):
    """`MemoryQueue.reserve` split in two steps, "take the head" then "record the lease", with
    a fault point between them; subclasses choose the order."""

    FAULT_POINTS = ("reserve:between",)
    RECORD_FIRST = True

    def reserve(self, now: float | None) -> Task | None:
        with self._lock:
            taken = self._take_head(now)
            if taken is None:
                return None
            job, t = taken
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
