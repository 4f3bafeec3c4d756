"""The conformance engine: run the scenarios and the state machine, and judge every clause.

One engine behind every front end (the CLI, the pytest plugin, `check`). It yields event values
as it goes (`RunStarted`, `ScenarioDone`, then `StatefulDone`, `FaultsDone`, `CrashDone` or
`ConcurrencyDone` by profile, `RunFinished`) so a front end can show progress; the last event
carries the `RunResult`. It imports neither front end.

Clause status: ``pass`` (exercised and never broken), ``fail`` (a MUST broken, or a SHOULD in
strict mode), ``warn`` (a SHOULD broken), ``skip`` (not exercised, always with the reason).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NoReturn

import attrs
from hypothesis import HealthCheck, Verbosity, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.errors import HypothesisException
from hypothesis.internal.conjecture import engine as conjecture_engine
from hypothesis.stateful import get_state_machine_test

from mqspec.adapters.base import QueueAdapter
from mqspec.adapters.registry import NAMESPACED, SCHEMES, open_adapter
from mqspec.conformance.concurrency.check import run_concurrency
from mqspec.conformance.core.profiles import PROFILES, REALTIME_MAX_TIMEOUT, Profile
from mqspec.conformance.core.realclock import (
    DEFAULT_WORKERS,
    Opener,
    RealClockMachine,
    run_realtime_search,
)
from mqspec.conformance.core.results import (
    ClauseResult,
    ConcurrencyDone,
    ConcurrencySummary,
    CrashDone,
    Divergence,
    Event,
    FaultsDone,
    RunFinished,
    RunResult,
    RunStarted,
    ScenarioDone,
    SearchDone,
    StatefulDone,
    Status,
)
from mqspec.conformance.core.scenarios import SCENARIOS, Scenario
from mqspec.conformance.core.session import Session
from mqspec.conformance.core.statemachine import QueueMachine, machine_for
from mqspec.conformance.core.tally import Tally
from mqspec.conformance.core.transcript import Transcript
from mqspec.conformance.faults.crash import CrashingQueue, crash_machine_for
from mqspec.conformance.faults.runs import SERVER_SCHEMES, FaultRig, FaultStats
from mqspec.reference.errors import ContractViolation, DriverError, MqspecError, UsageError
from mqspec.reference.types import Capabilities, Finding

# The values and events live in `results` and `profiles`; re-exported here for front ends.
__all__ = [
    "PROFILES",
    "REALTIME_MAX_TIMEOUT",
    "ClauseResult",
    "ConcurrencyDone",
    "ConcurrencySummary",
    "CrashDone",
    "Divergence",
    "Event",
    "FaultStats",
    "FaultsDone",
    "Profile",
    "RunFinished",
    "RunResult",
    "RunStarted",
    "ScenarioDone",
    "SearchDone",
    "StatefulDone",
    "check_realtime",
    "run",
    "run_scenario",
    "run_search",
]


# Clauses no profile can exercise yet, and why. Reported as skip, never as pass.
NOT_EXERCISED = {
    "MQ-LOSS-2": "needs injected faults: run --profile faults",
    "MQ-LOSS-3": "needs injected faults: run --profile faults",
    "MQ-DURABLE-1": "needs crash-and-restart runs: run --profile crash",
}

# Why the crash profile may still leave MQ-DURABLE-1 or MQ-LOSS-2 unexercised.
NOT_DURABLE = "the queue does not declare durable"
NO_CRASH = {
    "MQ-DURABLE-1": "no crash happened in this run",
    "MQ-LOSS-2": "no crash landed inside an operation in this run",
}


def run(
    adapter: QueueAdapter,
    *,
    url: str = "memory://",
    profile: str = "quick",
    seed: int = 0,
    strict: bool = False,
    opened_url: str | None = None,
    open_queue: Opener | None = None,
    budget: float | None = None,
    workers: int | None = None,
) -> Iterator[Event]:
    """Check ``adapter`` against the contract, yielding events; the last is `RunFinished`.

    The adapter must be open; the caller closes it. A `DriverError` (the backend could not be
    driven) ends the run with verdict ``error``.

    Args:
        url: how the backend is named in the report and reproducers.
        opened_url: the URL ``adapter`` was opened with, with the ``queue=`` the harness
            chose, if any (default ``url``). The crash profile opens it again in a process of
            its own, on the same namespace, so it must be a URL the registry can open.
        open_queue, budget, workers: the real-clock search's, as for `run_search`.

    Raises:
        UsageError: an unknown profile.
    """
    if profile not in PROFILES:
        raise UsageError(f"unknown profile {profile!r}; known: {', '.join(PROFILES)}")
    chosen = PROFILES[profile]
    started = time.monotonic()
    caps = adapter.capabilities
    if chosen.realtime or not caps.virtual_time:
        check_realtime(caps, url)
    yield RunStarted(url, caps, chosen, seed)
    realtime = chosen.realtime or not caps.virtual_time
    state = Tally(strict, _unexercised(chosen, caps, realtime, opened_url))
    error = ""
    try:
        for item in SCENARIOS:
            done = run_scenario(adapter, item, url, strict, realtime=realtime)
            state.scenario(item, done)
            yield done
        for searched in run_search(
            adapter,
            profile,
            url=url,
            opened_url=opened_url,
            strict=strict,
            seed=seed,
            open_queue=open_queue,
            budget=budget,
            workers=workers,
        ):
            state.searched(searched)
            yield searched
    except (DriverError, UsageError) as err:
        error = str(err)
    result = RunResult(
        url=url,
        capabilities=caps,
        profile=profile,
        seed=seed,
        strict=strict,
        duration=time.monotonic() - started,
        clauses=state.results(),
        divergences=tuple(state.divergences),
        warnings=tuple(state.warnings),
        error=error,
        concurrency=state.concurrent,
        faults=state.fault_stats,
        crashes=state.crash_counts,
    )
    yield RunFinished(result)


def run_search(
    adapter: QueueAdapter,
    profile: str,
    *,
    url: str,
    opened_url: str | None = None,
    strict: bool = False,
    seed: int = 0,
    open_queue: Opener | None = None,
    budget: float | None = None,
    workers: int | None = None,
) -> Iterator[SearchDone]:
    """The profile's search after the scenarios: the state machine, with faults or crashes,
    or the concurrent clients; one event per phase.

    On the real clock (a queue that reads its own clock, or the realtime profile) the state
    machine runs on a compressed timescale with ``workers`` searches at once for ``budget``
    seconds (`mqspec.conformance.core.realclock`), each on a queue ``open_queue`` opens; without
    ``open_queue`` one worker uses ``adapter``. Faults, crashes and concurrency run on the
    real clock as on virtual time.

    `run` calls it; so does the pytest plugin, one test per phase. Arguments as for `run`.

    Raises:
        DriverError: the backend could not be driven.
        UsageError: an unknown profile, or a URL the phase cannot reopen.
    """
    chosen = PROFILES.get(profile)
    if chosen is None:
        raise UsageError(f"unknown profile {profile!r}; known: {', '.join(PROFILES)}")
    caps = adapter.capabilities
    realtime = chosen.realtime or not caps.virtual_time
    target = opened_url or url
    if chosen.concurrency:
        yield _run_concurrency(adapter, chosen, target, seed)
    elif chosen.faults:
        yield _run_faults(adapter, _clocked(chosen, realtime), target, strict, seed, realtime)
        if caps.durable and _scheme(target) not in SERVER_SCHEMES:
            crash = _clocked(PROFILES["crash"], realtime)
            yield _run_crash(target, crash, strict, seed, realtime)
    elif chosen.crash and caps.durable:
        yield _run_crash(target, _clocked(chosen, realtime), strict, seed, realtime)
    else:
        if realtime:
            yield _run_realtime(adapter, chosen, url, strict, seed, open_queue, budget, workers)
        else:
            yield _run_stateful(adapter, chosen, url, strict, seed)
        if chosen.crash_check and caps.durable and _crash_reopenable(opened_url):
            check = attrs.evolve(
                PROFILES["crash"], examples=chosen.crash_check, shrink_seconds=chosen.shrink_seconds
            )
            yield _run_crash(target, _clocked(check, realtime), strict, seed, realtime)


def _run_realtime(
    adapter: QueueAdapter,
    profile: Profile,
    url: str,
    strict: bool,
    seed: int,
    open_queue: Opener | None,
    budget: float | None,
    workers: int | None,
) -> StatefulDone:
    """The state machine on the queue's own clock, with parallel workers and a budget."""
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
    )


def _clocked(profile: Profile, realtime: bool) -> Profile:
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


def _crash_reopenable(opened_url: str | None) -> bool:
    """Whether the crash machine can reopen the queue in a host process whose death is the
    queue's crash: the caller gave the URL it opened the queue with (the same namespace), the
    registry opens it, and it is not a server's (whose data lives elsewhere)."""
    if opened_url is None or ":" not in opened_url:
        return False
    scheme = _scheme(opened_url)
    return scheme in SCHEMES and scheme not in SERVER_SCHEMES


def _unexercised(
    profile: Profile, caps: Capabilities, realtime: bool, opened_url: str | None = None
) -> dict[str, str]:
    """Why each clause no scenario covers is left unexercised by this run."""
    reasons = dict(NOT_EXERCISED)
    if not caps.durable:
        reasons["MQ-DURABLE-1"] = NOT_DURABLE
    if profile.crash_check and caps.durable:
        if _crash_reopenable(opened_url):
            reasons.update(NO_CRASH)
        else:
            reasons["MQ-DURABLE-1"] = (
                "the crash check needs the URL the queue was opened with, to reopen it in a "
                "process of its own (mqspec check passes it; not for a server)"
            )
    if profile.faults:
        reasons["MQ-LOSS-2"] = "no fault hit an operation in this run"
        reasons["MQ-LOSS-3"] = "no fault stopped a push before the queue acted in this run"
    if profile.crash and not caps.durable:
        reasons["MQ-DURABLE-1"] = NOT_DURABLE
    elif profile.crash:
        reasons.update(NO_CRASH)
    return reasons


def check_realtime(caps: Capabilities, url: str = "") -> None:
    """Refuse a real-time run that would sleep for minutes.

    Raises:
        UsageError: the queue's reservation timeout exceeds `REALTIME_MAX_TIMEOUT`; the
            message says how to shorten it for the kind of URL given.
    """
    if caps.reservation_timeout > REALTIME_MAX_TIMEOUT:
        if _scheme(url) == "exec":
            how = (
                "set it in the driver: have it adopt the reservation_timeout that hello asks "
                "for and declare timeout_settable (spec/driver-protocol.md), or start it with "
                "its own option for a short timeout (the example drivers take --timeout 1)"
            )
        else:
            how = "open it with ?timeout=1 (or make the timeout settable)"
        raise UsageError(
            f"the real-time profile needs a reservation timeout of at most "
            f"{REALTIME_MAX_TIMEOUT:g}s, and this queue declares {caps.reservation_timeout:g}s; "
            + how
        )


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
    divergences: list[Divergence] = []
    warnings: list[Finding] = []
    runs = item.runs(caps)
    clean = 0
    broken: list[str] = []
    for label, body in runs:
        session = Session(adapter, strict=strict, url=url, realtime=realtime)
        source = f"scenario {item.name}" + (f" [{label}]" if label else "")
        try:
            body(session)
        except ContractViolation as violation:
            broken.append(label or item.name)
            if all(d.clause != violation.finding.clause for d in divergences):
                divergences.append(_divergence(violation, source))
            continue
        clean += 1
        warnings += [w for w in session.warnings if all(w.clause != o.clause for o in warnings)]
    if divergences:
        reason = divergences[0].finding.message
        if len(runs) > 1:
            reason += f" ({len(broken)} of {len(runs)} cases broken: {', '.join(broken)})"
        return ScenarioDone(
            item,
            "fail",
            reason,
            tuple(divergences),
            tuple(warnings),
            len(runs),
            clean,
        )
    status: Status = "warn" if warnings else "pass"
    return ScenarioDone(item, status, "", (), tuple(warnings), len(runs), clean)


def _divergence(violation: ContractViolation, source: str) -> Divergence:
    transcript = violation.transcript if isinstance(violation.transcript, Transcript) else None
    return Divergence(violation.finding, source, transcript)


def _run_stateful(
    adapter: QueueAdapter, profile: Profile, url: str, strict: bool, seed: int
) -> StatefulDone:
    machine = machine_for(adapter, strict=strict, url=url)
    divergences, elapsed, found = run_machine(machine, profile, seed, "stateful")
    return StatefulDone(profile.examples, elapsed, divergences, tuple(machine.findings), found)


def _scheme(url: str) -> str:
    return url.partition(":")[0].lower()


def _run_faults(
    adapter: QueueAdapter,
    profile: Profile,
    opened_url: str,
    strict: bool,
    seed: int,
    realtime: bool = False,
) -> FaultsDone:
    """The state machine with injected faults, on ``adapter``'s own namespace."""
    with FaultRig(adapter, opened_url, seed=seed) as rig:
        machine = _on_clock(rig.machine(strict), realtime)
        divergences, elapsed, found = run_machine(machine, profile, seed, "faults")
        stats = rig.stats
    findings = tuple(machine.findings)
    return FaultsDone(profile.examples, elapsed, divergences, findings, stats, found)


def _run_concurrency(
    adapter: QueueAdapter, profile: Profile, opened_url: str, seed: int
) -> ConcurrencyDone:
    """Clients at once on ``adapter``'s queue; the first violation becomes the divergence."""
    factory = None
    if _scheme(opened_url) in NAMESPACED:
        # One connection per client, on the namespace the run already owns.
        def factory() -> QueueAdapter:
            return open_adapter(opened_url)

    outcome = run_concurrency(adapter, factory=factory, seed=seed, profile=profile.concurrency)
    divergence = None
    if outcome.violations:
        first = outcome.violations[0]
        finding = Finding(
            first.clause,
            first.message,
            expected=f"a history some order of the operations explains ({first.checker})",
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
    return ConcurrencyDone(outcome, divergence)


def _run_crash(
    url: str, profile: Profile, strict: bool, seed: int, realtime: bool = False
) -> CrashDone:
    """The state machine on ``url`` reopened in a host process that is killed at random;
    on the real clock the restart takes real time, which the model counts like any other."""
    queue = CrashingQueue(url)
    try:
        machine = _on_clock(crash_machine_for(queue, strict=strict), realtime)
        divergences, elapsed, found = run_machine(machine, profile, seed, "crash")
    finally:
        queue.close()
    findings = tuple(machine.findings)
    return CrashDone(
        profile.examples, elapsed, divergences, findings, queue.restarts, queue.cuts, found
    )


def run_machine(
    machine: type[QueueMachine],
    profile: Profile,
    seed: int,
    source: str,
    *,
    cap_shrinking: bool = True,
) -> tuple[tuple[Divergence, ...], float, float | None]:
    """Run ``machine`` under ``profile``: one minimal divergence per clause broken (none when
    the queue conforms), the time taken, and the seconds until the first failing case ended
    (before shrinking), if one did.

    After the first divergence the search goes on within the profile's examples, and
    Hypothesis shrinks a failure of each clause on its own (`violation_type` gives each clause
    its own exception class), so one bug does not hide the next. ``cap_shrinking=False``
    leaves Hypothesis's shrink budget as the caller set it (`shrink_budget` is process-wide,
    so a caller running machines in several threads sets it once around them all).
    """
    config = settings(
        max_examples=profile.examples,
        stateful_step_count=profile.steps,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        print_blob=False,
        report_multiple_bugs=True,
        # Our own renderer prints the minimal program; Hypothesis's notes would only repeat it
        # (and its slow-shrinking warning quotes its five-minute default, not our budget).
        verbosity=Verbosity.quiet,
    )
    test = get_state_machine_test(machine, settings=config)
    hypothesis_seed(seed)(test)
    machine.failed_at = []
    machine.violations = []
    started = time.monotonic()
    divergences: list[Divergence] = []
    try:
        with shrink_budget(profile.shrink_seconds if cap_shrinking else None):
            test()
    except ContractViolation as violation:
        # Hypothesis re-raises the error of the shrunk (minimal) example last.
        divergences.append(_divergence(violation, source))
    except BaseExceptionGroup as group:
        # Several clauses broken: one minimal example each. Anything else in the group is a
        # backend that could not be driven, handled as below.
        violations, rest = group.split(ContractViolation)
        if rest is not None and not machine.violations:
            _reraise_backend_failure(machine, rest.exceptions[0])
        for violation in _leaves(violations) or _unreplayable(machine):
            divergences.append(_divergence(violation, source))
    except Exception as err:
        found = _unreplayable(machine) if isinstance(err, HypothesisException) else []
        if not found:
            _reraise_backend_failure(machine, err)
        divergences += [
            _divergence(v, f"{source} (not shrunk: the failure did not repeat on replay)")
            for v in found
        ]
    found = machine.failed_at[0] - started if machine.failed_at else None
    divergences.sort(key=lambda d: d.clause.id)
    return tuple(divergences), time.monotonic() - started, found


def _unreplayable(machine: type[QueueMachine]) -> list[ContractViolation]:
    """The violations the cases found, one per clause, shortest program first, when Hypothesis
    could not replay them: a failure that depends on the backend's own history (a driver that
    dies after its 40th push in its life, say) is still a failure, only not a shrunk one."""
    out: list[ContractViolation] = []
    for violation in sorted(machine.violations, key=lambda v: len(str(v.program).splitlines())):
        if all(v.finding.clause != violation.finding.clause for v in out):
            out.append(violation)
    return out


def _leaves(group: BaseExceptionGroup | None) -> list[ContractViolation]:
    """The violations inside a (possibly nested) exception group."""
    if group is None:
        return []
    out: list[ContractViolation] = []
    for item in group.exceptions:
        if isinstance(item, BaseExceptionGroup):
            out += _leaves(item)
        elif isinstance(item, ContractViolation):
            out.append(item)
    return out


def _reraise_backend_failure(machine: type[QueueMachine], err: BaseException) -> NoReturn:
    """Raise the error that stopped ``machine`` as the run's error, naming its real cause.

    A backend that died (a driver process, say) makes Hypothesis's re-runs fail at reset,
    which it reports as flakiness; the backend's own first failure is the real cause.
    """
    failure = _backend_failure(machine.adapter)
    if failure:
        raise DriverError(failure) from err
    if isinstance(err, MqspecError):
        raise err
    if isinstance(err, HypothesisException):
        raise DriverError(f"the state machine could not run: {type(err).__name__}: {err}") from err
    raise DriverError(
        f"the adapter raised outside an operation: {type(err).__name__}: {err}"
    ) from err


@contextmanager
def shrink_budget(seconds: float | None) -> Iterator[None]:
    """Cap the time Hypothesis spends shrinking one failure at ``seconds``.

    A failing case of a slow backend (a process restarted per case, a server) can take many
    minutes to shrink; past the budget Hypothesis stops and reports the smallest failing case it
    has, which is still a real, replayable failure. Hypothesis has no public setting for this:
    its engine reads the module constant ``MAX_SHRINKING_SECONDS`` when shrinking starts. If a
    Hypothesis version drops it, the budget is simply not applied (its own default holds).
    """
    saved = getattr(conjecture_engine, "MAX_SHRINKING_SECONDS", None)
    if saved is None or seconds is None:
        yield
        return
    conjecture_engine.MAX_SHRINKING_SECONDS = seconds  # type: ignore[assignment]
    try:
        yield
    finally:
        conjecture_engine.MAX_SHRINKING_SECONDS = saved


def _backend_failure(adapter: object) -> str | None:
    """The fatal failure an adapter recorded (``ProcessQueue.failure``), if it keeps one."""
    for candidate in (adapter, getattr(adapter, "_host", None)):
        failure = getattr(candidate, "failure", None)
        if isinstance(failure, str) and failure:
            return failure
    return None
