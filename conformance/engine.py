"""The conformance engine: run the scenarios and the state machine, and judge every clause.

One engine behind every front end (the CLI, the pytest plugin, `check`). It yields event values
as it goes (`RunStarted`, `ScenarioDone`, `StatefulDone` or `CrashDone`, `RunFinished`) so a front
end can show progress; the last event carries the `RunResult`. It imports neither front end.

Clause status: ``pass`` (exercised and never broken), ``fail`` (a MUST broken, or a SHOULD in
strict mode), ``warn`` (a SHOULD broken), ``skip`` (not exercised, always with the reason).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Literal

import attrs
from hypothesis import HealthCheck, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.errors import HypothesisException
from hypothesis.stateful import get_state_machine_test

from mqspec.adapters.base import QueueAdapter
from mqspec.conformance.crash import CrashingQueue, crash_machine_for
from mqspec.conformance.machine import QueueMachine, machine_for
from mqspec.conformance.scenarios import SCENARIOS, Scenario
from mqspec.conformance.session import Session
from mqspec.conformance.transcript import Transcript
from mqspec.reference.clauses import CATALOGUE, Clause
from mqspec.reference.errors import ContractViolation, DriverError, MqspecError, UsageError
from mqspec.reference.types import Capabilities, Finding

__all__ = [
    "PROFILES",
    "REALTIME_MAX_TIMEOUT",
    "ClauseResult",
    "CrashDone",
    "Divergence",
    "Profile",
    "RunFinished",
    "RunResult",
    "RunStarted",
    "ScenarioDone",
    "StatefulDone",
    "check_realtime",
    "run",
]

Status = Literal["pass", "fail", "warn", "skip"]


@attrs.frozen
class Profile:
    """How hard to look: Hypothesis examples and steps per example (0: no state machine).

    ``realtime`` runs on the real clock with the adapter's own time source (``now=None``): the
    production code path. It is small and bounded: the scenarios only, and it needs a
    reservation timeout of at most `REALTIME_MAX_TIMEOUT` seconds.

    ``crash`` runs the state machine on a queue that declares ``durable`` in a process of its
    own, killed with SIGKILL between and inside operations (`mqspec.conformance.crash`); the
    engine reopens the queue there by its URL. A queue that is not durable gets the ordinary
    state machine instead.
    """

    name: str
    examples: int
    steps: int
    realtime: bool = False
    crash: bool = False


PROFILES = {
    "quick": Profile("quick", examples=60, steps=40),
    "thorough": Profile("thorough", examples=400, steps=80),
    "realtime": Profile("realtime", examples=0, steps=0, realtime=True),
    "crash": Profile("crash", examples=25, steps=25, crash=True),
}

REALTIME_MAX_TIMEOUT = 5.0

# Clauses no profile can exercise yet, and why. Reported as skip, never as pass.
NOT_EXERCISED = {
    "MQ-LOSS-2": "needs injected faults; no faults profile exists yet",
    "MQ-LOSS-3": "needs injected faults; no faults profile exists yet",
    "MQ-DURABLE-1": "needs crash-and-restart runs: run --profile crash",
}

# Why the crash profile may still leave MQ-DURABLE-1 or MQ-LOSS-2 unexercised.
NOT_DURABLE = "the queue does not declare durable"
NO_CRASH = {
    "MQ-DURABLE-1": "no crash happened in this run",
    "MQ-LOSS-2": "no crash landed inside an operation in this run",
}


@attrs.frozen
class Divergence:
    """A broken clause with the program that shows it."""

    finding: Finding
    source: str  # "scenario <name>", "stateful" or "crash"
    transcript: Transcript | None

    @property
    def clause(self) -> Clause:
        return self.finding.clause


@attrs.frozen
class ClauseResult:
    """The verdict on one clause."""

    clause: Clause
    status: Status
    reason: str = ""


@attrs.frozen
class RunResult:
    """Everything a report needs about one run."""

    url: str
    capabilities: Capabilities | None
    profile: str
    seed: int
    strict: bool
    duration: float
    clauses: tuple[ClauseResult, ...]
    divergences: tuple[Divergence, ...]
    warnings: tuple[Divergence, ...]
    error: str = ""

    @property
    def verdict(self) -> Literal["conforms", "diverges", "error"]:
        if self.error:
            return "error"
        return "diverges" if any(c.status == "fail" for c in self.clauses) else "conforms"


@attrs.frozen
class RunStarted:
    url: str
    capabilities: Capabilities
    profile: Profile
    seed: int


@attrs.frozen
class ScenarioDone:
    scenario: Scenario
    status: Status
    reason: str = ""
    divergence: Divergence | None = None
    warnings: tuple[Finding, ...] = ()


@attrs.frozen
class StatefulDone:
    examples: int
    elapsed: float
    divergence: Divergence | None
    warnings: tuple[Finding, ...] = ()


@attrs.frozen
class CrashDone:
    """The state machine with crashes has run: ``restarts`` kills, ``cuts`` inside operations."""

    examples: int
    elapsed: float
    divergence: Divergence | None
    warnings: tuple[Finding, ...] = ()
    restarts: int = 0
    cuts: int = 0


@attrs.frozen
class RunFinished:
    result: RunResult


Event = RunStarted | ScenarioDone | StatefulDone | CrashDone | RunFinished


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
    state = _Tally(strict, _unexercised(chosen, caps, realtime))
    error = ""
    try:
        for item in SCENARIOS:
            done = _run_scenario(adapter, item, url, strict, realtime=realtime)
            state.scenario(item, done)
            yield done
        if not realtime and chosen.crash and caps.durable:
            crashed = _run_crash(opened_url or url, chosen, strict, seed)
            state.crash(crashed)
            yield crashed
        elif not realtime:
            stateful = _run_stateful(adapter, chosen, url, strict, seed)
            state.stateful(stateful)
            yield stateful
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
    )
    yield RunFinished(result)


def _unexercised(profile: Profile, caps: Capabilities, realtime: bool) -> dict[str, str]:
    """Why each clause no scenario covers is left unexercised by this run."""
    reasons = dict(NOT_EXERCISED)
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


def _run_scenario(
    adapter: QueueAdapter, item: Scenario, url: str, strict: bool, *, realtime: bool = False
) -> ScenarioDone:
    reason = item.skip_reason(adapter.capabilities)
    if reason:
        return ScenarioDone(item, "skip", reason)
    session = Session(adapter, strict=strict, url=url, realtime=realtime)
    try:
        item.body(session)
    except ContractViolation as violation:
        divergence = _divergence(violation, f"scenario {item.name}")
        return ScenarioDone(item, "fail", violation.finding.message, divergence)
    if session.warnings:
        return ScenarioDone(item, "warn", warnings=tuple(session.warnings))
    return ScenarioDone(item, "pass")


def _divergence(violation: ContractViolation, source: str) -> Divergence:
    transcript = violation.transcript if isinstance(violation.transcript, Transcript) else None
    return Divergence(violation.finding, source, transcript)


def _run_stateful(
    adapter: QueueAdapter, profile: Profile, url: str, strict: bool, seed: int
) -> StatefulDone:
    machine = machine_for(adapter, strict=strict, url=url)
    divergence, elapsed = _run_machine(machine, profile, seed, "stateful")
    return StatefulDone(profile.examples, elapsed, divergence, tuple(machine.findings))


def _run_crash(url: str, profile: Profile, strict: bool, seed: int) -> CrashDone:
    """The state machine on ``url`` reopened in a host process that is killed at random."""
    queue = CrashingQueue(url)
    try:
        machine = crash_machine_for(queue, strict=strict)
        divergence, elapsed = _run_machine(machine, profile, seed, "crash")
    finally:
        queue.close()
    findings = tuple(machine.findings)
    return CrashDone(profile.examples, elapsed, divergence, findings, queue.restarts, queue.cuts)


def _run_machine(
    machine: type[QueueMachine], profile: Profile, seed: int, source: str
) -> tuple[Divergence | None, float]:
    """Run ``machine`` under ``profile``; the minimal divergence (if any) and the time taken."""
    config = settings(
        max_examples=profile.examples,
        stateful_step_count=profile.steps,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        print_blob=False,
        report_multiple_bugs=False,
    )
    test = get_state_machine_test(machine, settings=config)
    hypothesis_seed(seed)(test)
    started = time.monotonic()
    divergence = None
    try:
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
    return divergence, time.monotonic() - started


def _backend_failure(adapter: object) -> str | None:
    """The fatal failure an adapter recorded (``ProcessQueue.failure``), if it keeps one."""
    for candidate in (adapter, getattr(adapter, "_host", None)):
        failure = getattr(candidate, "failure", None)
        if isinstance(failure, str) and failure:
            return failure
    return None


class _Tally:
    """Folds scenario and stateful outcomes into one status per clause."""

    def __init__(self, strict: bool, unexercised: dict[str, str]) -> None:
        self.strict = strict
        self.unexercised = unexercised
        self.status: dict[str, tuple[Status, str]] = {}
        self.divergences: list[Divergence] = []
        self.warnings: list[Divergence] = []

    def _mark(self, clause_id: str, status: Status, reason: str) -> None:
        rank = {"skip": 0, "pass": 1, "warn": 2, "fail": 3}
        current = self.status.get(clause_id)
        if current is None or rank[status] > rank[current[0]]:
            self.status[clause_id] = (status, reason)

    def scenario(self, item: Scenario, done: ScenarioDone) -> None:
        if done.divergence is not None:
            divergence = done.divergence
            self._diverge(divergence)
            self._mark(divergence.clause.id, "fail", divergence.finding.message)
            if divergence.clause.id != item.clause.id:
                # The scenario stopped on another clause before it finished: its own clause was
                # not fully judged, so it must not read as a pass.
                self._mark(
                    item.clause.id,
                    "skip",
                    f"scenario {item.name} stopped early on {divergence.clause.id}",
                )
            return
        if done.status == "warn":
            for finding in done.warnings:
                self._warn(Divergence(finding, f"scenario {item.name}", None))
            self._mark(item.clause.id, "pass", f"scenario {item.name} ran")
            return
        self._mark(item.clause.id, done.status, done.reason or f"scenario {item.name} ran")

    def stateful(self, done: StatefulDone) -> None:
        if done.divergence is not None:
            self._diverge(done.divergence)
            self._mark(done.divergence.clause.id, "fail", done.divergence.finding.message)
        for finding in done.warnings:
            self._warn(Divergence(finding, "stateful", None))

    def crash(self, done: CrashDone) -> None:
        if done.divergence is not None:
            self._diverge(done.divergence)
            self._mark(done.divergence.clause.id, "fail", done.divergence.finding.message)
        for finding in done.warnings:
            self._warn(Divergence(finding, "crash", None))
        # Exercised only if a crash happened (inside an operation, for MQ-LOSS-2).
        if done.restarts:
            self._mark("MQ-DURABLE-1", "pass", f"{done.restarts} crashes and restarts")
        if done.cuts:
            self._mark("MQ-LOSS-2", "pass", f"{done.cuts} operations cut by a crash")

    def _diverge(self, divergence: Divergence) -> None:
        # One divergence per clause: the first found, which for scenarios is the simplest.
        if all(d.clause != divergence.clause for d in self.divergences):
            self.divergences.append(divergence)

    def _warn(self, divergence: Divergence) -> None:
        if all(w.clause != divergence.clause for w in self.warnings):
            self.warnings.append(divergence)
        status: Status = "fail" if self.strict else "warn"
        self._mark(divergence.clause.id, status, divergence.finding.message)

    def results(self) -> tuple[ClauseResult, ...]:
        out = []
        for clause in CATALOGUE.values():
            if clause.withdrawn:
                continue
            status, reason = self.status.get(
                clause.id, ("skip", self.unexercised.get(clause.id, "no scenario exercised it"))
            )
            out.append(ClauseResult(clause, status, reason))
        return tuple(out)
