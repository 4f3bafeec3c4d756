"""An in-process, thread-safe queue that meets the MessageQueue contract with a lease design.

Responsibility: be the simplest *correct* backend, so the harness has something real to pass
(and the variants in `mqspec.adapters.selftest.variants` something to differ from). It does not
use the reference model: it is an independent implementation of the contract.

Design. Every job gets a fixed position key ``(-priority, ready_at, seq)`` when it is pushed
(``ready_at = now + delay``, ``seq`` a per-queue push counter). The key never changes: a
reservation that times out puts the job back in its old place (MQ-RESTORE-2, MQ-RESTORE-3). A
job is reservable when ``visible_at <= now``; reserving sets ``visible_at`` to the reservation
deadline. Two heaps with lazy deletion keep every operation O(log n):

* ``hidden``: jobs not yet visible (delayed or reserved), keyed by ``visible_at``;
* ``visible``: reservable jobs, keyed by the position key.

Each operation first moves the jobs whose ``visible_at`` has come from ``hidden`` to
``visible``. A per-job generation counter marks heap entries made stale by a later state change.
"""

from __future__ import annotations

import heapq
import math
import threading
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

from mqspec.adapters.base import Task
from mqspec.adapters.options import (
    IN_PROCESS_OPTIONS,
    QueueOptions,
    lease_capabilities,
    parse_query,
)
from mqspec.reference.errors import UsageError
from mqspec.reference.jsonvalue import TOKEN_KEY, copy_json
from mqspec.reference.tasks import task_problem
from mqspec.reference.types import Capabilities

__all__ = ["MemoryQueue", "from_url"]


class _Job:
    """One live (or just deleted) job and its lease state."""

    __slots__ = ("deadline", "gen", "ident", "key", "live", "seq", "task", "token")

    def __init__(self, task: Task, key: tuple[Any, ...], seq: int) -> None:
        self.task = task
        self.ident: str = task["id"]
        self.key = key
        self.seq = seq
        # A heap entry is current only while its generation equals the job's.
        self.gen = 0
        self.live = True
        # Set while the job is reserved and not yet restored; None when ready or delayed.
        self.token: str | None = None
        self.deadline: float | None = None


class MemoryQueue:
    """A correct in-process queue with leases (see the module docstring).

    Keyword arguments:
        timeout: the reservation timeout T in seconds (> 0).
        tokens: whether Reserve adds a lease token in ``_mq_token`` that Delete checks.
        duplicates: ``"distinct"`` (a push of a live id queues a second job) or ``"reject"``.
        max_jobs: the capacity in live jobs, or None for no limit.
    """

    def __init__(
        self,
        *,
        timeout: float = 60,
        tokens: bool = False,
        duplicates: str = "distinct",
        max_jobs: int | None = None,
    ) -> None:
        """Validate the options and open an empty queue; raise `UsageError` on a bad value."""
        options = QueueOptions(
            timeout=timeout, tokens=tokens, duplicates=duplicates, max_jobs=max_jobs
        )
        # Plain attributes, not the options object: variants and mutants change them.
        self._timeout = options.timeout
        self._tokens = options.tokens
        self._duplicates = options.duplicates
        self._max_jobs = options.max_jobs
        self._lock = threading.Lock()
        self._clear()

    # -- the adapter contract ---------------------------------------------------------------

    @property
    def capabilities(self) -> Capabilities:
        """What this queue declares: a lease design on virtual time, slack 0."""
        # Read at every call: variants and mutants change these attributes.
        options = (self._timeout, self._tokens, self._duplicates, self._max_jobs)
        return lease_capabilities(*options, durable=False, slack=self._slack())

    def reset(self, now: float | None) -> None:
        """Empty the queue (the start of a test case)."""
        with self._lock:
            self._clear()

    def push(self, task: Task, now: float | None) -> Task:
        """Queue a deep copy of ``task``; return a deep copy of it as queued.

        Raises ValueError for an invalid task (MQ-TASK-1), a live duplicate id under the
        ``reject`` policy (MQ-PUSH-2), or a full queue (MQ-PUSH-3); nothing is queued then.
        """
        problem = task_problem(task, tokens=self._tokens)
        if problem is not None:
            raise ValueError(problem)
        with self._lock:
            t = self._clock(now)
            self._advance(t)
            ident = task["id"]
            if self._duplicates == "reject" and self._index.get(ident):
                raise ValueError(f"duplicate id {ident!r}: a live job already has it")
            if self._max_jobs is not None and self._live >= self._max_jobs:
                raise ValueError(f"queue full: {self._live} live jobs, capacity {self._max_jobs}")
            # Copy before storing so the caller can't change the queued job behind our back.
            stored = copy_json(task)
            delay = stored.get("delay", 0)
            ready_at = t + delay
            seq = self._seq
            self._seq += 1
            job = _Job(stored, self._position(stored["priority"], ready_at, delay > 0, seq), seq)
            self._index.setdefault(ident, {})[seq] = job
            self._live += 1
            if ready_at <= t:
                heapq.heappush(self._visible, (job.key, job.gen, job))
            else:
                heapq.heappush(self._hidden, (ready_at, seq, job.gen, job))
            return copy_json(stored)

    def reserve(self, now: float | None) -> Task | None:
        """Take the first reservable job and hold it for T seconds; None when there is none."""
        with self._lock:
            taken = self._take_head(now)
            if taken is None:
                return None
            job, t = taken
            self._lease(job, t)
            out = copy_json(job.task)
            if self._tokens:
                out[TOKEN_KEY] = job.token
            return out

    def _live_jobs(self, ident: str, now: float | None) -> dict[int, _Job]:
        """Bring the queue up to ``now``; the live jobs of ``ident`` by seq (lock held)."""
        self._advance(self._clock(now))
        return self._index.get(ident, {})

    def _take_head(self, now: float | None) -> tuple[_Job, float] | None:
        """Under the lock: read the clock, promote what is due, pop the first ready job.

        Returns the job and the time it was taken at, or None when nothing is ready.
        """
        t = self._clock(now)
        self._advance(t)
        job = self._pop_ready()
        return None if job is None else (job, t)

    def _pop_ready(self) -> _Job | None:
        """Pop the first reservable job off the visible heap, or None (lock held)."""
        while self._visible:
            _, gen, job = heapq.heappop(self._visible)
            if gen == job.gen and job.live:  # else stale: deleted or changed state since
                return job
        return None

    def _lease(self, job: _Job, t: float) -> None:
        """Reserve ``job`` at ``t`` with a fresh token (lock held)."""
        job.gen += 1
        job.token = uuid.uuid4().hex
        job.deadline = t + self._timeout
        # The job hides until its deadline; its position key is kept for the restore.
        heapq.heappush(self._hidden, (job.deadline, job.seq, job.gen, job))

    def delete(self, task: Task, now: float | None) -> None:
        """Acknowledge the pending reservation of ``task``'s id; remove that job for good.

        Succeeds when no live job has the id (MQ-DELETE-3). Raises LookupError when live jobs
        have the id but none has a pending reservation (with tokens: none whose token matches),
        leaving them unchanged (MQ-DELETE-2, MQ-DELETE-5).
        """
        if not isinstance(task, dict) or not isinstance(task.get("id"), str):
            raise ValueError("delete needs a task object with a string id")
        ident = task["id"]
        with self._lock:
            jobs = self._live_jobs(ident, now)
            if not jobs:
                return
            # After _advance, a job still holding a token has a pending reservation: its
            # deadline has not been reached (or, for a ticker design, not yet processed).
            wanted = task.get(TOKEN_KEY)
            for seq, job in jobs.items():
                if job.token is not None and (not self._tokens or job.token == wanted):
                    del jobs[seq]
                    if not jobs:
                        del self._index[ident]
                    job.live = False
                    job.gen += 1
                    self._live -= 1
                    return
            if self._tokens and any(job.token is not None for job in jobs.values()):
                why = "not reserved by this caller (stale reservation token)"
            else:
                why = "not reserved (it is ready, delayed, or its reservation expired)"
            raise LookupError(f"cannot delete job {ident!r}: {why}")

    def tick(self, now: float | None) -> None:
        """Do nothing: a lease design checks time on every operation and needs no ticker."""

    def close(self) -> None:
        """Empty the queue; there is nothing else to release."""
        with self._lock:
            self._clear()

    # -- hooks for variants -----------------------------------------------------------------

    def _slack(self) -> float:
        """Seconds of lateness this design allows for readiness and restore."""
        return 0

    def _position(self, priority: int, ready_at: float, delayed: bool, seq: int) -> tuple[Any, ...]:
        """The fixed position key of a job: smaller is reserved first."""
        return (-priority, ready_at, seq)

    def _cutoff(self, now: float) -> float | None:
        """The time up to which hidden jobs become visible now, or None to move nothing."""
        return now

    # -- internals --------------------------------------------------------------------------

    def _clear(self) -> None:
        self._latest = -math.inf  # a reset starts a new case, whose clock may start anew
        self._hidden: list[tuple[float, int, int, _Job]] = []
        self._visible: list[tuple[tuple[Any, ...], int, _Job]] = []
        # id -> {seq: job}: live jobs by id, in push order (a dict keeps insertion order).
        self._index: dict[str, dict[int, _Job]] = {}
        self._live = 0
        self._seq = 0

    def _clock(self, now: float | None) -> float:
        """The time to decide at: ``now``, or the queue's own clock when it is None (the
        real-time profile), and never earlier than a time already decided at.

        Why the floor: callers on several threads reach the lock in an order they cannot see,
        so a call may bring a ``now`` older than one another call already used; deciding at it
        would run the queue clock backwards. Called with the lock held.
        """
        t = time.monotonic() if now is None else now
        if t < self._latest:
            return self._latest
        self._latest = t
        return t

    def _advance(self, now: float) -> None:
        """Make visible every hidden job whose visible_at is at or before the cutoff."""
        cutoff = self._cutoff(now)
        if cutoff is None:
            return
        hidden = self._hidden
        while hidden and hidden[0][0] <= cutoff:
            _, _, gen, job = heapq.heappop(hidden)
            if gen != job.gen or not job.live:
                continue
            # Restored (or promoted from delayed): no reservation is pending any more.
            job.token = None
            job.deadline = None
            heapq.heappush(self._visible, (job.key, job.gen, job))


def from_url(url: str) -> MemoryQueue:
    """Open a `MemoryQueue` from ``memory://[?timeout=S&tokens=B&duplicates=P&max_jobs=N]``.

    The options are those of `mqspec.adapters.options` but ``queue``: an in-process queue has
    no namespace. Raises `UsageError` for another scheme, a host or path (an in-process queue
    has no address), an unknown or repeated option, or a bad value; the message names the
    option.
    """
    parts = urlsplit(url)
    if parts.scheme != "memory":
        raise UsageError(f"not a memory:// URL: {url!r}")
    if parts.netloc or parts.path not in ("", "/") or parts.fragment:
        raise UsageError(f"memory:// takes no host, path or fragment, only ?options: {url!r}")
    options, _ = parse_query(parts.query, scheme="memory", url=url, known=IN_PROCESS_OPTIONS)
    return MemoryQueue(**options)
