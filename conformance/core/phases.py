"""The search phases a profile runs after the scenarios, each ending in one `PhaseDone`.

The state machine on virtual time (`stateful_phase`) or on the queue's own clock
(`realtime_phase`, the parallel search of `mqspec.conformance.core.realclock`), the machine
with injected faults (`faults_phase`), the machine on a queue in a process killed at random
(`crash_phase`), and several clients at once (`concurrency_phase`). Which of them a profile
runs, and in what order, is the engine's choice (`mqspec.conformance.core.engine.run_search`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode

import attrs

from mqspec.adapters.base import QueueAdapter
from mqspec.adapters.registry import NAMESPACED, open_adapter
from mqspec.conformance.concurrency.check import run_concurrency
from mqspec.conformance.core.events import Phase, PhaseDone
from mqspec.conformance.core.machine_search import run_machine
from mqspec.conformance.core.profiles import Profile
from mqspec.conformance.core.realclock import (
    DEFAULT_WORKERS,
    Binder,
    Opener,
    RealClockMachine,
    run_realtime_search,
)
from mqspec.conformance.core.results import ConcurrencySummary, Divergence
from mqspec.conformance.core.statemachine import QueueMachine, machine_for
from mqspec.conformance.faults.crash import CrashingQueue, crash_machine_for, restart_program
from mqspec.conformance.faults.runs import FaultRig, FaultStats
from mqspec.reference.types import Finding

__all__ = [
    "CRASH_BUDGET",
    "clocked",
    "concurrency_phase",
    "crash_phase",
    "faults_phase",
    "realtime_phase",
    "scheme_of",
    "stateful_phase",
]


def scheme_of(url: str) -> str:
    """The URL's scheme, lower-cased (``exec`` for ``exec:./driver``)."""
    return url.partition(":")[0].lower()


def clocked(profile: Profile, realtime: bool) -> Profile:
    """``profile`` as run on the real clock: fewer, shorter examples (each one sleeps)."""
    if not realtime:
        return profile
    return attrs.evolve(
        profile,
        examples=max(4, profile.examples // 5),
        steps=profile.realtime_steps,
        shrink_seconds=profile.realtime_shrink,
    )


def _on_clock(machine: type[QueueMachine], realtime: bool) -> type[QueueMachine]:
    """``machine`` with the real-clock time rules (short delays and advances) when needed."""
    if not realtime:
        return machine
    return type(machine.__name__, (RealClockMachine, machine), {})


def stateful_phase(
    adapter: QueueAdapter, profile: Profile, url: str, strict: bool, seed: int
) -> PhaseDone:
    """The state machine on virtual time, on ``adapter``."""
    machine = machine_for(adapter, strict=strict, url=url)
    divergences, elapsed, found = run_machine(machine, profile, seed, "stateful")
    return PhaseDone(
        "stateful",
        divergences,
        tuple(machine.findings),
        examples=profile.examples,
        elapsed=elapsed,
        found_after=found,
    )


def realtime_phase(
    adapter: QueueAdapter,
    profile: Profile,
    url: str,
    strict: bool,
    seed: int,
    open_queue: Opener | None,
    budget: float | None,
    workers: int | None,
    bind: Binder | None = None,
    phase: Phase = "stateful",
) -> PhaseDone:
    """The state machine on the queue's own clock, with parallel workers and a budget;
    ``bind`` and ``phase`` as for `run_realtime_search` (the faults phase passes them)."""
    if open_queue is None:
        # One worker on the adapter the caller opened (and closes).
        def open_queue() -> tuple[QueueAdapter, Callable[[], None]]:
            return adapter, lambda: None

        workers = 1
    chosen = attrs.evolve(
        profile, steps=profile.realtime_steps, shrink_seconds=profile.realtime_shrink
    )
    return run_realtime_search(
        open_queue,
        chosen,
        url=url,
        strict=strict,
        seed=seed,
        budget=budget if budget is not None else profile.realtime_budget,
        workers=workers if workers is not None else DEFAULT_WORKERS,
        bind=bind,
        phase=phase,
    )


def faults_phase(
    adapter: QueueAdapter,
    profile: Profile,
    opened_url: str,
    strict: bool,
    seed: int,
    realtime: bool = False,
    open_queue: Opener | None = None,
    budget: float | None = None,
    workers: int | None = None,
) -> PhaseDone:
    """The state machine with injected faults, on ``adapter``'s own namespace.

    On the real clock the faults machine runs like the real-clock search (`realtime_phase`):
    ``workers`` at once for ``budget`` seconds, each with a fault rig of its own around a
    queue ``open_queue`` opens (one worker on ``adapter`` without it). Run one after another,
    a handful of sleeping examples found none of the fault mutants the virtual-time run finds.
    """
    if realtime:
        return _faults_on_the_real_clock(
            adapter, profile, opened_url, strict, seed, open_queue, budget, workers
        )
    with FaultRig(adapter, opened_url, seed=seed) as rig:
        machine = rig.machine(strict)
        divergences, elapsed, found = run_machine(machine, profile, seed, "faults")
        stats = rig.stats
    return PhaseDone(
        "faults",
        divergences,
        tuple(machine.findings),
        examples=profile.examples,
        elapsed=elapsed,
        found_after=found,
        faults=stats,
    )


def _faults_on_the_real_clock(
    adapter: QueueAdapter,
    profile: Profile,
    opened_url: str,
    strict: bool,
    seed: int,
    open_queue: Opener | None,
    budget: float | None,
    workers: int | None,
) -> PhaseDone:
    rigs: list[FaultRig] = []
    lock = threading.Lock()

    @contextmanager
    def bind(queue: QueueAdapter) -> Iterator[type[QueueMachine]]:
        # The worker's own namespace: a server URL's queue= names the first adapter's.
        with FaultRig(queue, _on_namespace_of(queue, opened_url), seed=seed) as rig:
            with lock:
                rigs.append(rig)
            yield _on_clock(rig.machine(strict), True)

    done = realtime_phase(
        adapter, profile, opened_url, strict, seed, open_queue, budget, workers, bind, "faults"
    )
    return attrs.evolve(done, faults=FaultStats.merged([rig.stats for rig in rigs]))


def _on_namespace_of(queue: QueueAdapter, url: str) -> str:
    """``url`` naming ``queue``'s namespace where the adapter says it (``queue.queue``)."""
    name = getattr(queue, "queue", None)
    if not isinstance(name, str):
        return url
    # Split by hand: urlunsplit would turn sqlite:////abs/path into sqlite://abs/path.
    base, _, old = url.partition("?")
    query = [(k, v) for k, v in parse_qsl(old, keep_blank_values=True) if k != "queue"]
    return f"{base}?{urlencode([*query, ('queue', name)])}"


def crash_phase(
    url: str,
    profile: Profile,
    strict: bool,
    seed: int,
    realtime: bool = False,
    open_queue: Opener | None = None,
    budget: float | None = None,
    workers: int | None = None,
) -> PhaseDone:
    """The fixed restart program (`restart_program`), then the state machine on ``url``
    reopened in a host process that is killed at random.

    On the real clock the restart takes real time, which the model counts like any other, and
    the machine runs like the real-clock search: ``workers`` at once for ``budget`` seconds
    (`CRASH_BUDGET` by default), each killing a host process of its own, when ``url``'s
    scheme gives each worker a namespace of its own (SQLite: ``open_queue`` opens one, and the
    worker's host reopens that namespace); else one worker, on ``url`` itself (the processes
    of an ``exec:`` or ``py:`` queue may share one store).
    """
    started = time.monotonic()
    fixed = CrashingQueue(url)
    try:
        first = restart_program(fixed, strict=strict, realtime=realtime)
    finally:
        fixed.close()
    took = time.monotonic() - started
    if realtime:
        done = _crashes_on_the_real_clock(url, profile, strict, seed, open_queue, budget, workers)
        return _after_restart_program(done, first, took, fixed.restarts)
    queue = CrashingQueue(url)
    try:
        machine = _on_clock(crash_machine_for(queue, strict=strict), realtime)
        divergences, elapsed, found = run_machine(machine, profile, seed, "crash")
    finally:
        queue.close()
    done = PhaseDone(
        "crash",
        divergences,
        tuple(machine.findings),
        examples=profile.examples,
        elapsed=elapsed,
        found_after=found,
        restarts=queue.restarts,
        cuts=queue.cuts,
    )
    return _after_restart_program(done, first, took, fixed.restarts)


def _after_restart_program(
    done: PhaseDone, first: Divergence | None, took: float, restarts: int
) -> PhaseDone:
    """The crash search's ``done`` with the fixed restart program that ran before it (for
    ``took`` seconds, finding ``first``): its divergence first, unless the search broke the
    same clause with a program of its own; its time and restart counted in."""
    divergences = done.divergences
    found = None if done.found_after is None else took + done.found_after
    if first is not None:
        found = took
        if all(d.clause != first.clause for d in divergences):
            divergences = (first, *divergences)
    return attrs.evolve(
        done,
        divergences=divergences,
        elapsed=done.elapsed + took,
        found_after=found,
        restarts=done.restarts + restarts,
    )


CRASH_BUDGET = 30.0
"""Seconds the crash machine searches on the real clock unless told: it follows another
search (quick's crash check, the faults phase), and each case restarts a process."""


def _crashes_on_the_real_clock(
    url: str,
    profile: Profile,
    strict: bool,
    seed: int,
    open_queue: Opener | None,
    budget: float | None,
    workers: int | None,
) -> PhaseDone:
    hosts: list[CrashingQueue] = []
    lock = threading.Lock()
    if open_queue is None or scheme_of(url) not in NAMESPACED:
        # No namespace of its own per worker: one worker, on the URL itself.
        def open_queue() -> tuple[Any, Callable[[], None]]:
            return None, lambda: None

        workers = 1

    @contextmanager
    def bind(queue: QueueAdapter | None) -> Iterator[type[QueueMachine]]:
        # The worker's own namespace, reopened in a host process the machine kills.
        host = CrashingQueue(url if queue is None else _on_namespace_of(queue, url))
        with lock:
            hosts.append(host)
        try:
            yield _on_clock(crash_machine_for(host, strict=strict), True)
        finally:
            host.close()

    chosen = attrs.evolve(
        profile, steps=profile.realtime_steps, shrink_seconds=profile.realtime_shrink
    )
    done = run_realtime_search(
        open_queue,
        chosen,
        url=url,
        strict=strict,
        seed=seed,
        budget=budget if budget is not None else CRASH_BUDGET,
        workers=workers if workers is not None else DEFAULT_WORKERS,
        bind=bind,
        phase="crash",
    )
    return attrs.evolve(
        done, restarts=sum(h.restarts for h in hosts), cuts=sum(h.cuts for h in hosts)
    )


def concurrency_phase(
    adapter: QueueAdapter, profile: Profile, opened_url: str, seed: int
) -> PhaseDone:
    """Clients at once on ``adapter``'s queue; the first violation becomes the divergence."""
    factory = None
    if scheme_of(opened_url) in NAMESPACED:
        # One connection per client, on the namespace the run already owns.
        def factory() -> QueueAdapter:
            return open_adapter(opened_url)

    outcome = run_concurrency(adapter, factory=factory, seed=seed, profile=profile.concurrency)
    divergences: tuple[Divergence, ...] = ()
    if outcome.violations:
        first = outcome.violations[0]
        finding = Finding(
            first.clause,
            first.message,
            allowed=f"a history some order of the operations explains ({first.checker})",
            observed="\n".join(
                f"op #{i}: {op.describe()}"
                for i, op in zip(first.indices, first.operations, strict=True)
            ),
        )
        divergence = Divergence(
            finding,
            f"concurrency: {first.source}",
            None,
            history=outcome.history,
            anomalies=outcome.anomalies,
        )
        divergences = (divergence,)
    program = outcome.program
    summary = ConcurrencySummary(
        histories=outcome.histories,
        operations=outcome.operations,
        programs=outcome.parallel.programs,
        unknown=outcome.unknown,
        elapsed=outcome.elapsed,
        clients=outcome.settings.clients,
        minimal_program="" if program is None else program.render(),
        program_size=0 if program is None else program.size,
    )
    return PhaseDone(
        "concurrency",
        divergences,
        elapsed=outcome.elapsed,
        found_after=outcome.found_after,
        concurrency=summary,
        violations=tuple(Finding(v.clause, v.message) for v in outcome.violations),
    )
