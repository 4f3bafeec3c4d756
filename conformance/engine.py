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
from collections.abc import Iterator
from contextlib import contextmanager

from hypothesis import HealthCheck, Verbosity, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.errors import HypothesisException
from hypothesis.internal.conjecture import engine as conjecture_engine
from hypothesis.stateful import get_state_machine_test

from mqspec.adapters.base import QueueAdapter
from mqspec.adapters.registry import NAMESPACED, open_adapter
from mqspec.conformance.concurrency import run_concurrency
from mqspec.conformance.crash import CrashingQueue, crash_machine_for
from mqspec.conformance.faults import SERVER_SCHEMES, FaultRig, FaultStats
from mqspec.conformance.machine import QueueMachine, machine_for
from mqspec.conformance.profiles import PROFILES, REALTIME_MAX_TIMEOUT, Profile
from mqspec.conformance.results import (
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
from mqspec.conformance.scenarios import SCENARIOS, Scenario
from mqspec.conformance.session import Session
from mqspec.conformance.tally import Tally
from mqspec.conformance.transcript import Transcript
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
) -> Iterator[Event]:
    """Check ``adapter`` against the contract, yielding events; the last is `RunFinished`.

    The adapter must be open; the caller closes it. A `DriverError` (the backend could not be
    driven) ends the run with verdict ``error``.

    Args:
        url: how the backend is named in the report and reproducers.
        opened_url: the URL ``adapter`` was opened with, with the ``queue=`` the harness
            chose, if any (default ``url``). The crash profile opens it again in a process of
            its own, on the same namespace, so it must be a URL the registry can open.

    Raises:
        UsageError: an unknown profile.
    """
    if profile not in PROFILES:
        raise UsageError(f"unknown profile {profile!r}; known: {', '.join(PROFILES)}")
    chosen = PROFILES[profile]
    started = time.monotonic()
    caps = adapter.capabilities
    if chosen.realtime or not caps.virtual_time:
        check_realtime(caps)
    yield RunStarted(url, caps, chosen, seed)
    realtime = chosen.realtime or not caps.virtual_time
    state = Tally(strict, _unexercised(chosen, caps, realtime))
    error = ""
    try:
        for item in SCENARIOS:
            done = run_scenario(adapter, item, url, strict, realtime=realtime)
            state.scenario(item, done)
            yield done
        for searched in run_search(
            adapter, profile, url=url, opened_url=opened_url, strict=strict, seed=seed
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
) -> Iterator[SearchDone]:
    """The profile's search after the scenarios: the state machine, with faults or crashes,
    or the concurrent clients; one event per phase (none in real time, scenarios only).

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
    elif realtime:
        return
    elif chosen.faults:
        yield _run_faults(adapter, chosen, target, strict, seed)
        if caps.durable and _scheme(target) not in SERVER_SCHEMES:
            yield _run_crash(target, PROFILES["crash"], strict, seed)
    elif chosen.crash and caps.durable:
        yield _run_crash(target, chosen, strict, seed)
    else:
        yield _run_stateful(adapter, chosen, url, strict, seed)


def _unexercised(profile: Profile, caps: Capabilities, realtime: bool) -> dict[str, str]:
    """Why each clause no scenario covers is left unexercised by this run."""
    reasons = dict(NOT_EXERCISED)
    if profile.faults and realtime:
        reasons["MQ-LOSS-2"] = reasons["MQ-LOSS-3"] = "fault runs need a queue on virtual time"
    elif profile.faults:
        reasons["MQ-LOSS-2"] = "no fault hit an operation in this run"
        reasons["MQ-LOSS-3"] = "no fault stopped a push before the queue acted in this run"
    if profile.crash and not caps.durable:
        reasons["MQ-DURABLE-1"] = NOT_DURABLE
    elif profile.crash and realtime:
        reasons["MQ-DURABLE-1"] = "crash runs need a queue on virtual time"
    elif profile.crash:
        reasons.update(NO_CRASH)
    return reasons


def check_realtime(caps: Capabilities) -> None:
    """Refuse a real-time run that would sleep for minutes.

    Raises:
        UsageError: the queue's reservation timeout exceeds `REALTIME_MAX_TIMEOUT`.
    """
    if caps.reservation_timeout > REALTIME_MAX_TIMEOUT:
        raise UsageError(
            f"the real-time profile needs a reservation timeout of at most "
            f"{REALTIME_MAX_TIMEOUT:g}s, and this queue declares {caps.reservation_timeout:g}s; "
            "open it with ?timeout=1 (or make the timeout settable)"
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
    divergence, elapsed, found = _run_machine(machine, profile, seed, "stateful")
    return StatefulDone(profile.examples, elapsed, divergence, tuple(machine.findings), found)


def _scheme(url: str) -> str:
    return url.partition(":")[0].lower()


def _run_faults(
    adapter: QueueAdapter, profile: Profile, opened_url: str, strict: bool, seed: int
) -> FaultsDone:
    """The state machine with injected faults, on ``adapter``'s own namespace."""
    with FaultRig(adapter, opened_url, seed=seed) as rig:
        machine = rig.machine(strict)
        divergence, elapsed, found = _run_machine(machine, profile, seed, "faults")
        stats = rig.stats
    findings = tuple(machine.findings)
    return FaultsDone(profile.examples, elapsed, divergence, findings, stats, found)


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


def _run_crash(url: str, profile: Profile, strict: bool, seed: int) -> CrashDone:
    """The state machine on ``url`` reopened in a host process that is killed at random."""
    queue = CrashingQueue(url)
    try:
        machine = crash_machine_for(queue, strict=strict)
        divergence, elapsed, found = _run_machine(machine, profile, seed, "crash")
    finally:
        queue.close()
    findings = tuple(machine.findings)
    return CrashDone(
        profile.examples, elapsed, divergence, findings, queue.restarts, queue.cuts, found
    )


def _run_machine(
    machine: type[QueueMachine], profile: Profile, seed: int, source: str
) -> tuple[Divergence | None, float, float | None]:
    """Run ``machine`` under ``profile``: the minimal divergence (if any), the time taken, and
    the seconds until the first failing case ended (before shrinking), if one did."""
    config = settings(
        max_examples=profile.examples,
        stateful_step_count=profile.steps,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        print_blob=False,
        report_multiple_bugs=False,
        # Our own renderer prints the minimal program; Hypothesis's notes would only repeat it
        # (and its slow-shrinking warning quotes its five-minute default, not our budget).
        verbosity=Verbosity.quiet,
    )
    test = get_state_machine_test(machine, settings=config)
    hypothesis_seed(seed)(test)
    machine.failed_at = []
    started = time.monotonic()
    divergence = None
    try:
        with _shrink_budget(profile.shrink_seconds):
            test()
    except ContractViolation as violation:
        # Hypothesis re-raises the error of the shrunk (minimal) example last.
        divergence = _divergence(violation, source)
    except Exception as err:
        # A backend that died (a driver process, say) makes Hypothesis's re-runs fail at reset,
        # which it reports as flakiness; the backend's own first failure is the real cause.
        failure = _backend_failure(machine.adapter)
        if failure:
            raise DriverError(failure) from err
        if isinstance(err, MqspecError):
            raise
        if isinstance(err, HypothesisException):
            raise DriverError(
                f"the state machine could not run: {type(err).__name__}: {err}"
            ) from err
        raise DriverError(
            f"the adapter raised outside an operation: {type(err).__name__}: {err}"
        ) from err
    found = machine.failed_at[0] - started if machine.failed_at else None
    return divergence, time.monotonic() - started, found


@contextmanager
def _shrink_budget(seconds: float) -> Iterator[None]:
    """Cap the time Hypothesis spends shrinking one failure at ``seconds``.

    A failing case of a slow backend (a process restarted per case, a server) can take many
    minutes to shrink; past the budget Hypothesis stops and reports the smallest failing case it
    has, which is still a real, replayable failure. Hypothesis has no public setting for this:
    its engine reads the module constant ``MAX_SHRINKING_SECONDS`` when shrinking starts. If a
    Hypothesis version drops it, the budget is simply not applied (its own default holds).
    """
    saved = getattr(conjecture_engine, "MAX_SHRINKING_SECONDS", None)
    if saved is None:
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
