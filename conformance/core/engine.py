"""The conformance engine: run the scenarios and the search phases, and judge every clause.

One engine behind every front end (the CLI, the pytest plugin, `check`). It yields event values
(`mqspec.conformance.core.events`) as it goes: `RunStarted`, one `ScenarioDone` per scenario,
one `PhaseDone` per search phase the profile runs (`mqspec.conformance.core.phases`), then
`RunFinished`, which carries the `RunResult`; the `Tally` handles each to judge the clauses.
On the real clock the scenarios' cases run in parallel, each worker on a queue of its own
(`mqspec.conformance.core.scenario_runs`), and the search after them as well.
It imports no front end.

Clause status: ``pass`` (exercised and never broken), ``fail`` (a MUST broken, or a SHOULD in
strict mode), ``warn`` (a SHOULD broken), ``skip`` (not exercised, always with the reason).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import attrs

from mqspec.adapters.base import QueueAdapter
from mqspec.adapters.registry import SCHEMES
from mqspec.conformance.core.events import Event, PhaseDone, RunFinished, RunStarted
from mqspec.conformance.core.phases import (
    CRASH_BUDGET,
    clocked,
    concurrency_phase,
    crash_phase,
    faults_phase,
    realtime_phase,
    scheme_of,
    stateful_phase,
)
from mqspec.conformance.core.profiles import (
    PROFILES,
    REALTIME_MAX_TIMEOUT,
    Profile,
    profiles_named,
)
from mqspec.conformance.core.realclock import DEFAULT_WORKERS, Opener
from mqspec.conformance.core.results import RunResult
from mqspec.conformance.core.scenario_runs import run_scenario, run_scenarios
from mqspec.conformance.core.scenarios import SCENARIOS
from mqspec.conformance.core.tally import Tally
from mqspec.conformance.faults.runs import SERVER_SCHEMES
from mqspec.reference.errors import DriverError, UsageError
from mqspec.reference.types import Capabilities

__all__ = ["check_realtime", "run", "run_scenario", "run_search", "shared_storage"]


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
    profile: str | Profile = "quick",
    seed: int = 0,
    strict: bool = False,
    opened_url: str | None = None,
    open_queue: Opener | None = None,
    budget: float | None = None,
    workers: int | None = None,
    deselected: frozenset[str] = frozenset(),
) -> Iterator[Event]:
    """Check ``adapter`` against the contract, yielding events; the last is `RunFinished`.

    The adapter must be open; the caller closes it. A `DriverError` (the backend could not be
    driven) ends the run with verdict ``error``.

    Args:
        url: how the backend is named in the report and reproducers.
        opened_url: the URL ``adapter`` was opened with, with the ``queue=`` the harness
            chose, if any (default ``url``). The crash profile opens it again in a process of
            its own, on the same namespace, so it must be a URL the registry can open.
        profile: a profile's name, or a `Profile` (a named one resized, as ``--examples``
            does: the report names it by its ``name``).
        open_queue, budget, workers: the real-clock search's, as for `run_search`; on the real
            clock ``open_queue`` and ``workers`` also run the scenarios' cases in parallel.
        deselected: IDs of clauses not to judge (``--only``/``--skip``,
            `mqspec.conformance.core.selection`): their scenarios do not run, and divergences
            on them are set aside (`RunResult.set_aside`).

    Raises:
        UsageError: an unknown profile.
    """
    chosen = profile_named(profile)
    started = time.monotonic()
    caps = adapter.capabilities
    if chosen.realtime or not caps.virtual_time:
        check_realtime(caps, url)
    realtime = chosen.realtime or not caps.virtual_time
    notes: tuple[str, ...] = ()
    if realtime and open_queue is not None and workers is None:
        shared = shared_storage(caps, url)
        if shared:
            workers, notes = 1, (shared,)
    yield RunStarted(url, caps, chosen, seed, notes, deselected)
    out_of_reach = frozenset() if caps.durable else frozenset({"MQ-DURABLE-1"})
    state = Tally(
        strict, _unexercised(chosen, caps, realtime, opened_url), out_of_reach, deselected
    )
    error = ""
    waited_since = time.monotonic()
    try:
        for done in run_scenarios(
            adapter,
            [s for s in SCENARIOS if s.clause.id not in deselected],
            url,
            strict,
            realtime=realtime,
            open_queue=open_queue,
            workers=workers if workers is not None else DEFAULT_WORKERS,
        ):
            # The wall time until each scenario was judged: on the real clock its cases run
            # in parallel with the others', so this is the time the run waited for it.
            now = time.monotonic()
            done = attrs.evolve(done, elapsed=now - waited_since)
            waited_since = now
            state.handle_event(done)
            yield done
        for searched in run_search(
            adapter,
            chosen,
            url=url,
            opened_url=opened_url,
            strict=strict,
            seed=seed,
            open_queue=open_queue,
            budget=budget,
            workers=workers,
        ):
            state.handle_event(searched)
            yield searched
    except (DriverError, UsageError) as err:
        error = str(err)
    result = RunResult(
        url=url,
        capabilities=caps,
        profile=chosen.name,
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
        set_aside=tuple(state.set_aside),
        phases=tuple(state.phases),
    )
    yield RunFinished(result)


def run_search(
    adapter: QueueAdapter,
    profile: str | Profile,
    *,
    url: str,
    opened_url: str | None = None,
    strict: bool = False,
    seed: int = 0,
    open_queue: Opener | None = None,
    budget: float | None = None,
    workers: int | None = None,
) -> Iterator[PhaseDone]:
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
    for part in profile_named(profile).searches:
        yield from _searched(
            adapter, part, url, opened_url, strict, seed, open_queue, budget, workers
        )


def _searched(
    adapter: QueueAdapter,
    chosen: Profile,
    url: str,
    opened_url: str | None,
    strict: bool,
    seed: int,
    open_queue: Opener | None,
    budget: float | None,
    workers: int | None,
) -> Iterator[PhaseDone]:
    """`run_search` for one profile that is not a combination."""
    caps = adapter.capabilities
    realtime = chosen.realtime or not caps.virtual_time
    target = opened_url or url
    if chosen.concurrency:
        yield concurrency_phase(adapter, chosen, target, seed)
    elif chosen.faults:
        yield faults_phase(
            adapter,
            clocked(chosen, realtime),
            target,
            strict,
            seed,
            realtime,
            open_queue=open_queue,
            budget=budget,
            workers=workers,
        )
        if caps.durable and scheme_of(target) not in SERVER_SCHEMES:
            crash = clocked(PROFILES["crash"], realtime)
            yield crash_phase(
                target, crash, strict, seed, realtime, open_queue, _after(budget), workers
            )
    elif chosen.crash and caps.durable:
        yield crash_phase(
            target,
            clocked(chosen, realtime),
            strict,
            seed,
            realtime,
            open_queue,
            budget if budget is not None else chosen.realtime_budget,
            workers,
        )
    else:
        if realtime:
            yield realtime_phase(adapter, chosen, url, strict, seed, open_queue, budget, workers)
        else:
            yield stateful_phase(adapter, chosen, url, strict, seed)
        if chosen.crash_check and caps.durable and _crash_reopenable(opened_url):
            check = attrs.evolve(
                PROFILES["crash"], examples=chosen.crash_check, shrink_seconds=chosen.shrink_seconds
            )
            yield crash_phase(
                target,
                clocked(check, realtime),
                strict,
                seed,
                realtime,
                open_queue,
                _after(budget),
                workers,
            )


def _after(budget: float | None) -> float:
    """The real-clock budget of a crash machine that follows another search: `CRASH_BUDGET`,
    or the run's own budget when that is shorter."""
    return CRASH_BUDGET if budget is None else min(budget, CRASH_BUDGET)


def _crash_reopenable(opened_url: str | None) -> bool:
    """Whether the crash machine can reopen the queue in a host process whose death is the
    queue's crash: the caller gave the URL it opened the queue with (the same namespace), the
    registry opens it, and it is not a server's (whose data lives elsewhere)."""
    if opened_url is None or ":" not in opened_url:
        return False
    scheme = scheme_of(opened_url)
    return scheme in SCHEMES and scheme not in SERVER_SCHEMES


def _unexercised(
    profile: Profile, caps: Capabilities, realtime: bool, opened_url: str | None = None
) -> dict[str, str]:
    """Why each clause no scenario covers is left unexercised by this run.

    For several profiles, the reason of the last one that aims at the clause: a run of
    ``quick,faults`` that hit no push with a fault says so, not "run --profile faults".
    """
    reasons = dict(NOT_EXERCISED)
    for part in profile.searches:
        for key, why in _unexercised_by(part, caps, opened_url).items():
            if why != NOT_EXERCISED.get(key) or key not in reasons:
                reasons[key] = why
    return reasons


def _unexercised_by(
    profile: Profile, caps: Capabilities, opened_url: str | None
) -> dict[str, str]:
    """`_unexercised` for one profile that is not a combination."""
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


SHARED_SCHEMES = frozenset({"exec", "py"})
"""Schemes whose every open starts a new driver process or instance, with no namespace of the
harness's: two of them may well share storage (one file, one database)."""


def shared_storage(caps: Capabilities, url: str) -> str:
    """Why the real clock's workers may not run at once on ``url``'s queues ("" when they may).

    Each worker opens a queue of its own: a namespace for SQLite and the servers, but for
    ``exec:`` a new driver process and for ``py:`` a new instance, each started the same way.
    Jobs in memory are each process's own; a durable queue's are in storage the processes
    may share (fn's Bolt queue keeps them in one file), and workers sharing a queue would see
    each other's jobs: divergences no single client could cause. So a durable one runs one
    worker unless ``--workers`` says otherwise (a driver that keeps the jobs of each
    ``MQSPEC_NAMESPACE`` apart can take many; spec/driver-protocol.md).
    """
    if not caps.durable or scheme_of(url) not in SHARED_SCHEMES:
        return ""
    return (
        "one real-clock worker: a durable queue opened by an exec: or py: URL may keep every "
        "worker's jobs in one store; pass --workers N if each process keeps its "
        "MQSPEC_NAMESPACE apart"
    )


def profile_named(profile: str | Profile) -> Profile:
    """``profile`` itself, or the profile that names: one name, several joined by commas, or
    ``full`` (`mqspec.conformance.core.profiles.profiles_named`).

    Raises:
        UsageError: a name no profile has.
    """
    if isinstance(profile, Profile):
        return profile
    try:
        return profiles_named(profile)
    except ValueError as err:
        raise UsageError(str(err)) from None


def check_realtime(caps: Capabilities, url: str = "") -> None:
    """Refuse a real-time run that would sleep for minutes.

    Raises:
        UsageError: the queue's reservation timeout exceeds `REALTIME_MAX_TIMEOUT`; the
            message says how to shorten it for the kind of URL given.
    """
    if caps.reservation_timeout > REALTIME_MAX_TIMEOUT:
        if scheme_of(url) == "exec":
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
