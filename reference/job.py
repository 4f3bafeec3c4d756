"""One live job of a possible queue state, and the heap entries that place it.

Private to the model: `mqspec.reference.queue_state.QueueState` keeps its jobs as `Job` values
and finds the next one through heaps of `ReadyEntry` and `TimerEntry` tuples. No I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, Final

__all__ = [
    "AT",
    "DELAYED",
    "GEN",
    "HI",
    "INEXACT",
    "INF",
    "READY",
    "RESERVED",
    "SEQ",
    "STATE_NAMES",
    "TIMER_GEN",
    "TIMER_UID",
    "UID",
    "Instants",
    "Job",
    "ReadyEntry",
    "TimerEntry",
    "precedes",
    "ready_entry",
    "restored_must_entry",
    "timer_entry",
]

INF = float("inf")

# Job states. A DELAYED job is "maybe ready" from ready_at to ready_at + slack; a RESERVED job is
# "maybe restored" from deadline to deadline + slack. Past those windows the state's `settle`
# makes them READY.
DELAYED, READY, RESERVED = 0, 1, 2
STATE_NAMES = {DELAYED: "delayed", READY: "ready", RESERVED: "reserved"}

Instants = Callable[[float, bool, float, float, float], tuple[Hashable, ...]]
"""Summarises a job's instants for a state key: called with (deadline, delayed, lo, hi,
ready_at) — the reservation deadline (inf when none is pending), whether the job was pushed
with a delay, its enqueue interval [lo, hi], and when its delay ends — it returns the part of
them that can still make a difference to the caller."""


class Job:
    """One live job. Mutable, slotted, private to the model.

    Order: every job has an enqueue interval [lo, hi]; ``exact`` jobs (pushed without delay) have
    lo == hi and break ties at the same instant by ``seq``, their push order (MQ-ORDER-2).
    A delayed job became ready somewhere in [ready_at, ready_at + slack] (MQ-ORDER-3).
    ``gen`` counts the job's changes of state; a heap entry made under an older ``gen`` is stale.
    """

    __slots__ = (
        "deadline",
        "delayed",
        "exact",
        "failed_push",
        "gen",
        "held_over",
        "hi",
        "id",
        "lo",
        "priority",
        "pushed_at",
        "ready_at",
        "restored",
        "seq",
        "state",
        "survived",
        "task",
        "token",
        "uid",
    )

    def __init__(self, uid: int, task: dict[str, Any], now: float, slack: float) -> None:
        self.uid = uid
        self.id: str = task["id"]
        self.priority: int = task["priority"]
        self.task = task
        self.seq = uid
        self.pushed_at = now
        delay = task.get("delay", 0)
        self.delayed = delay > 0
        self.ready_at = now + delay
        self.lo = self.ready_at
        self.hi = self.ready_at + slack if self.delayed else now
        self.exact = not self.delayed
        self.state = DELAYED if self.delayed else READY
        self.deadline = INF
        self.token: Any = None
        self.restored = False
        self.failed_push = False
        self.gen = 0
        # Set by a restart: the job was live before it (MQ-DURABLE-1), and its reservation
        # was pending then (held_over); only used to name the clause a divergence breaks.
        self.survived = False
        self.held_over = False

    def copy(self) -> Job:
        """An independent copy with every field equal."""
        twin = Job.__new__(Job)
        for name in Job.__slots__:
            setattr(twin, name, getattr(self, name))
        return twin

    def fingerprint(self) -> tuple[Any, ...]:
        """What of the job can change a later verdict, named by ``uid``, instants included."""
        return (
            self.uid,
            self.state,
            self.lo,
            self.hi,
            self.ready_at,
            self.deadline,
            self.restored,
            self.failed_push,
            repr(self.token),
        )

    def summary(self, instants: Instants) -> tuple[Hashable, ...]:
        """Like `fingerprint`, but named by its task object, with ``instants`` of its times."""
        return (
            id(self.task),
            self.state,
            self.restored,
            self.failed_push,
            repr(self.token),
            *instants(self.deadline, self.delayed, self.lo, self.hi, self.ready_at),
        )

    def label(self) -> str:
        """The job as findings name it: id and priority."""
        return f"{self.id!r} (priority {self.priority})"


# Heap entries are plain tuples read through the field names below. A NamedTuple costs a
# generic attribute lookup per field read and a heap-type object the collector keeps tracking
# per entry: measured, about 9% more instructions per model operation than plain tuples.

ReadyEntry = tuple[float, int, int, int, int]
"""A ready job's place in its priority's heap, the smallest first: fields at HI, INEXACT, SEQ,
GEN, UID."""
HI: Final = 0  # the upper end of the job's enqueue interval: none enqueued after it goes first
INEXACT: Final = 1  # 0 when enqueued at an exact instant (hi == lo), else 1: exact first on ties
SEQ: Final = 2  # push order, which breaks ties between exact jobs enqueued at the same instant
GEN: Final = 3  # the job's `Job.gen` when the entry was made; an older generation is stale
UID: Final = 4  # the job's `Job.uid`

TimerEntry = tuple[float, int, int]
"""When a delayed job becomes ready, or a reservation ends, for a min-heap on that time:
fields at AT, TIMER_GEN, TIMER_UID (the time, and `Job.gen` and `Job.uid` as in `ReadyEntry`)."""
AT: Final = 0
TIMER_GEN: Final = 1
TIMER_UID: Final = 2


def timer_entry(at: float, job: Job) -> TimerEntry:
    """The entry that wakes ``job`` at ``at``, valid while the job keeps its generation."""
    return (at, job.gen, job.uid)


def ready_entry(job: Job) -> ReadyEntry:
    """The job's place in line: by its enqueue interval, then exactness, then push order."""
    return (job.hi, 0 if job.exact else 1, job.seq, job.gen, job.uid)


def restored_must_entry(job: Job) -> ReadyEntry:
    """A restored job's entry in the MUST heap of its priority: keyed as if enqueued at inf.

    At MUST level a restored job keeps its priority (MQ-RESTORE-2) but may come back anywhere
    behind its old place; only the SHOULD clause MQ-RESTORE-3 asks for that place, which the
    state tracks in a second heap with `ready_entry`. Keyed ``hi = inf``, the entry sorts
    behind every job of its priority that was never restored, and `precedes` never holds for
    it, so it never makes another job's Reserve out of order; yet it is a ready job like any
    other, so a null Reserve, or a lower priority served while it waits, is still refused.
    """
    return (INF, 1, job.seq, job.gen, job.uid)


def precedes(entry: ReadyEntry, job: Job) -> bool:
    """Whether the job behind heap ``entry`` must come out strictly before ``job``."""
    hi = entry[HI]
    if hi < job.lo:
        return True
    return hi == job.lo and entry[INEXACT] == 0 and job.exact and entry[SEQ] < job.seq
