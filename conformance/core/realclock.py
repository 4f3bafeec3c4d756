"""The state machine on the real clock: a queue that reads its own clock, searched in parallel.

Most queues worth checking read their own clock (fn's Go queues, Redis ``TIME``, SQL
``now()``). For them the harness cannot jump time: it sleeps. So the search runs on a
compressed timescale (a reservation timeout of about a second, delays of one to three
seconds, advances of a fraction of a second to a few seconds), keeps the session's fairness
rule (no operation starts within the margin before a ready time or deadline the model knows,
every slack window widened by the margin, a call slower than the margin an error, never a
divergence), and, because the cost is sleeping rather than CPU, runs several independent
searches at once, each on a queue of its own, with derived seeds, merged into one result.

A budget bounds the whole search: each worker runs batches of examples until the budget is
spent or another worker found a divergence. Shrinking runs in real time too, bounded by the
profile's shrink budget; a program found when that bound is hit is still a real, replayable
failure (the smallest one seen), and the source says the search was on the real clock.

Rule: imports the machine runner (`machine_search`) and the Hypothesis machine; no front end.
"""

from __future__ import annotations

import ast
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any, ClassVar

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from mqspec.conformance.core.events import Phase, PhaseDone
from mqspec.conformance.core.profiles import Profile
from mqspec.conformance.core.realclock_workers import (
    Binder,
    CaseDropped,
    Opener,
    WorkerTask,
    run_workers,
)
from mqspec.conformance.core.results import Divergence
from mqspec.conformance.core.statemachine import QueueMachine
from mqspec.conformance.core.strategies import opaque_fields, priorities
from mqspec.reference.errors import DriverError
from mqspec.reference.types import Finding

__all__ = [
    "DEFAULT_BUDGET",
    "DEFAULT_WORKERS",
    "Binder",
    "Opener",
    "RealClockMachine",
    "run_realtime_search",
    "stalls",
    "too_few_judged",
]

DEFAULT_BUDGET = 120.0
"""Seconds a real-clock search may take, all workers together, by default."""

MOST_STALLS = 0.25
"""The share of real-clock cases that may be lost to separate stalls (calls slower than the
margin, their cases dropped unjudged) before the search is an error rather than a verdict."""

MOST_DROPPED = 0.5
"""The share of real-clock cases that may be dropped unjudged in more than one stall before the
search is an error: a verdict must rest on most of the cases it ran, unless a single pause of
the whole process took them (then only when it took every case)."""

DEFAULT_WORKERS = 16
"""Independent searches at once. A real-clock case sleeps almost all of its time (sixteen
workers on the Python example driver use well under a tenth of one core), so this many keep
the sleeps overlapped; `bench/realclock.py` measures what they buy over one."""


def stalls(spans: list[tuple[float, float]]) -> int:
    """How many separate stalls the slow calls ``spans`` (start, end; monotonic seconds, from
    every worker) show: the fewest moments such that every slow call was in progress at one
    of them. Calls slowed by one pause all span its moment, so they count once; a chain of
    calls that each overlap the next, but not all one moment, is several stalls.

    Why: one pause of the whole process (a garbage collection of a large heap, the machine
    swapping) slows every worker's call in flight at once. With sixteen workers that is up to
    sixteen dropped cases from one event, and a phase of few cases would be an error for it,
    though the queue and the machine were fine before and after. A queue that is slow all the
    time is not one event: its workers' slow calls overlap in a chain, and merging the chain
    would count a whole run of slow calls as one stall.
    """
    count, moment = 0, -math.inf
    for start, end in sorted(spans, key=lambda span: span[1]):
        if start > moment:  # not in progress at the last moment chosen: a new stall
            count += 1
            moment = end
    return count


def too_few_judged(stalled: int, dropped: int, cases: int) -> bool:
    """Whether ``dropped`` of ``cases`` real-clock cases, dropped in ``stalled`` separate
    stalls, leave too little to rest a verdict on: stalls in more than `MOST_STALLS` of the
    cases; more than `MOST_DROPPED` of the cases dropped in more than one stall (a queue slow
    all the time, seen by many workers at once, is few stalls beside the cases it drops); or
    every case dropped.

    Why one stall is spared the second rule: one pause of the harness's process drops a case
    in every worker at once, up to sixteen, and in a short phase that can be most of its cases
    though the queue and the machine were fine before and after."""
    if cases and dropped >= cases:
        return True
    return stalled > cases * MOST_STALLS or (stalled > 1 and dropped > cases * MOST_DROPPED)


def _drop_case(why: str) -> None:
    """A call slower than the margin: drop the case unjudged rather than end the search.

    Why: with many workers on a loaded machine one call in thousands can be slow. Its answer
    cannot be judged fairly, so it is never a divergence; the rest of the search still holds.
    `CaseDropped` ends the worker's Hypothesis run at once (it is no `Exception`, so
    Hypothesis neither shrinks nor retries it); the worker counts it and starts its next run.
    The search is an error when too few cases were judged (`too_few_judged`).
    """
    raise CaseDropped(why)


class _DrainEnded(Exception):
    """A call slower than the margin in the drain that ends a case."""


def _end_drain(why: str) -> None:
    raise _DrainEnded(why)


def _time_may_pass(machine: QueueMachine) -> bool:
    """Whether a time rule may run: an operation was sent since the case began or since the
    last time rule. Every real-clock time rule requires it.

    Why: Hypothesis's swarm testing and its bias towards the simplest choices made about half
    the real-clock cases sixteen time rules in a row with nothing sent (or one Delete then
    fifteen sleeps): cases that test nothing and cost their sleeps. Nothing can be observed
    between two time rules, so two in a row are one longer wait; time before the first
    operation changes nothing on an empty queue. The rule loses no behaviour a Reserve could
    see, and a case whose enabled rules are all time rules is dropped by Hypothesis at once
    as invalid, without sleeping.
    """
    steps = machine.session.transcript.steps
    return bool(steps) and steps[-1].op != "advance"


def _time_may_pass_to_event(machine: QueueMachine) -> bool:
    return _time_may_pass(machine) and bool(machine.session.model.next_events())


class RealClockMachine(QueueMachine):
    """`QueueMachine` with its time rules on a compressed timescale: it sleeps for real.

    Delays are 1 to 3 seconds, advances a fraction of a second to two reservation timeouts,
    and the rules that aim at boundaries stop just before and just after ready times and
    deadlines, where real-clock bugs live (a Delete refused in the last second of its lease,
    a delay computed from a push time cut to whole seconds). Every time rule needs an
    operation sent since the last one (`_time_may_pass`): sleeps are the search's cost.
    """

    # Set by the real-clock search's workers, which start a new Hypothesis run after a dropped
    # case. Elsewhere (the faults machine on the real clock) a slow call stays an error.
    drop_slow_cases: ClassVar[bool] = False

    def __init__(self) -> None:
        super().__init__()
        if self.drop_slow_cases:
            self.session.on_slow_call = _drop_case

    def teardown(self) -> None:
        if not self.drop_slow_cases:
            super().teardown()
            return
        # A slow call in the final drain ends the drain, not the run: the case's steps were
        # judged already, and the case counts as dropped.
        self.session.on_slow_call = _end_drain
        with suppress(_DrainEnded):
            super().teardown()

    @rule(
        target=QueueMachine.pushed,
        priority=priorities,
        delay=st.one_of(st.just(0), st.just(0), st.integers(1, 3)),
        fields=opaque_fields,
    )
    def push(self, priority: int, delay: int, fields: dict[str, Any]) -> Any:
        return self._push_one(priority, delay, fields)

    @rule(
        target=QueueMachine.pushed,
        count=st.one_of(st.integers(1, 5), st.integers(6, 40)),
        priority_seed=st.integers(0, 2**16),
        delayed=st.booleans(),
    )
    def push_many(self, count: int, priority_seed: int, delayed: bool) -> Any:
        """Up to 40 jobs at once (a few per call on a real backend), some delayed 1-3 s."""
        return self._push_batch(count, priority_seed, delayed, longest_delay=3)

    @precondition(_time_may_pass)
    @rule(seconds=st.sampled_from([0.05, 0.3, 0.7, 1.2]))
    def advance(self, seconds: float) -> None:
        self.session.advance(seconds)

    @precondition(_time_may_pass)
    @rule(factor=st.sampled_from([1, 2, 0.5, 0.75]))
    def advance_far(self, factor: float) -> None:
        """Past a whole reservation timeout (several expire together), or into one."""
        self.session.advance(self.session.capabilities.reservation_timeout * factor)

    @precondition(_time_may_pass_to_event)
    @rule(data=st.data())
    def advance_to_event(self, data: st.DataObject) -> None:
        QueueMachine.advance_to_event(self, data)

    @precondition(_time_may_pass_to_event)
    @rule(fraction=st.sampled_from([0.5, 0.9]))
    def advance_partway(self, fraction: float) -> None:
        QueueMachine.advance_partway(self, fraction)

    @precondition(_time_may_pass_to_event)
    @rule(data=st.data(), before=st.sampled_from([0.3, 0.6, 0.9]))
    def advance_into_last_second(self, data: st.DataObject, before: float) -> None:
        """Stop in the last second before a deadline or ready time, or just after one. The
        session steps past a boundary closer than its margin, so "just after" is the margin."""
        events = self.session.model.next_events()[:6]
        when = data.draw(st.sampled_from(events), label="event")
        after = data.draw(st.booleans(), label="after")
        when = when + self.session.margin if after else when - before
        self.session.advance_to(max(when, self.session.now))


def run_realtime_search(
    open_queue: Opener,
    profile: Profile,
    *,
    url: str,
    strict: bool = False,
    seed: int = 0,
    budget: float = DEFAULT_BUDGET,
    workers: int = DEFAULT_WORKERS,
    cap_shrinking: bool = True,
    bind: Binder | None = None,
    phase: Phase = "stateful",
) -> PhaseDone:
    """Search a real-clock queue with ``workers`` independent state machines at once.

    Each worker opens its own queue with ``open_queue`` (its own driver process, namespace or
    instance), runs batches of examples with seeds derived from ``seed`` and its number until
    ``budget`` seconds have passed or a worker found a divergence, and closes it (each worker
    a thread: `mqspec.conformance.core.realclock_workers`). One divergence per clause is kept,
    the smallest program first. With ``cap_shrinking`` Hypothesis's shrink budget is the
    profile's, around all workers. ``bind`` builds each worker's machine on its queue (by
    default `RealClockMachine`'s rules on the bare queue); ``phase`` names the phase (the
    faults phase binds a fault rig per worker).

    Raises:
        DriverError: a worker's queue could not be opened or driven (the first such error),
            when no worker found a divergence.
    """
    started = time.monotonic()
    tasks = [
        WorkerTask(
            opener=open_queue,
            base=RealClockMachine,
            profile=profile,
            url=url,
            strict=strict,
            seed=seed,
            number=n,
            deadline=started + budget,
            started=started,
            bind=bind,
            phase=phase,
        )
        for n in range(max(1, workers))
    ]
    with _one_parse_at_a_time():
        reports = run_workers(
            tasks, shrink_seconds=profile.shrink_seconds if cap_shrinking else None
        )
    found = [d for r in reports for d in r.divergences]
    errors = [r.error for r in reports if r.error is not None]
    if errors and not found:
        raise errors[0]
    cases = sum(r.examples for r in reports)
    dropped = sum(r.dropped for r in reports)
    why = next((r.dropped_why for r in reports if r.dropped_why), "")
    stalled = stalls([span for r in reports for span in r.dropped_spans])
    if not found and too_few_judged(stalled, dropped, cases):
        raise DriverError(
            f"{dropped} of {cases} real-clock cases were dropped unjudged, in {stalled} "
            f"separate stalls, too many to rest a verdict on; the first: {why} (fewer "
            "--workers put less load on the machine)"
        )
    kept: list[Divergence] = []
    for divergence in sorted(found, key=_size):
        if all(d.clause != divergence.clause for d in kept):
            kept.append(divergence)
    kept.sort(key=lambda d: d.clause.id)
    warnings: list[Finding] = []
    for report in reports:
        warnings += [w for w in report.warnings if w not in warnings]
    firsts = [r.found_after for r in reports if r.found_after is not None]
    return PhaseDone(
        phase,
        tuple(kept),
        tuple(warnings),
        examples=cases,
        elapsed=time.monotonic() - started,
        found_after=min(firsts) if firsts else None,
        clock="real",
        workers=len(tasks),
        steps=sum(r.steps for r in reports),
        dropped=dropped,
        dropped_why=why,
    )


_PARSE = threading.Lock()
_PATCH = threading.Lock()
_parse_users = 0
_parse_original: Any = None


@contextmanager
def _one_parse_at_a_time() -> Iterator[None]:
    """Serialise `ast.parse` while the workers run.

    Why: Hypothesis reads the source of rules and lambdas (`inspect.getsource`, which parses
    the file) to describe them, and CPython 3.11's parser is not safe to enter from two
    threads at once: it fails with "SystemError: AST constructor recursion depth mismatch".
    Parsing is rare and quick, so one at a time costs nothing measurable. Searches running
    at once share the patch: the first installs it, the last removes it.
    """
    global _parse_users, _parse_original
    with _PATCH:
        if _parse_users == 0:
            _parse_original = ast.parse
            original = _parse_original

            def parse(*args: Any, **kwargs: Any) -> Any:
                with _PARSE:
                    return original(*args, **kwargs)

            ast.parse = parse
        _parse_users += 1
    try:
        yield
    finally:
        with _PATCH:
            _parse_users -= 1
            if _parse_users == 0:
                ast.parse = _parse_original


def _size(divergence: Divergence) -> int:
    return len(divergence.transcript.steps) if divergence.transcript is not None else 0
