"""Every queue the suite checks itself against, in one record shape and one tuple.

Responsibility: say, for each broken queue, which clauses may name its divergence (any one
suffices) and which engine profile must catch it, and for each correct queue which profile it
must pass (in strict mode). `SELFTEST_QUEUES` lists them all, in the order ``mqspec selftest``
reports them (`mqspec.conformance.frontends.selftest`); `MUTANTS`, `RACE_MUTANTS`,
`FAULT_MUTANTS`, `FAULT_CORRECT` and `CORRECT_VARIANTS` are views of it for the harness's own
tests. The queues themselves live in `mutants` (sequential bugs, and the durable and crash
ones), `race_mutants` (races), `fault_mutants` (bugs under faults, and queues that handle
faults) and `variants` (correct queues making other allowed choices).

Rule: like every adapter, imports nothing of the harness.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from types import MappingProxyType
from typing import Any, Literal

import attrs

from mqspec.adapters.base import FaultPoints, QueueAdapter
from mqspec.adapters.memory import MemoryQueue
from mqspec.adapters.selftest import fault_mutants as fm
from mqspec.adapters.selftest import mutants as m
from mqspec.adapters.selftest import race_mutants as rm
from mqspec.adapters.selftest.variants import ReversedTiesQueue, TickerQueue

__all__ = [
    "CORRECT_VARIANTS",
    "FAULT_CORRECT",
    "FAULT_MUTANTS",
    "MUTANTS",
    "RACE_MUTANTS",
    "SELFTEST_QUEUES",
    "SelftestQueue",
]


@attrs.frozen(kw_only=True)
class SelftestQueue:
    """One queue the suite is checked against: broken (it must be caught) or correct (it must
    pass).

    Attributes:
        name: the catalogue name (unique per profile), for reports and test ids.
        factory: makes a fresh, empty queue. A correct queue's factory takes `MemoryQueue`'s
            keyword options (a real-clock run asks for a short ``timeout``).
        profile: the engine profile that must catch it (``quick`` for sequential bugs,
            ``concurrency`` for races, ``faults`` for bugs only errors reveal, ``crash``), or
            that it must pass.
        clauses: the clauses any one of which may name its divergence; empty for a correct
            queue, which must conform.
        strict: run in strict mode (SHOULD findings fail too): a SHOULD-only bug, and every
            correct queue, so that a SHOULD finding on it counts as a false alarm.
        url: how to open it by URL, when the profile reopens it elsewhere (the crash check
            reopens it in a host process).
        summary: what it is, one line; when empty, `doc` reads the factory's docstring.
        record_options: for a race, keyword arguments of the concurrency recorder
            (``mqspec.conformance.concurrency.recorder.record``) that catch it within a few
            seeds (clients, mix, clock, ...).
        parallel_options: for a race, keyword arguments of the parallel checker
            (``mqspec.conformance.concurrency.parallel.check_parallel``) that catch it and
            shrink it to a small program.
        not_run: why the entry is listed but not run (the real-clock catalogue); empty when run.
    """

    name: str
    factory: Callable[..., QueueAdapter]
    profile: str = "quick"
    clauses: frozenset[str] = frozenset()
    strict: bool = False
    url: str | None = None
    summary: str = ""
    record_options: Mapping[str, Any] = attrs.field(factory=dict, eq=False)
    parallel_options: Mapping[str, Any] = attrs.field(factory=dict, eq=False)
    not_run: str = ""

    @property
    def kind(self) -> Literal["mutant", "variant"]:
        """``mutant`` for a broken queue (it has clauses to be caught on), else ``variant``."""
        return "mutant" if self.clauses else "variant"

    @property
    def doc(self) -> str:
        """`summary`, or else the first paragraph of the factory's docstring (or, for a bare
        lambda, of the queue class's), on one line."""
        if self.summary:
            return self.summary
        text = self.factory.__doc__
        if not text:
            queue = self.factory()
            try:
                text = type(queue).__doc__
            finally:
                queue.close()
        paragraph = (text or "").strip().split("\n\n")[0]
        return " ".join(paragraph.split())


def _broken(
    name: str, factory: Callable[..., QueueAdapter], *clauses: str, **how: Any
) -> SelftestQueue:
    return SelftestQueue(name=name, factory=factory, clauses=frozenset(clauses), **how)


def _race(
    name: str,
    factory: Callable[[], QueueAdapter],
    clause: str,
    *,
    examples: int,
    repeats: int,
    **record: Any,
) -> SelftestQueue:
    """A race caught on ``clause``: by 8 recorded clients with the ``record`` options, and by
    the parallel checker with ``examples`` programs run ``repeats`` times each."""
    return _broken(
        name,
        factory,
        clause,
        profile="concurrency",
        record_options={"clients": 8, **record},
        parallel_options={"examples": examples, "repeats": repeats},
    )


def _correct(
    name: str, factory: Callable[..., QueueAdapter], profile: str, summary: str
) -> SelftestQueue:
    return SelftestQueue(name=name, factory=factory, profile=profile, strict=True, summary=summary)


def _memory(**options: Any) -> MemoryQueue:
    return MemoryQueue(**options)


_FORGETFUL_URL = "py:mqspec.adapters.selftest.mutants:ForgetfulDurable"
_VARIANT = "a correct variant"

# Each mutant lists every clause its bug can honestly show as, not only the first one: a
# restore that comes early also makes a Delete inside the declared timeout fail (MQ-DELETE-1),
# an ignored or late delay also puts a job ahead of one enqueued before it (MQ-ORDER-2). Which
# one the search meets first depends on the program it happened to draw.
SELFTEST_QUEUES: tuple[SelftestQueue, ...] = (
    _broken("lifo-within-priority", m.LifoWithinPriority, "MQ-ORDER-2", "MQ-RESTORE-2"),
    _broken("priority-ignored", m.PriorityIgnored, "MQ-ORDER-1"),
    _broken("priority-inverted", m.PriorityInverted, "MQ-ORDER-1"),
    _broken("restore-to-tail", m.RestoreToTail, "MQ-RESTORE-3", strict=True),
    _broken("restore-to-head", m.RestoreToHead, "MQ-RESTORE-3", strict=True),
    _broken("never-restores", m.NeverRestores, "MQ-RESTORE-1", "MQ-LOSS-1", "MQ-DELETE-2"),
    _broken("restores-early", m.RestoresEarly, "MQ-RESERVE-3", "MQ-DELETE-1"),
    _broken("delay-ignored", m.DelayIgnored, "MQ-READY-2", "MQ-RESERVE-3", "MQ-ORDER-2"),
    _broken("delay-one-second-late", m.DelayOneSecondLate, "MQ-READY-3"),
    _broken("delete-anything", m.DeleteAnything, "MQ-DELETE-2"),
    _broken("delete-absent-fails", m.DeleteAbsentFails, "MQ-DELETE-3"),
    _broken("delete-ignores-deadline", m.DeleteIgnoresDeadline, "MQ-DELETE-2"),
    _broken("drops-opaque-fields", m.DropsOpaqueFields, "MQ-TASK-2"),
    _broken("retypes-numbers", m.RetypesNumbers, "MQ-TASK-2"),
    _broken("accepts-invalid", m.AcceptsInvalid, "MQ-TASK-1"),
    _broken(
        "silent-capacity", m.SilentCapacity, "MQ-READY-1", "MQ-LOSS-1", "MQ-ORDER-1", "MQ-ORDER-2"
    ),
    _broken(
        "duplicate-overwrites",
        m.DuplicateOverwrites,
        "MQ-LOSS-1",
        "MQ-READY-1",
        "MQ-RESERVE-2",
        "MQ-ORDER-1",
        "MQ-ORDER-2",
        "MQ-DELETE-1",
        "MQ-READY-3",
        "MQ-RESTORE-1",
    ),
    _broken("double-delivery", m.DoubleDelivery, "MQ-RESERVE-3"),
    _broken("tokens-ignored", m.TokensIgnored, "MQ-DELETE-5"),
    _broken("empty-is-error", m.EmptyIsError, "MQ-RESERVE-1"),
    _broken(
        "loses-when-many-expire",
        m.LosesWhenManyExpire,
        "MQ-RESTORE-1",
        "MQ-LOSS-1",
        "MQ-RESTORE-2",
    ),
    _broken("delete-keeps-job", m.DeleteKeepsJob, "MQ-DELETE-2", "MQ-RESERVE-2"),
    _broken("push-echoes-key", m.PushEchoesKey, "MQ-PUSH-1"),
    _broken("reject-not-enforced", m.RejectNotEnforced, "MQ-PUSH-2"),
    _broken("numeric-token", m.NumericToken, "MQ-TOKEN-1"),
    _broken("truncates-at-32-ki", m.TruncatesAt32Ki, "MQ-TASK-2"),
    _broken("delete-fails-near-deadline", m.DeleteFailsNearDeadline, "MQ-DELETE-1"),
    _broken("dies-after-burst", m.dies_after_burst, "MQ-LOSS-1"),
    # The default profile's crash check catches it; the crash profile, which kills inside
    # operations too, must as well.
    _broken("forgetful-durable", m.ForgetfulDurable, "MQ-DURABLE-1", url=_FORGETFUL_URL),
    _broken(
        "forgetful-durable-crash-profile",
        m.ForgetfulDurable,
        "MQ-DURABLE-1",
        profile="crash",
        url=_FORGETFUL_URL,
    ),
    _race(
        "peek-then-take",
        partial(rm.PeekThenTake, timeout=rm.LONG),  # a partial: the real clock sets T
        "MQ-RESERVE-3",
        ops_per_client=30,
        mix=(0.4, 0.6, 0.0),
        examples=30,
        repeats=20,
    ),
    _race(
        "delete-races-restore",
        # T of a tenth of a millisecond: reservations expire while a delete is in its gap.
        lambda: rm.DeleteRacesRestore(timeout=0.0001),
        "MQ-RESERVE-2",
        ops_per_client=60,
        mix=(0.3, 0.3, 0.4),
        abandon_rate=0.0,
        clock="queue",
        examples=60,
        repeats=15,
    ),
    _race(
        "non-atomic-reserve",
        partial(rm.NonAtomicReserve, timeout=rm.LONG),
        "MQ-LOSS-1",
        ops_per_client=30,
        mix=(0.5, 0.5, 0.0),
        abandon_rate=1.0,
        examples=30,
        repeats=20,
    ),
    # A lost job is flagged where the model first misses it: in the drain (MQ-LOSS-1, the
    # minimal program), as a ready job a Reserve did not return (MQ-READY-1), as a restored
    # job that never came back (MQ-RESTORE-1), or, with other jobs about, as one that should
    # have come out first.
    _broken(
        "pop-before-record",
        fm.PopBeforeRecord,
        "MQ-LOSS-1",
        "MQ-LOSS-2",
        "MQ-RESTORE-1",
        "MQ-RESTORE-2",
        "MQ-ORDER-1",
        "MQ-ORDER-2",
        "MQ-READY-1",
        profile="faults",
    ),
    _broken(
        "push-retries-twice",
        fm.PushRetriesTwice,
        "MQ-LOSS-2",
        "MQ-RESERVE-3",
        "MQ-LOSS-3",
        "MQ-LOSS-1",
        profile="faults",
    ),
    _broken(
        "delete-acks-failed-write",
        fm.DeleteAcksFailedWrite,
        "MQ-DELETE-1",
        "MQ-DELETE-2",
        "MQ-RESERVE-2",
        profile="faults",
    ),
    _correct("memory", _memory, "quick", _VARIANT),
    _correct("memory-tokens", lambda **o: MemoryQueue(tokens=True, **o), "quick", _VARIANT),
    _correct("memory-reject", lambda **o: MemoryQueue(duplicates="reject", **o), "quick", _VARIANT),
    _correct("memory-capacity", lambda **o: MemoryQueue(max_jobs=50, **o), "quick", _VARIANT),
    _correct("ticker", lambda **o: TickerQueue(tick_interval=1, **o), "quick", _VARIANT),
    _correct("reversed-ties", lambda **o: ReversedTiesQueue(**o), "quick", _VARIANT),
    _correct("memory", _memory, "faults", "correct under faults"),
    _correct("record-before-answer", fm.RecordBeforeAnswer, "faults", "correct under faults"),
    _correct("push-fails-cleanly", fm.PushFailsCleanly, "faults", "correct under faults"),
    _correct("memory", _memory, "concurrency", "correct under concurrency"),
)
"""Every queue the suite checks itself against: the broken ones, then the correct ones."""

MUTANTS: tuple[SelftestQueue, ...] = tuple(q for q in SELFTEST_QUEUES if q.clauses)
"""Every broken queue, with the clauses allowed to name its divergence and its profile."""

RACE_MUTANTS: tuple[SelftestQueue, ...] = tuple(q for q in MUTANTS if q.profile == "concurrency")
"""The broken queues that only concurrency reveals, each with the recorder and parallel
checker options that catch it."""

FAULT_MUTANTS: tuple[SelftestQueue, ...] = tuple(q for q in MUTANTS if q.profile == "faults")
"""The broken queues that only faults reveal."""

FAULT_CORRECT: tuple[SelftestQueue, ...] = tuple(
    q
    for q in SELFTEST_QUEUES
    if not q.clauses
    and q.profile == "faults"
    and isinstance(q.factory, type)
    and issubclass(q.factory, FaultPoints)
)
"""The correct queues with fault points, which handle every fault there: the faults machine
passes them (plain `MemoryQueue`, which has no fault point, is checked under faults too, but
is not one of these)."""

CORRECT_VARIANTS: Mapping[str, Callable[..., QueueAdapter]] = MappingProxyType(
    {q.name: q.factory for q in SELFTEST_QUEUES if not q.clauses and q.profile == "quick"}
)
"""Every correct variant by name: a factory for a fresh, empty queue (options such as
``timeout`` are passed on, so a real-clock run can ask for a short reservation timeout)."""
