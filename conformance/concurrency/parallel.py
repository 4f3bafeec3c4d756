"""Small parallel programs against one queue, generated and shrunk by Hypothesis.

Responsibility: QuickCheck's parallel state machines for the MessageQueue contract. A
`Program` is a short sequential prefix, then 2-3 branches that run at the same time, one
thread each, released together by a barrier. `check_parallel` draws programs with `programs`,
runs each one ``repeats`` times on a freshly reset queue (a race shows in some interleavings
only), records every run as a `History` (spec/history-format.md: one monotonic clock,
invocation and completion, Unknown for a call still running at the timeout, a final drain),
and judges it with `mqspec.conformance.concurrency.fastcheck.find_anomalies` and
`mqspec.conformance.concurrency.linearize.check`. On a failure Hypothesis shrinks the program;
the smallest failing program seen, its failing history and the findings come back in a
`ParallelResult`. A run records through the same `Recorder`, clients and drain as
`mqspec.conformance.concurrency.recorder.record`.

Why small programs: a random 200-call recording finds a race but explains it badly; a
program of five calls in two branches that fails one run in ten is a reproducer a developer
can read. An `Undecided` verdict of the exact checker (budget, or a history whose verdict would
hang on timing) is counted, never a failure.

Rule: imports the adapter protocol, Hypothesis, the recorder and its client helpers, the
history values and the two checkers; no pytest, no CLI.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from contextlib import suppress
from typing import Any

import attrs
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.errors import Flaky

from mqspec.adapters.base import QueueAdapter, Task
from mqspec.conformance.concurrency import linearize
from mqspec.conformance.concurrency.clients import (
    client_adapters,
    reset_queue,
    serves_one_call_at_a_time,
)
from mqspec.conformance.concurrency.fastcheck import Anomaly, find_anomalies
from mqspec.conformance.concurrency.history import History
from mqspec.conformance.concurrency.programs import (
    Delete,
    Instruction,
    Program,
    Push,
    Reserve,
    instructions,
    programs,
)
from mqspec.conformance.concurrency.recorder import (
    CallClock,
    Clock,
    Recorder,
    drain_queue,
    switching,
)
from mqspec.reference.errors import UsageError
from mqspec.reference.types import Ok

__all__ = [
    "Delete",
    "ParallelResult",
    "Program",
    "Push",
    "Reserve",
    "check_parallel",
    "judge",
    "programs",
    "run_program",
]


def _branch(
    run: Recorder,
    client: int,
    adapter: QueueAdapter,
    program: Program,
    calls: tuple[Instruction, ...],
) -> None:
    held: list[Task] = []
    for s in calls:
        if isinstance(s, Push):
            run.call(client, adapter, "push", s.task())
        elif isinstance(s, Reserve):
            outcome = run.call(client, adapter, "reserve", None)
            got = outcome.value if isinstance(outcome, Ok) else None
            if isinstance(got, dict) and isinstance(got.get("id"), str):
                held.append(got)
        elif s.id is not None:
            run.call(client, adapter, "delete", program.pushed_task(s.id))
        elif held:
            run.call(client, adapter, "delete", held.pop())


def run_program(
    adapters: list[QueueAdapter],
    program: Program,
    *,
    virtual: bool = True,
    timeout: float = 10.0,
    drain: bool = True,
) -> History:
    """Run ``program`` once on a freshly reset queue and return its history.

    Args:
        adapters: one per branch (or the same thread-safe adapter repeated); the first runs
            the prefix, the reset and the drain.
        program: the prefix and branches to run.
        virtual: give each call ``now`` = its invocation time (else ``now=None``, the queue's
            own clock).
        timeout: seconds the branches may take; calls still running then are Unknown.
        drain: end with a drain past every deadline and delay (MQ-LOSS-1).

    Raises:
        UsageError: fewer adapters than branches.
        DriverError: the queue failed to reset, or a call raised a harness error.
    """
    if len(adapters) < len(program.branches):
        raise UsageError(f"need {len(program.branches)} adapters, got {len(adapters)}")
    first = adapters[0]
    reset_queue(first, 0.0 if virtual else None)
    clock = CallClock(time.monotonic(), virtual, serves_one_call_at_a_time(first))
    run = Recorder(len(program.branches), clock)
    _branch(run, 0, first, program, program.prefix)

    def branch(client: int) -> None:
        run.gate.wait(timeout)
        _branch(run, client, adapters[client], program, program.branches[client])

    operations = run.run(branch, "mqspec-branch", timeout)
    caps = first.capabilities
    if drain:
        delay = max((s.delay for s in instructions(program) if isinstance(s, Push)), default=0)
        horizon = caps.reservation_timeout + delay + caps.slack
        mode: Clock = "virtual" if virtual else "queue"
        operations += drain_queue(
            first, operations, clock.start, mode, horizon, len(program.branches)
        )
    operations.sort(key=lambda o: (o.invoke, o.client))
    meta = {"program": program.render(), "adapter": type(first).__name__}
    return History(
        capabilities=caps,
        operations=operations,
        clock="virtual" if virtual else "queue",
        meta=meta,
    )


def judge(history: History, budget: float) -> tuple[tuple[Anomaly, ...], linearize.Result]:
    """The fast checker's anomalies, confirmed, and the exact checker's verdict.

    A history fails only where no linearization explains it. The fast checker is the cheap
    first look and names the operations involved; the exact search decides. So anomalies come
    back only with a `NotLinearizable` verdict. When the search finds a witness, the fast
    checker was wrong and nothing is reported as a failure; when it cannot decide within its
    budget, the verdict is an `Undecided` saying the finding is unconfirmed, which is counted
    and reported, never a failure. A search that found no linearization among the instants it
    tries, in a history that is not time-separated, confirms the fast checker's finding (whose
    argument holds at any instants), and its failure comes back as the verdict.
    """
    anomalies = find_anomalies(history)
    # Confirming a finding may take longer than clearing a history, and it is rare: the search
    # gets five times the budget then.
    verdict = linearize.check(history, budget=budget * 5 if anomalies else budget)
    if not anomalies or isinstance(verdict, linearize.NotLinearizable):
        return anomalies, verdict
    if isinstance(verdict, linearize.Undecided) and verdict.failure is not None:
        # The search found no linearization at any instant that matters; it answers Undecided
        # only because thresholds fall inside windows (not time-separated). The fast
        # checker's argument holds on any instants, so the two agree: confirmed.
        return anomalies, verdict.failure
    named = ", ".join(sorted({a.clause.id for a in anomalies}))
    if isinstance(verdict, linearize.Linearizable):
        # A witness refutes the finding: a fast-checker bug, shown rather than failed on.
        why = f"fast checker finding ({named}) refuted by a linearization"
    else:
        why = f"fast checker finding ({named}) unconfirmed: {verdict.reason}"
    return (), linearize.Undecided(why, verdict.nodes)


@attrs.frozen(kw_only=True)
class ParallelResult:
    """What `check_parallel` found.

    Attributes:
        program: the smallest failing program seen (after shrinking), or None.
        history: a failing history of that program, or None.
        anomalies: the fast checker's anomalies in ``history`` (indices into it), each
            confirmed by the exact checker.
        verdict: the exact checker's `NotLinearizable` for the failure, else None.
        programs: programs run; histories: histories recorded and checked; operations: the
            operations in them.
        unknown: (reason, count) of the exact checker's `Undecided` verdicts (not failures).
        seed: the seed the run used.
        found_after: seconds from the start to the first failing run (before shrinking), or
            None when no run failed.
    """

    program: Program | None = None
    history: History | None = None
    anomalies: tuple[Anomaly, ...] = ()
    verdict: linearize.NotLinearizable | None = None
    programs: int = 0
    histories: int = 0
    operations: int = 0
    unknown: tuple[tuple[str, int], ...] = ()
    seed: int = 0
    found_after: float | None = None

    @property
    def ok(self) -> bool:
        """No failing program was found."""
        return self.program is None

    @property
    def clause(self) -> str | None:
        """The clause ID of the failure: the first anomaly's, or the verdict's."""
        if self.anomalies:
            return self.anomalies[0].clause.id
        return self.verdict.clause.id if self.verdict is not None else None

    @property
    def unknown_count(self) -> int:
        """How many histories the exact checker could not decide."""
        return sum(n for _, n in self.unknown)


class _Failed(Exception):
    """Raised inside the Hypothesis test so that it shrinks the program."""


def check_parallel(
    target: QueueAdapter | Callable[[], QueueAdapter],
    *,
    examples: int = 20,
    repeats: int = 5,
    seed: int = 0,
    budget: float = 1.0,
    timeout: float = 10.0,
    clock: str | None = None,
    max_branches: int = 3,
    max_drain_wait: float = 2.0,
    shrink_factor: int = 3,
) -> ParallelResult:
    """Run ``examples`` parallel programs ``repeats`` times each and return the smallest failure.

    Args:
        target: a thread-safe adapter shared by every branch, or a factory called once per
            branch for adapters on one shared queue (as in
            `mqspec.conformance.concurrency.recorder.record`;
            the first is reset before each run, all are closed at the end).
        examples: programs Hypothesis generates (shrinking runs more).
        repeats: runs of each program, each on a fresh reset queue.
        seed: seeds Hypothesis (the database is off, so runs do not depend on earlier ones).
        budget: seconds the exact checker may spend on one history before answering Undecided.
        timeout: seconds one run's branches may take; calls still running are Unknown.
        clock: ``virtual`` or ``queue``; default from the queue's ``virtual_time``.
        max_branches: 2 or 3 branches at most.
        max_drain_wait: on the queue clock, the drain is left out when it would wait longer.
        shrink_factor: once a program failed, each smaller candidate runs this many times
            ``repeats`` (a race in a smaller program may show less often).

    Returns:
        A `ParallelResult`; ``ok`` when no run of any program failed.

    Raises:
        UsageError: a bad argument. DriverError: the queue could not be opened or reset.
    """
    if examples < 1 or repeats < 1 or max_branches not in (2, 3):
        raise UsageError(
            f"need examples >= 1, repeats >= 1 and max_branches 2 or 3, "
            f"got {examples}, {repeats}, {max_branches}"
        )
    with client_adapters(target, max_branches) as adapters:
        caps = adapters[0].capabilities
        mode = clock or ("virtual" if caps.virtual_time else "queue")
        if mode not in ("virtual", "queue") or (mode == "virtual" and not caps.virtual_time):
            raise UsageError(
                f"clock must be 'virtual' (with virtual_time) or 'queue', got {mode!r}"
            )
        virtual = mode == "virtual"
        drain = virtual or caps.reservation_timeout + caps.slack <= max_drain_wait
        counts = Counter[str]()
        tally = {"programs": 0, "histories": 0, "operations": 0}
        best: list[tuple[Program, History, tuple[Anomaly, ...], Any]] = []
        verdicts: dict[Program, bool] = {}
        started = time.monotonic()
        first_failure: list[float] = []  # when the first run failed, before any shrinking

        def fails(program: Program) -> bool:
            # One verdict per program: a race fails some runs only, and Hypothesis stops
            # shrinking (Flaky) when a program it saw pass fails on a second visit.
            if program in verdicts:
                return verdicts[program]
            tally["programs"] += 1
            verdicts[program] = False
            # While shrinking, a smaller program gets more runs to show the race it may hold.
            for _ in range(repeats * (shrink_factor if best else 1)):
                history = run_program(
                    adapters, program, virtual=virtual, timeout=timeout, drain=drain
                )
                tally["histories"] += 1
                tally["operations"] += len(history)
                anomalies, verdict = judge(history, budget)
                if isinstance(verdict, linearize.Undecided):
                    counts[verdict.reason] += 1
                if anomalies or isinstance(verdict, linearize.NotLinearizable):
                    verdicts[program] = True
                    if not first_failure:
                        first_failure.append(time.monotonic() - started)
                    if not best or program.size <= best[0][0].size:
                        best[:] = [(program, history, anomalies, verdict)]
                    break
            return verdicts[program]

        @settings(
            max_examples=examples,
            database=None,
            deadline=None,
            derandomize=False,
            phases=(Phase.generate, Phase.shrink),
            suppress_health_check=list(HealthCheck),
            report_multiple_bugs=False,
            verbosity=Verbosity.quiet,
        )
        @hypothesis_seed(seed)
        @given(programs(delays=virtual, max_branches=max_branches))
        def test(program: Program) -> None:
            if fails(program):
                raise _Failed  # one place: Hypothesis tells failures apart by where they rose

        # The smallest failing program is kept in `best`: a race may not fail again when
        # Hypothesis replays its final example, which it reports as Flaky.
        with switching(), suppress(_Failed, Flaky):
            test()
    program, history, anomalies, verdict = best[0] if best else (None, None, (), None)
    return ParallelResult(
        program=program,
        history=history,
        anomalies=anomalies,
        verdict=verdict,
        programs=tally["programs"],
        histories=tally["histories"],
        operations=tally["operations"],
        unknown=tuple(sorted(counts.items())),
        seed=seed,
        found_after=first_failure[0] if first_failure else None,
    )
