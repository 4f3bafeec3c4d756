"""The real-clock search's workers: one thread each, on a queue of its own.

A real-clock example sleeps almost all of its time, so the search runs many at once. Each
worker runs `search_worker`: short Hypothesis runs with seeds derived from the search's seed and
its number, until the deadline passes or a worker found a divergence, then closes its queue and
returns one `WorkerReport` (its cases and operations counted by the machine).

Why threads and not processes: measured on two cores (`bench/realclock.py`), twelve workers on
the Python example driver used 1.9 s of this process's CPU in a 30 s search; the rest was
sleeping. Worker processes sent the same number of operations (2,798 against 2,888 for
threads), and would add a pickling rule for every opener and a ``__main__`` guard for every
script that runs a search. For a backend in another process (``exec:``, a server) the
parallelism is bounded by the sleeps, not by the interpreter lock. An in-process queue shares
the lock with its search: eight real-clock selftest entries of four workers each at once (40
threads) made single calls take up to 5 s, so `mqspec selftest --real-clock` runs two entries
at once by default.

Rule: imports the machine runner; no front end.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

import attrs

from mqspec.adapters.base import QueueAdapter
from mqspec.conformance.core.machine_search import (
    divergence_of,
    found_violations,
    run_machine,
    shrink_budget,
)
from mqspec.conformance.core.profiles import Profile
from mqspec.conformance.core.results import Divergence
from mqspec.conformance.core.statemachine import QueueMachine, machine_for
from mqspec.reference.types import Finding

__all__ = [
    "BATCH",
    "Binder",
    "CaseDropped",
    "Opener",
    "WorkerReport",
    "WorkerTask",
    "run_workers",
    "search_worker",
]

BATCH = 2  # examples per Hypothesis run inside a worker, between checks of the deadline

Opener = Callable[[], tuple[QueueAdapter, Callable[[], None]]]
"""Opens one more queue of the same kind, each in a namespace of its own, with its cleanup."""

Binder = Callable[[QueueAdapter], AbstractContextManager[type[QueueMachine]]]
"""Builds the machine class one worker runs on its open queue, and undoes what it built on
exit: the faults phase wraps each worker's queue in a fault rig of its own this way."""


@attrs.frozen
class WorkerTask:
    """What one worker needs: its queue's opener, the machine, its number and the deadline.

    ``deadline`` and ``started`` are `time.monotonic` readings. Without ``bind`` the worker
    runs ``base`` bound to its queue (`machine_for`); with it, the class ``bind`` builds.
    """

    opener: Opener
    base: type[QueueMachine]
    profile: Profile
    url: str
    strict: bool
    seed: int
    number: int
    deadline: float
    started: float
    bind: Binder | None = None
    phase: str = "stateful"  # named in the divergences' sources


@attrs.define
class WorkerReport:
    """What one worker found and ran."""

    number: int
    divergences: list[Divergence] = attrs.Factory(list)
    warnings: list[Finding] = attrs.Factory(list)
    examples: int = 0
    steps: int = 0
    found_after: float | None = None  # seconds from the search's start to its first failure
    dropped: int = 0  # cases dropped unjudged: a call slower than the margin
    dropped_why: str = ""
    dropped_spans: list[tuple[float, float]] = attrs.Factory(list)  # each slow call's times
    error: BaseException | None = None


class CaseDropped(BaseException):
    """A real-clock case dropped unjudged: one of its calls took longer than the margin.

    A `BaseException`, not an `Exception`, because Hypothesis takes an `Exception` for a
    failure to shrink and replay; it lets this through at once. The session has recorded the
    reason (`Session.dropped`) and the machine counted the case before this reached here.
    """


def search_worker(task: WorkerTask, stop: threading.Event) -> WorkerReport:
    """Run one worker's batches until the deadline, a stop, or a divergence; never raises."""
    report = WorkerReport(task.number)
    try:
        adapter, cleanup = task.opener()
    except BaseException as err:  # reported, so the search names the cause
        report.error = err
        stop.set()
        return report
    try:
        if task.bind is not None:
            bound = task.bind(adapter)
        else:
            bound = nullcontext(
                machine_for(adapter, strict=task.strict, url=task.url, base=task.base)
            )
        with bound as machine:
            _search(task, stop, report, machine)
    except BaseException as err:  # reported, so the search names the cause
        report.error = err
        stop.set()
    finally:
        cleanup()
    return report


def _search(
    task: WorkerTask, stop: threading.Event, report: WorkerReport, machine: type[QueueMachine]
) -> None:
    """`search_worker`'s batches of ``machine``, counted into ``report``."""
    machine.drop_slow_cases = True  # a real-clock machine: see RealClockMachine
    batch = 0
    while time.monotonic() < task.deadline and not stop.is_set():
        begun = time.monotonic()
        try:
            found, _, first = run_machine(
                machine,
                attrs.evolve(task.profile, examples=BATCH),
                task.seed * 1_000_003 + task.number * 1009 + batch,
                f"{task.phase}, real clock",
                cap_shrinking=False,
            )
        except CaseDropped:
            # Counted by the machine. A failure an earlier case of this run found is kept,
            # unshrunk (the run that would have shrunk it has ended).
            found = tuple(
                divergence_of(v, f"{task.phase}, real clock (not shrunk: a later case was dropped)")
                for v in found_violations(machine)
            )
            first = machine.failed_at[0] - begun if machine.failed_at else None
        if found:
            report.divergences += found
            if first is not None and report.found_after is None:
                report.found_after = begun - task.started + first
            stop.set()
        batch += 1
    report.examples = machine.cases_run
    report.steps = machine.steps_run
    report.dropped = machine.cases_dropped
    report.dropped_why = machine.dropped_why
    report.dropped_spans = list(machine.dropped_spans)
    for warning in machine.findings:
        if warning not in report.warnings:
            report.warnings.append(warning)


def run_workers(tasks: list[WorkerTask], *, shrink_seconds: float | None) -> list[WorkerReport]:
    """Run every task at once, each in a thread, and return their reports.

    ``shrink_seconds`` caps Hypothesis's shrinking; the cap is process-wide, so it is set once
    around all the threads. None leaves it as it is.
    """
    with shrink_budget(shrink_seconds):
        return _in_threads(tasks)


def _in_threads(tasks: list[WorkerTask]) -> list[WorkerReport]:
    stop = threading.Event()
    reports: list[WorkerReport] = []
    lock = threading.Lock()

    def work(task: WorkerTask) -> None:
        report = search_worker(task, stop)
        with lock:
            reports.append(report)

    threads = [
        threading.Thread(target=work, args=(t,), name=f"mqspec-realclock-{t.number}", daemon=True)
        for t in tasks
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return reports
