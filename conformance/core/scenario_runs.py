"""Running the fixed scenarios: each case in a fresh session; on the real clock, many at once.

On virtual time the 27 scenarios take well under a second. On the real clock every case
sleeps through its timeouts and delays (about 34 s in all with a reservation timeout of 1 s,
no case longer than about 3.5 s), and the real-clock search could not start before they
ended. So on the real clock, given an opener, the cases run in worker threads, each worker on
a queue of its own (as the real-clock search's workers are), and the scenarios still come out
one `ScenarioDone` each, in their fixed order, each as soon as its cases and those of every
scenario before it are done. A case that starts on another worker's queue is judged exactly
as it would be on the caller's: every case resets its queue first.

Rule: imports the session and the scenarios; no search, no front end.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from mqspec.adapters.base import QueueAdapter
from mqspec.conformance.core.events import ScenarioDone
from mqspec.conformance.core.machine_search import divergence_of
from mqspec.conformance.core.realclock_workers import Opener
from mqspec.conformance.core.results import Divergence, Status
from mqspec.conformance.core.scenarios import Scenario
from mqspec.conformance.core.session import Session, SlowCall
from mqspec.conformance.core.violations import ContractViolation
from mqspec.reference.types import Capabilities, Finding

__all__ = ["SLOW_CALL_RETRIES", "run_case", "run_scenario", "run_scenarios"]

SLOW_CALL_RETRIES = 2
"""Times a scenario case is run again after a call slower than the real-clock margin (on a
loaded machine); the last such call ends the run with its `SlowCall` error."""

Outcome = Session | ContractViolation
"""How one case ended: the session it ended in, or the violation it met."""

Case = Callable[[Session], None]


def run_scenarios(
    adapter: QueueAdapter,
    scenarios: Iterable[Scenario],
    url: str,
    strict: bool,
    *,
    realtime: bool = False,
    open_queue: Opener | None = None,
    workers: int = 1,
) -> Iterator[ScenarioDone]:
    """One `ScenarioDone` per scenario, in order.

    On the real clock with ``open_queue`` and more than one worker, the cases run ``workers``
    at once, each worker on a queue ``open_queue`` opens and closes at the end; otherwise one
    after another on ``adapter``.

    Raises:
        DriverError: the backend could not be driven (the first such error in scenario
            order; the cases not yet started are not run).
    """
    if not realtime or open_queue is None or workers <= 1:
        for item in scenarios:
            yield run_scenario(adapter, item, url, strict, realtime=realtime)
        return
    yield from _in_parallel(adapter.capabilities, list(scenarios), url, strict, open_queue, workers)


def run_scenario(
    adapter: QueueAdapter, item: Scenario, url: str, strict: bool, *, realtime: bool = False
) -> ScenarioDone:
    """Run every case of one scenario on ``adapter``, each in a fresh session.

    Status: ``fail`` when a case broke a clause (every distinct clause broken is kept, so one
    bug does not hide another), else ``warn`` with the SHOULD findings, else ``pass``; ``skip``
    when the queue lacks a capability the scenario needs.
    """
    caps = adapter.capabilities
    reason = item.skip_reason(caps)
    if reason:
        return ScenarioDone(item, "skip", reason)
    runs = item.runs(caps)
    outcomes = [run_case(adapter, body, url, strict, realtime) for _, body in runs]
    return _judged(item, [label for label, _ in runs], outcomes)


def _in_parallel(
    caps: Capabilities,
    scenarios: list[Scenario],
    url: str,
    strict: bool,
    open_queue: Opener,
    workers: int,
) -> Iterator[ScenarioDone]:
    local = threading.local()
    opened: list[Callable[[], None]] = []
    lock = threading.Lock()

    def on_own_queue(body: Case) -> Outcome:
        queue = getattr(local, "queue", None)
        if queue is None:
            queue, close = open_queue()
            with lock:
                opened.append(close)
            local.queue = queue
        return run_case(queue, body, url, strict, True)

    runs = [(item, item.runs(caps)) for item in scenarios if not item.skip_reason(caps)]
    size = min(workers, sum(len(cases) for _, cases in runs)) or 1
    pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="mqspec-scenario")
    try:
        futures = {
            item.name: [pool.submit(on_own_queue, body) for _, body in cases]
            for item, cases in runs
        }
        for item in scenarios:
            reason = item.skip_reason(caps)
            if reason:
                yield ScenarioDone(item, "skip", reason)
                continue
            labels = [label for label, _ in item.runs(caps)]
            yield _judged(item, labels, _results(futures[item.name]))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        for close in opened:
            close()


def _results(futures: Sequence[Future[Outcome]]) -> list[Outcome]:
    """The outcomes of one scenario's cases, waiting for each; a case's error is raised."""
    return [future.result() for future in futures]


def _judged(item: Scenario, labels: Sequence[str], outcomes: Sequence[Outcome]) -> ScenarioDone:
    """The scenario's verdict from its cases' outcomes (``labels`` in the same order)."""
    divergences: list[Divergence] = []
    warnings: list[Finding] = []
    broken: list[str] = []
    clean = 0
    for label, outcome in zip(labels, outcomes, strict=True):
        if isinstance(outcome, ContractViolation):
            broken.append(label or item.name)
            if all(d.clause != outcome.finding.clause for d in divergences):
                source = f"scenario {item.name}" + (f" [{label}]" if label else "")
                divergences.append(divergence_of(outcome, source))
            continue
        clean += 1
        warnings += [w for w in outcome.warnings if all(w.clause != o.clause for o in warnings)]
    if divergences:
        reason = divergences[0].finding.message
        if len(outcomes) > 1:
            reason += f" ({len(broken)} of {len(outcomes)} cases broken: {', '.join(broken)})"
        return ScenarioDone(
            item, "fail", reason, tuple(divergences), tuple(warnings), len(outcomes), clean
        )
    status: Status = "warn" if warnings else "pass"
    return ScenarioDone(item, status, "", (), tuple(warnings), len(outcomes), clean)


def run_case(adapter: QueueAdapter, body: Case, url: str, strict: bool, realtime: bool) -> Outcome:
    """One case in a fresh session: the session it ended in, or the violation it met.

    On the real clock a call slower than the margin cannot be judged fairly, so the case runs
    again from an empty queue, up to `SLOW_CALL_RETRIES` times (the scenarios, and the crash
    phases' fixed restart program).

    Raises:
        SlowCall: every attempt met a slow call.
        DriverError: the backend could not be driven.
    """
    for attempt in range(SLOW_CALL_RETRIES + 1):
        session = Session(adapter, strict=strict, url=url, realtime=realtime)
        try:
            body(session)
        except ContractViolation as violation:
            return violation
        except SlowCall:
            if attempt == SLOW_CALL_RETRIES:
                raise
            continue  # the session resets the queue: the case starts again from empty
        return session
    raise AssertionError("unreachable")
