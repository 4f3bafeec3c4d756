"""The concurrency check of one queue: random multi-client recordings, then parallel programs.

Responsibility: `run_concurrency`, the one function the engine calls for the concurrency
profile. It (a) records ``rounds`` random histories with
`mqspec.conformance.concurrency.recorder.record` (one thread per client; with a factory, one
adapter and connection per client on the same queue namespace) and judges each with the fast
checker and the exact one, then (b) runs `mqspec.conformance.concurrency.parallel.check_parallel`,
which shrinks a failure to a minimal parallel program. The result, a `ConcurrencyOutcome`, holds
every violation (clause, message, the operations involved), the first failing history for the
report's timeline, the minimal program, and the counts a report needs.

Why both: long random recordings reach states a five-call program never does (many jobs,
restores, the drain after dozens of calls); small programs explain what they find. An exact
verdict of `Undecided` (the budget ran out, or the verdict would hang on timing) is counted and
reported with its reason, never a failure: the checker only says "broken" when it is sure.

Rule: imports the recorder, the two checkers and the parallel runner; no CLI, no pytest, no
report formats (`mqspec.conformance.concurrency.timeline` draws the picture).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import attrs

from mqspec.adapters.base import QueueAdapter
from mqspec.conformance.concurrency import linearize
from mqspec.conformance.concurrency.fastcheck import Anomaly
from mqspec.conformance.concurrency.history import History, Operation
from mqspec.conformance.concurrency.parallel import ParallelResult, check_parallel, judge
from mqspec.conformance.concurrency.programs import Program
from mqspec.conformance.concurrency.recorder import record, switching
from mqspec.reference.clauses import Clause
from mqspec.reference.errors import UsageError

__all__ = [
    "PROFILES",
    "ConcurrencyOutcome",
    "ConcurrencySettings",
    "Violation",
    "run_concurrency",
]


@attrs.frozen(kw_only=True)
class ConcurrencySettings:
    """How much concurrency to try: see `run_concurrency` for each field."""

    clients: int
    ops_per_client: int
    rounds: int
    examples: int
    repeats: int
    budget: float


PROFILES: dict[str, ConcurrencySettings] = {
    # A few seconds on memory://: 3 recordings of 4 x 25 calls, 15 programs run 4 times.
    "quick": ConcurrencySettings(
        clients=4, ops_per_client=25, rounds=3, examples=15, repeats=4, budget=2.0
    ),
    # About a minute on memory://: more clients, longer recordings, more programs and runs.
    "thorough": ConcurrencySettings(
        clients=8, ops_per_client=60, rounds=10, examples=100, repeats=10, budget=10.0
    ),
}
"""Named settings; ``quick`` is the default of `run_concurrency`."""


@attrs.frozen(kw_only=True)
class Violation:
    """One broken clause in one history.

    Attributes:
        clause: the clause broken.
        message: why, naming the jobs.
        operations: the operations involved, as recorded (values, so they stand alone).
        indices: their positions in the history they came from.
        source: which history: ``round 2`` (a random recording) or ``parallel program``.
        checker: ``fastcheck`` (a certain anomaly) or ``linearize`` (no linearization exists;
            the operation is the one that could not be placed).
    """

    clause: Clause
    message: str
    operations: tuple[Operation, ...]
    indices: tuple[int, ...]
    source: str
    checker: str

    def render(self) -> str:
        """Clause first, then where, then each operation on its own line."""
        lines = [f"{self.clause.id} ({self.clause.level}): {self.message} [{self.source}]"]
        lines += [
            f"  op #{i}: {op.describe()}"
            for i, op in zip(self.indices, self.operations, strict=True)
        ]
        return "\n".join(lines)


@attrs.frozen(kw_only=True)
class ConcurrencyOutcome:
    """What `run_concurrency` found.

    Attributes:
        violations: every violation, recordings first, then the minimal parallel program's.
        history: the first failing history (the minimal program's when only it failed).
        anomalies: the violations in ``history``, as `Anomaly` values indexing into it (what
            `mqspec.conformance.concurrency.timeline` highlights).
        program: the minimal failing parallel program, or None.
        parallel: the parallel run's full result.
        histories: histories recorded and checked (recordings and program runs).
        operations: operations in them.
        unknown: (reason, count) of the exact checker's `Undecided` verdicts: not failures.
        elapsed: seconds the whole check took.
        seed: the seed; settings: the settings used.
        found_after: seconds from the start to the first violation (a recording judged, or a
            parallel program's first failing run, before shrinking), or None.
    """

    violations: tuple[Violation, ...]
    history: History | None
    anomalies: tuple[Anomaly, ...]
    program: Program | None
    parallel: ParallelResult
    histories: int
    operations: int
    unknown: tuple[tuple[str, int], ...]
    elapsed: float
    seed: int
    settings: ConcurrencySettings
    found_after: float | None = None

    @property
    def ok(self) -> bool:
        """No violation was found (Undecided verdicts do not count)."""
        return not self.violations

    @property
    def clauses(self) -> tuple[str, ...]:
        """The IDs of the clauses broken, sorted."""
        return tuple(sorted({v.clause.id for v in self.violations}))

    @property
    def unknown_count(self) -> int:
        """How many histories the exact checker could not decide."""
        return sum(n for _, n in self.unknown)


def _violations(
    history: History,
    anomalies: tuple[Anomaly, ...],
    verdict: linearize.Result | None,
    source: str,
) -> tuple[tuple[Violation, ...], tuple[Anomaly, ...]]:
    """The history's violations, and the same as anomalies indexing into it."""
    if not anomalies and isinstance(verdict, linearize.NotLinearizable):
        finding = verdict.finding
        message = finding.message
        if finding.observed:
            message += f" (observed: {finding.observed})"
        anomalies = (Anomaly(finding.clause, message, (verdict.operation,)),)
        checker = "linearize"
    else:
        checker = "fastcheck"
    ops = history.operations
    found = tuple(
        Violation(
            clause=a.clause,
            message=a.message,
            operations=tuple(ops[i] for i in a.operations),
            indices=a.operations,
            source=source,
            checker=checker,
        )
        for a in anomalies
    )
    return found, anomalies


def run_concurrency(
    adapter: QueueAdapter,
    *,
    factory: Callable[[], QueueAdapter] | None = None,
    seed: int = 0,
    profile: str = "quick",
    clients: int | None = None,
    ops_per_client: int | None = None,
    rounds: int | None = None,
    examples: int | None = None,
    repeats: int | None = None,
    budget: float | None = None,
    timeout: float = 60.0,
) -> ConcurrencyOutcome:
    """Check ``adapter`` under concurrent clients; see the module docstring.

    Args:
        adapter: the queue. Without ``factory`` every client shares it, so it must be
            thread-safe (memory://, exec: serialise calls with a lock).
        factory: opens another adapter on the same queue namespace (the same URL again): each
            client then has its own connection, as real workers do. The adapters it opens are
            closed here; ``adapter`` is not.
        seed: seeds the recordings (round r uses ``seed * 1000 + r``) and Hypothesis.
        profile: ``quick`` or ``thorough`` (`PROFILES`); the arguments below override it.
        clients: threads per recording; ops_per_client: calls each makes.
        rounds: random recordings. Odd rounds make every client wait for the others every 5
            calls (quiescent points the exact checker cuts at); with virtual time every third
            round delays a tenth of its pushes.
        examples: parallel programs; repeats: runs of each.
        budget: seconds the exact checker may spend on one history before answering Undecided.
        timeout: seconds one recording may take; calls still running are Unknown.

    Returns:
        A `ConcurrencyOutcome`; ``ok`` when no violation was found.

    Raises:
        UsageError: an unknown profile or a bad setting.
        DriverError: the queue could not be opened, reset or closed.
    """
    if profile not in PROFILES:
        raise UsageError(f"unknown concurrency profile {profile!r}; known: {', '.join(PROFILES)}")
    overrides: dict[str, Any] = {
        "clients": clients,
        "ops_per_client": ops_per_client,
        "rounds": rounds,
        "examples": examples,
        "repeats": repeats,
        "budget": budget,
    }
    chosen = attrs.evolve(
        PROFILES[profile], **{k: v for k, v in overrides.items() if v is not None}
    )
    if chosen.rounds < 0 or chosen.budget <= 0:
        raise UsageError(f"need rounds >= 0 and budget > 0, got {chosen.rounds}, {chosen.budget}")
    started = time.monotonic()
    target: QueueAdapter | Callable[[], QueueAdapter] = factory or adapter
    caps = adapter.capabilities
    virtual = caps.virtual_time
    # On the queue's own clock the drain waits for real deadlines: only when they are short.
    drain = virtual or caps.reservation_timeout + caps.slack <= 2.0
    violations: list[Violation] = []
    first: tuple[History, tuple[Anomaly, ...]] | None = None
    counts = Counter[str]()
    histories = operations = 0
    found_after: float | None = None
    with switching():
        for r in range(chosen.rounds):
            history = record(
                target,
                clients=chosen.clients,
                ops_per_client=chosen.ops_per_client,
                seed=seed * 1000 + r,
                timeout=timeout,
                barrier_every=5 if r % 2 else None,
                delay_rate=0.1 if virtual and r % 3 == 2 else 0.0,
                drain=drain,
            )
            histories += 1
            operations += len(history)
            anomalies, verdict = judge(history, chosen.budget)
            if isinstance(verdict, linearize.Undecided):
                counts[verdict.reason] += 1
            found, marked = _violations(history, anomalies, verdict, f"round {r}")
            violations += found
            if found and first is None:
                first = (history, marked)
                found_after = time.monotonic() - started
        parallel_started = time.monotonic() - started
        parallel = check_parallel(
            target,
            examples=chosen.examples,
            repeats=chosen.repeats,
            seed=seed,
            budget=chosen.budget,
        )
    histories += parallel.histories
    operations += parallel.operations
    counts.update(dict(parallel.unknown))
    if parallel.history is not None:
        found, marked = _violations(
            parallel.history, parallel.anomalies, parallel.verdict, "parallel program"
        )
        violations += found
        if first is None:
            first = (parallel.history, marked)
    if found_after is None and parallel.found_after is not None:
        found_after = parallel_started + parallel.found_after
    return ConcurrencyOutcome(
        violations=tuple(violations),
        history=first[0] if first else None,
        anomalies=first[1] if first else (),
        program=parallel.program,
        parallel=parallel,
        histories=histories,
        operations=operations,
        unknown=tuple(sorted(counts.items())),
        elapsed=time.monotonic() - started,
        seed=seed,
        settings=chosen,
        found_after=found_after,
    )
