"""One Hypothesis search of a state machine class, its failures turned into divergences.

`run_machine` runs a `QueueMachine` under a profile's examples and steps and returns one
minimal divergence per clause broken; `shrink_budget` caps the time Hypothesis spends
shrinking one failure. The engine's phases (`mqspec.conformance.core.phases`) and the
real-clock search (`mqspec.conformance.core.realclock`) both run their machines through here.
A backend that could not be driven ends the search with a `DriverError` naming its real cause.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

from hypothesis import HealthCheck, Verbosity, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.errors import HypothesisException
from hypothesis.internal.conjecture import engine as conjecture_engine
from hypothesis.stateful import get_state_machine_test

from mqspec.conformance.core import example_db
from mqspec.conformance.core.profiles import Profile
from mqspec.conformance.core.results import Divergence
from mqspec.conformance.core.statemachine import QueueMachine
from mqspec.conformance.core.transcript import Transcript
from mqspec.conformance.core.violations import ContractViolation
from mqspec.reference.errors import DriverError, MqspecError

__all__ = ["backend_failure", "divergence_of", "found_violations", "run_machine", "shrink_budget"]


def divergence_of(violation: ContractViolation, source: str) -> Divergence:
    """``violation`` as a divergence found by ``source``, with its transcript if it has one."""
    transcript = violation.transcript if isinstance(violation.transcript, Transcript) else None
    return Divergence(violation.finding, source, transcript)


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
        # None unless the run shares an example database (`example_db`): then the failing
        # programs found are saved there, and the saved ones replayed first.
        database=example_db.current(),
        print_blob=False,
        report_multiple_bugs=True,
        # Our own renderer prints the minimal program; Hypothesis's notes would only repeat it
        # (and its slow-shrinking warning quotes its five-minute default, not our budget).
        verbosity=Verbosity.quiet,
    )
    test = get_state_machine_test(machine, settings=config)
    if config.database is not None:
        # Hypothesis keys saved examples by the test function's digest, which is the same
        # for every machine: add what tells them apart, so a queue's failures replay on it.
        key = f"mqspec:{source}:{machine.__name__}:{getattr(machine, 'url', '')}"
        inner: Any = test.hypothesis.inner_test  # type: ignore[attr-defined]
        inner._hypothesis_internal_add_digest = key.encode()
    hypothesis_seed(seed)(test)
    if config.database is not None:
        # Hypothesis's @seed turns the database off (a seed is for reproducing a run); a
        # shared database is asked for by name, so give it back after the seed.
        seeded: Any = test
        seeded._hypothesis_internal_use_settings = settings(
            seeded._hypothesis_internal_use_settings, database=config.database
        )
    machine.failed_at = []
    machine.violations = []
    started = time.monotonic()
    divergences: list[Divergence] = []
    try:
        with shrink_budget(profile.shrink_seconds if cap_shrinking else None):
            test()
    except ContractViolation as violation:
        # Hypothesis re-raises the error of the shrunk (minimal) example last.
        divergences.append(divergence_of(violation, source))
    except BaseExceptionGroup as group:
        # Several clauses broken: one minimal example each. Anything else in the group is a
        # backend that could not be driven, handled as below.
        violations, rest = group.split(ContractViolation)
        if rest is not None and not machine.violations:
            _reraise_backend_failure(machine, rest.exceptions[0])
        for leaf in _leaves(violations) or found_violations(machine):
            divergences.append(divergence_of(leaf, source))
    except Exception as err:
        unshrunk = found_violations(machine) if isinstance(err, HypothesisException) else []
        if not unshrunk:
            _reraise_backend_failure(machine, err)
        divergences += [
            divergence_of(v, f"{source} (not shrunk: the failure did not repeat on replay)")
            for v in unshrunk
        ]
    found_after = machine.failed_at[0] - started if machine.failed_at else None
    divergences.sort(key=lambda d: d.clause.id)
    return tuple(divergences), time.monotonic() - started, found_after


def found_violations(machine: type[QueueMachine]) -> list[ContractViolation]:
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
    failure = backend_failure(machine.adapter)
    if failure:
        raise DriverError(failure) from err
    if isinstance(err, MqspecError):
        raise err
    if isinstance(err, HypothesisException):
        raise DriverError(f"the state machine could not run: {type(err).__name__}: {err}") from err
    raise DriverError(
        f"the adapter raised outside an operation: {type(err).__name__}: {err}"
    ) from err


_SHRINK_LOCK = threading.Lock()
_shrink_users = 0
_shrink_saved: object = None


@contextmanager
def shrink_budget(seconds: float | None) -> Iterator[None]:
    """Cap the time Hypothesis spends shrinking one failure at ``seconds``.

    A failing case of a slow backend (a process restarted per case, a server) can take many
    minutes to shrink; past the budget Hypothesis stops and reports the smallest failing case it
    has, which is still a real, replayable failure. Hypothesis has no public setting for this:
    its engine reads the module constant ``MAX_SHRINKING_SECONDS`` when shrinking starts. If a
    Hypothesis version drops it, the budget is simply not applied (its own default holds).

    The constant is process-wide, so searches in several threads at once (``mqspec selftest
    --real-clock --jobs N``) share it: the first to enter saves Hypothesis's value, the last
    to leave restores it, and each entry sets its own cap.
    """
    global _shrink_users, _shrink_saved
    if seconds is None or getattr(conjecture_engine, "MAX_SHRINKING_SECONDS", None) is None:
        yield
        return
    with _SHRINK_LOCK:
        if _shrink_users == 0:
            _shrink_saved = conjecture_engine.MAX_SHRINKING_SECONDS
        _shrink_users += 1
        conjecture_engine.MAX_SHRINKING_SECONDS = seconds  # type: ignore[assignment]
    try:
        yield
    finally:
        with _SHRINK_LOCK:
            _shrink_users -= 1
            if _shrink_users == 0:
                conjecture_engine.MAX_SHRINKING_SECONDS = _shrink_saved  # type: ignore[assignment]


def backend_failure(adapter: object) -> str | None:
    """The fatal failure an adapter recorded (``ProcessQueue.failure``), if it keeps one."""
    for candidate in (adapter, getattr(adapter, "_host", None)):
        failure = getattr(candidate, "failure", None)
        if isinstance(failure, str) and failure:
            return failure
    return None
