"""The bookkeeping of one possible queue state: its jobs, the heaps that line them up, time.

`JobStore` holds the live `mqspec.reference.job.Job` values and finds the next one in
O(log n): per priority, heaps of the ready jobs; heaps of the delayed jobs' ready times and of
the reservations' deadlines. It knows what time makes certain (`settle`) and how each kind of
observation changes a job (`_add`, `_take`, `_remove`); which observations the contract allows
is `mqspec.reference.queue_state.QueueState`, built on it. No I/O, no clock: time is given.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable
from typing import Any, Self

from mqspec.reference.job import (
    AT,
    DELAYED,
    GEN,
    READY,
    RESERVED,
    TIMER_GEN,
    TIMER_UID,
    UID,
    Instants,
    Job,
    ReadyEntry,
    TimerEntry,
    ready_entry,
    restored_must_entry,
    timer_entry,
)
from mqspec.reference.jsonvalue import without_token
from mqspec.reference.types import Capabilities

__all__ = ["JobStore"]


class JobStore:
    """The jobs of one possible queue state at the time ``now``, lined up.

    ``jobs`` by uid and ``by_id`` (uids by task id) hold the live jobs. ``must[p]`` and
    ``should[p]`` are heaps of `ReadyEntry` for the certain-ready jobs of priority ``p``;
    ``delayed_heap`` and ``reserved_heap`` are heaps of `TimerEntry` for the ready times and the
    reservation deadlines. Heap entries go stale when their job changes; they are skipped lazily.
    """

    __slots__ = (
        "acked",
        "acked_before_restart",
        "by_id",
        "caps",
        "delayed_heap",
        "jobs",
        "must",
        "now",
        "reserved_heap",
        "should",
    )

    def __init__(self, caps: Capabilities, now: float = 0.0) -> None:
        self.caps = caps
        self.now = now
        self.jobs: dict[int, Job] = {}
        self.by_id: dict[str, list[int]] = {}
        # Certain-ready jobs per priority. `must` holds every one (a restored one as
        # `restored_must_entry` says); `should` holds only the restored ones, at their old place
        # (MQ-RESTORE-3). Stale entries are skipped lazily.
        self.must: tuple[list[ReadyEntry], ...] = ([], [], [])
        self.should: tuple[list[ReadyEntry], ...] = ([], [], [])
        self.delayed_heap: list[TimerEntry] = []
        self.reserved_heap: list[TimerEntry] = []
        # The tasks acknowledged by a successful Delete, by id, and the ids acknowledged before
        # the last restart: only used to name the root cause when an acknowledged job comes
        # back (MQ-RESERVE-2, or MQ-DURABLE-1 across a restart), even under an id pushed again.
        self.acked: dict[str, tuple[Any, ...]] = {}
        self.acked_before_restart: frozenset[str] = frozenset()

    # ---------------------------------------------------------------- copying and identity

    def copy(self) -> Self:
        """An independent copy (O(n)); used only when the contract leaves the outcome open."""
        twin = type(self)(self.caps, self.now)
        twin.jobs = {uid: job.copy() for uid, job in self.jobs.items()}
        twin.by_id = {k: list(v) for k, v in self.by_id.items()}
        twin.must = tuple(list(h) for h in self.must)
        twin.should = tuple(list(h) for h in self.should)
        twin.delayed_heap = list(self.delayed_heap)
        twin.reserved_heap = list(self.reserved_heap)
        twin.acked = dict(self.acked)  # its values are tuples, never changed in place
        twin.acked_before_restart = self.acked_before_restart
        return twin

    def restart(self) -> None:
        """The process holding a durable queue restarted: its state must be unchanged.

        Nothing changes in the state itself (that is what durable means, MQ-DURABLE-1); the
        marks only let later findings about these jobs name MQ-DURABLE-1.
        """
        for job in self.jobs.values():
            job.survived = True
            job.held_over = job.state == RESERVED
        self.acked_before_restart = frozenset(self.acked)

    def fingerprint(self) -> tuple[Any, ...]:
        """A hashable summary; two states with equal fingerprints behave the same."""
        return tuple(sorted(job.fingerprint() for job in self.jobs.values()))

    def state_key(self, instants: Instants | None = None) -> Hashable:
        """A hashable summary of this state, its jobs named by the identity of their tasks.

        With ``instants`` None: every job's `Job.fingerprint` (all its instants). Otherwise
        each job's `Job.summary` under ``instants``, listed by place in line (priority, then
        push order), so states that differ only in the push order of jobs of different
        priorities share a key. The clock is not part of it (`Model.state_key` adds it).
        """
        if instants is None:
            return frozenset((job.fingerprint(), id(job.task)) for job in self.jobs.values())
        return tuple(job.summary(instants) for job in sorted(self.jobs.values(), key=_place))

    # ---------------------------------------------------------------- time

    def settle(self, now: float) -> None:
        """Move the clock to ``now`` and make certain what the contract makes certain by then."""
        self.now = now
        slack = self.caps.slack
        heap = self.delayed_heap
        while heap and heap[0][AT] + slack <= now:
            entry = heapq.heappop(heap)
            job = self.jobs.get(entry[TIMER_UID])
            if job is not None and job.gen == entry[TIMER_GEN] and job.state == DELAYED:
                self._make_ready(job)
        heap = self.reserved_heap
        while heap and heap[0][AT] + slack <= now:
            entry = heapq.heappop(heap)
            job = self.jobs.get(entry[TIMER_UID])
            if job is not None and job.gen == entry[TIMER_GEN] and job.state == RESERVED:
                job.restored = True
                self._make_ready(job)

    def next_events(self) -> list[float]:
        """Times at which something changes (ready times, deadlines, their slack ends), sorted."""
        slack = self.caps.slack
        times: set[float] = set()
        for job in self.jobs.values():
            if job.state == DELAYED:
                times.update((job.ready_at, job.ready_at + slack))
            elif job.state == RESERVED:
                times.update((job.deadline, job.deadline + slack))
        return sorted(t for t in times if t >= self.now)

    def _make_ready(self, job: Job) -> None:
        """Mark ``job`` certainly ready and line it up in its priority's heaps."""
        job.state = READY
        job.gen += 1
        place = ready_entry(job)
        if job.restored:
            heapq.heappush(self.must[job.priority], restored_must_entry(job))
            heapq.heappush(self.should[job.priority], place)
        else:
            heapq.heappush(self.must[job.priority], place)

    def _peek(self, heap: list[ReadyEntry]) -> ReadyEntry | None:
        """The first live entry of ``heap``, popping the stale ones above it; None if empty."""
        jobs = self.jobs
        while heap:
            top = heap[0]
            job = jobs.get(top[UID])
            if job is not None and job.gen == top[GEN] and job.state == READY:
                return top
            heapq.heappop(heap)
        return None

    def _live_entry(self, entry: ReadyEntry) -> bool:
        """Whether ``entry`` is not stale: its job is live, ready, of the entry's generation."""
        job = self.jobs.get(entry[UID])
        return job is not None and job.gen == entry[GEN] and job.state == READY

    def _body(self, returned: dict[str, Any]) -> dict[str, Any]:
        """The task part of a returned task: without its token where the queue issues tokens.

        A queue that declares no tokens may carry ``_mq_token`` as an opaque field, which must
        then round-trip like any other (MQ-TASK-1, MQ-TASK-2).
        """
        return without_token(returned) if self.caps.reservation_tokens else returned

    def _add(self, uid: int, task: dict[str, Any], failed_push: bool) -> None:
        """Queue ``task`` as job ``uid`` at ``now``; ``failed_push``: its Push reported failure."""
        job = Job(uid, task, self.now, self.caps.slack)
        job.failed_push = failed_push
        self.jobs[uid] = job
        self.by_id.setdefault(job.id, []).append(uid)
        if job.state == READY:
            self._make_ready(job)
        else:
            heapq.heappush(self.delayed_heap, timer_entry(job.ready_at, job))
            # settle() only promotes past ready_at + slack; a delay of 0 seconds never reaches here.

    def _take(self, job: Job, token: Any) -> None:
        """``job`` came out of a Reserve at ``now`` with ``token``: it is reserved from now on."""
        if job.state == DELAYED:
            # It became ready no later than now: narrow its enqueue interval.
            job.hi = min(job.hi, self.now)
        elif job.state == RESERVED:
            job.restored = True  # restored inside the slack window, then taken again
        job.state = RESERVED
        job.held_over = False
        job.deadline = self.now + self.caps.reservation_timeout
        job.token = token
        job.gen += 1
        heapq.heappush(self.reserved_heap, timer_entry(job.deadline, job))

    def _remove(self, uid: int) -> None:
        """Job ``uid`` was deleted (acknowledged): it is no longer live."""
        job = self.jobs.pop(uid)
        self.acked[job.id] = (*self.acked.get(job.id, ()), job.task)
        same = self.by_id[job.id]
        same.remove(uid)
        if not same:
            del self.by_id[job.id]

    # ---------------------------------------------------------------- reading

    def live_count(self) -> int:
        """How many jobs are live (pushed, not deleted) in this state."""
        return len(self.jobs)


def _place(job: Job) -> tuple[int, int]:
    """A job's place in line for a state key: only the order within a priority matters."""
    return job.priority, job.seq
