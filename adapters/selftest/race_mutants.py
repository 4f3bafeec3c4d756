"""Broken queues whose bugs show only under concurrency: races the recorder must catch.

Responsibility: three realistic races, each a `MemoryQueue` subclass that breaks its lock
discipline in one place (the catalogue, `mqspec.adapters.selftest.catalogue.RACE_MUTANTS`,
says which clause each must be caught on and which recording catches it). They run
sequentially without fault (every single-client test passes them): only the history checkers
(`mqspec.conformance.concurrency.fastcheck`, `mqspec.conformance.concurrency.linearize`) over
concurrent recordings
(`mqspec.conformance.concurrency.recorder.record`,
`mqspec.conformance.concurrency.parallel.check_parallel`) see them.

Each gap is a ``time.sleep(0)``, which yields the GIL; a short switch interval
(``sys.setswitchinterval(1e-5)``) makes other threads run inside it often enough.

Rule: like every adapter, never imports the reference model (only its vocabulary).
"""

from __future__ import annotations

import heapq
import time
import uuid

from mqspec.adapters.base import Task
from mqspec.adapters.memory import MemoryQueue
from mqspec.reference.jsonvalue import copy_json

__all__ = ["LONG", "DeleteRacesRestore", "NonAtomicReserve", "PeekThenTake"]

LONG = 3600  # a reservation timeout no recording reaches


class PeekThenTake(MemoryQueue):
    """Check-then-act reserve without a lock held across both (MQ-RESERVE-3).

    The real-world failure: ``SELECT ... LIMIT 1`` then ``UPDATE ... WHERE id = ?`` in two
    statements (or a Redis ``ZRANGE`` then ``ZREM`` outside MULTI/Lua), without ``FOR UPDATE``
    or a compare-and-set: two consumers read the same head, and both take it.
    """

    def reserve(self, now: float | None) -> Task | None:
        """Peek at the head under the lock, let go, then take it without looking again."""
        with self._lock:
            t = self._clock(now)
            self._advance(t)
            while self._visible and (
                self._visible[0][1] != self._visible[0][2].gen or not self._visible[0][2].live
            ):
                heapq.heappop(self._visible)
            if not self._visible:
                return None
            job = self._visible[0][2]
        time.sleep(0)  # the gap between check and act
        with self._lock:
            job.gen += 1  # the stale heap entry is skipped later; nobody re-checks
            job.token = uuid.uuid4().hex
            job.deadline = t + self._timeout
            heapq.heappush(self._hidden, (job.deadline, job.seq, job.gen, job))
            return copy_json(job.task)


class DeleteRacesRestore(MemoryQueue):
    """A delete that races with the restore of an expired reservation (MQ-RESERVE-2).

    The real-world failure: an acknowledgement that checks "is it reserved?" and removes the
    job in a later step, while a sweeper (fn's restore goroutine, a Redis expiry) puts expired
    reservations back in between: the job is acknowledged, yet ready again, and delivered
    after its Delete succeeded.
    """

    def delete(self, task: Task, now: float | None) -> None:
        """Check the reservation, let go, then remove the job found, trusting the check."""
        ident = task["id"]
        with self._lock:
            jobs = self._live_jobs(ident, now)
            if not jobs:
                return
            found = next((j for j in jobs.values() if j.token is not None), None)
            if found is None:
                raise LookupError(f"cannot delete job {ident!r}: not reserved")
        time.sleep(0)  # the reservation may expire and the job be restored meanwhile
        with self._lock:
            self._index.get(ident, {}).pop(found.seq, None)
            if not self._index.get(ident):
                self._index.pop(ident, None)
            self._live -= 1
            if found.token is not None:  # bug: assumes nothing restored it since the check
                found.live = False
                found.gen += 1


class NonAtomicReserve(MemoryQueue):
    """A multi-statement reserve that is not one transaction (MQ-LOSS-1).

    The real-world failure: pop the job from the ready list in one statement, then record the
    reservation by reading the reservation table, changing it and writing it back (a
    read-modify-write of a JSON blob, a Redis ``GET``/``SET`` of a hash): a reservation
    recorded meanwhile is overwritten, so its job is in neither list and never comes back.
    """

    def reserve(self, now: float | None) -> Task | None:
        """Pop the job under the lock, then write the reservation table back from a copy."""
        with self._lock:
            taken = self._take_head(now)
            if taken is None:
                return None
            job, t = taken
            job.gen += 1
            job.token = uuid.uuid4().hex
            job.deadline = t + self._timeout
        table = list(self._hidden)  # read
        time.sleep(0)
        heapq.heappush(table, (job.deadline, job.seq, job.gen, job))
        self._hidden = table  # write back: a reservation recorded meanwhile is lost
        return copy_json(job.task)
