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
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import attrs
from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from mqspec.adapters.base import QueueAdapter
from mqspec.conformance.core.events import PhaseDone
from mqspec.conformance.core.machine_search import run_machine, shrink_budget
from mqspec.conformance.core.profiles import Profile
from mqspec.conformance.core.results import Divergence
from mqspec.conformance.core.statemachine import QueueMachine, machine_for
from mqspec.conformance.core.strategies import opaque_fields, priorities
from mqspec.reference.types import Finding

__all__ = ["DEFAULT_BUDGET", "DEFAULT_WORKERS", "RealClockMachine", "run_realtime_search"]

DEFAULT_BUDGET = 120.0
"""Seconds a real-clock search may take, all workers together, by default."""

DEFAULT_WORKERS = 6
"""Independent searches at once: a real-clock example sleeps most of its time, so several
keep two cores busy."""

BATCH = 2  # examples per Hypothesis run inside a worker, between budget checks

Opener = Callable[[], tuple[QueueAdapter, Callable[[], None]]]
"""Opens one more queue of the same kind, each in a namespace of its own, with its cleanup."""


class RealClockMachine(QueueMachine):
    """`QueueMachine` with its time rules on a compressed timescale: it sleeps for real.

    Delays are 1 to 3 seconds, advances a fraction of a second to two reservation timeouts,
    and the rules that aim at boundaries stop just before and just after ready times and
    deadlines, where real-clock bugs live (a Delete refused in the last second of its lease,
    a delay computed from a push time cut to whole seconds).
    """

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

    @rule(seconds=st.sampled_from([0.05, 0.3, 0.7, 1.2]))
    def advance(self, seconds: float) -> None:
        self.session.advance(seconds)

    @rule(factor=st.sampled_from([1, 2, 0.5, 0.75]))
    def advance_far(self, factor: float) -> None:
        """Past a whole reservation timeout (several expire together), or into one."""
        self.session.advance(self.session.capabilities.reservation_timeout * factor)

    @precondition(lambda self: bool(self.session.model.next_events()))
    @rule(data=st.data(), before=st.sampled_from([0.3, 0.6, 0.9]))
    def advance_into_last_second(self, data: st.DataObject, before: float) -> None:
        """Stop in the last second before a deadline or ready time, or just after one. The
        session steps past a boundary closer than its margin, so "just after" is the margin."""
        events = self.session.model.next_events()[:6]
        when = data.draw(st.sampled_from(events), label="event")
        after = data.draw(st.booleans(), label="after")
        when = when + self.session.margin if after else when - before
        self.session.advance_to(max(when, self.session.now))


@attrs.define
class _Pool:
    """What the workers share: the stop signal, and what each found and ran."""

    deadline: float
    stop: threading.Event = attrs.Factory(threading.Event)
    lock: threading.Lock = attrs.Factory(threading.Lock)
    divergences: list[Divergence] = attrs.Factory(list)
    warnings: list[Finding] = attrs.Factory(list)
    examples: int = 0
    steps: int = 0
    found_after: float | None = None
    error: BaseException | None = None


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
) -> PhaseDone:
    """Search a real-clock queue with ``workers`` independent state machines at once.

    Each worker opens its own queue with ``open_queue`` (its own driver process, namespace or
    instance), runs batches of examples with seeds derived from ``seed`` and its number until
    ``budget`` seconds have passed or a worker found a divergence, and closes it. One
    divergence per clause is kept, the smallest program first. Hypothesis's shrink budget is
    process-wide: with ``cap_shrinking`` it is set here to the profile's, around all workers.

    Raises:
        DriverError: a worker's queue could not be opened or driven (the first such error).
    """
    started = time.monotonic()
    pool = _Pool(deadline=started + budget)

    def work(number: int) -> None:
        try:
            adapter, cleanup = open_queue()
        except BaseException as err:
            with pool.lock:
                pool.error = pool.error or err
            pool.stop.set()
            return
        try:
            machine = machine_for(adapter, strict=strict, url=url, base=RealClockMachine)
            batch = 0
            while time.monotonic() < pool.deadline and not pool.stop.is_set():
                batch_seed = seed * 1_000_003 + number * 1009 + batch
                chosen = attrs.evolve(profile, examples=BATCH)
                begun = time.monotonic()
                found, _, first = run_machine(
                    machine, chosen, batch_seed, "stateful, real clock", cap_shrinking=False
                )
                with pool.lock:
                    pool.examples += BATCH
                    pool.steps += machine.steps_run
                    machine.steps_run = 0
                    if found:
                        pool.divergences += found
                        if first is not None and pool.found_after is None:
                            pool.found_after = begun - started + first
                if found:
                    pool.stop.set()
                batch += 1
            with pool.lock:
                pool.warnings += [w for w in machine.findings if w not in pool.warnings]
        except BaseException as err:
            with pool.lock:
                pool.error = pool.error or err
            pool.stop.set()
        finally:
            cleanup()

    threads = [
        threading.Thread(target=work, args=(n,), name=f"mqspec-realclock-{n}", daemon=True)
        for n in range(max(1, workers))
    ]
    with shrink_budget(profile.shrink_seconds if cap_shrinking else None), _one_parse_at_a_time():
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    if pool.error is not None and not pool.divergences:
        raise pool.error
    kept: list[Divergence] = []
    for divergence in sorted(pool.divergences, key=_size):
        if all(d.clause != divergence.clause for d in kept):
            kept.append(divergence)
    kept.sort(key=lambda d: d.clause.id)
    return PhaseDone(
        "stateful",
        tuple(kept),
        tuple(pool.warnings),
        examples=pool.examples,
        elapsed=time.monotonic() - started,
        found_after=pool.found_after,
        clock="real",
        workers=len(threads),
        steps=pool.steps,
    )


_PARSE = threading.Lock()


@contextmanager
def _one_parse_at_a_time() -> Iterator[None]:
    """Serialise `ast.parse` while the workers run.

    Why: Hypothesis reads the source of rules and lambdas (`inspect.getsource`, which parses
    the file) to describe them, and CPython 3.11's parser is not safe to enter from two
    threads at once: it fails with "SystemError: AST constructor recursion depth mismatch".
    Parsing is rare and quick, so one at a time costs nothing measurable.
    """
    original = ast.parse

    def parse(*args: Any, **kwargs: Any) -> Any:
        with _PARSE:
            return original(*args, **kwargs)

    ast.parse = parse
    try:
        yield
    finally:
        ast.parse = original


def _size(divergence: Divergence) -> int:
    return len(divergence.transcript.steps) if divergence.transcript is not None else 0
