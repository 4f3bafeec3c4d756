"""The bounded real-time profile: the production code path, on the real clock.

Tests that sleep (about 40 s each, so they are `soak`: `make test-soak`, run by CI after `make
test`): the scenarios with a 1 s reservation timeout, then the real-clock state machine for a
budget of seconds. `make test` keeps the real clock through `test_real_clock_search.py`.
RealClock's own tests use a fake sleep and never wait.
"""

from __future__ import annotations

import pytest

from mqspec.adapters.memory import MemoryQueue
from mqspec.adapters.selftest.mutants import NeverRestores
from mqspec.conformance.core.clock import RealClock
from mqspec.conformance.core.engine import run
from mqspec.conformance.core.events import RunFinished
from mqspec.conformance.core.session import Session
from mqspec.conformance.frontends.render import render_failure
from mqspec.reference.errors import DriverError, UsageError
from tests.conformance.slow import SlowFirstReserves


def _result(adapter, profile="realtime"):
    for event in run(adapter, url="memory://?timeout=1", profile=profile, budget=8):
        if isinstance(event, RunFinished):
            return event.result
    raise AssertionError("no RunFinished")


@pytest.mark.slow
@pytest.mark.soak
def test_realtime_profile_passes_a_correct_queue() -> None:
    result = _result(MemoryQueue(timeout=1))
    assert result.verdict == "conforms", render_failure(result)
    assert {c.status for c in result.clauses} <= {"pass", "skip"}


@pytest.mark.slow
@pytest.mark.soak
def test_realtime_profile_catches_a_lost_restore_MQ_RESTORE_1() -> None:
    result = _result(NeverRestores(timeout=1))
    assert result.verdict == "diverges"
    assert "MQ-RESTORE-1" in {d.clause.id for d in result.divergences}


def test_realtime_profile_refuses_a_long_timeout() -> None:
    with pytest.raises(UsageError, match=r"open it with \?timeout=1"):
        _result(MemoryQueue(timeout=60))


class _FakeTime:
    def __init__(self) -> None:
        self.t = 100.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


def test_real_clock_sleeps_only_forward() -> None:
    fake = _FakeTime()
    clock = RealClock()
    clock.monotonic, clock.sleep = fake.monotonic, fake.sleep
    clock._origin = fake.t  # as if created now
    assert clock.now() == 0
    assert clock.advance_to(2.5) == 2.5
    assert clock.advance_to(1.0) == 2.5  # already passed: no sleep
    assert fake.slept == [2.5]
    with pytest.raises(UsageError, match=r"^time can only jump forward"):
        clock.jump(-1)


class _SlowQueue(MemoryQueue):
    def reserve(self, now):
        import time

        time.sleep(0.05)
        return super().reserve(now)


def test_an_operation_slower_than_the_margin_aborts() -> None:
    session = Session(_SlowQueue(timeout=1), realtime=True, margin=0.01)
    with pytest.raises(DriverError, match=r"real-time profile: reserve took .* margin"):
        session.reserve()


def _slow_once() -> SlowFirstReserves:
    """A correct queue on its own clock whose first Reserve takes 0.4 s (past the margin)."""
    from mqspec.adapters.ownclock import OwnClock

    return SlowFirstReserves(OwnClock(MemoryQueue(timeout=1)))


def test_a_scenario_case_with_one_slow_call_runs_again_and_is_judged_MQ_RESERVE_1() -> None:
    from mqspec.conformance.core.engine import run_scenario
    from mqspec.conformance.core.scenarios import SCENARIOS

    scenario = next(s for s in SCENARIOS if s.clause.id == "MQ-RESERVE-1")
    queue = _slow_once()
    done = run_scenario(queue, scenario, "py:slow-once", strict=True, realtime=True)
    assert done.status == "pass", done.reason
    assert queue.slow == 0  # the slow call happened, and was not judged


def test_a_scenario_whose_calls_stay_slow_is_an_error_naming_the_margin() -> None:
    from mqspec.conformance.core.engine import run_scenario
    from mqspec.conformance.core.scenarios import SCENARIOS
    from mqspec.conformance.core.session import SlowCall

    scenario = next(s for s in SCENARIOS if s.clause.id == "MQ-RESERVE-1")
    queue = _slow_once()
    queue.slow = 10
    with pytest.raises(SlowCall, match=r"more than the 0\.25s margin"):
        run_scenario(queue, scenario, "py:slow", strict=True, realtime=True)


def test_the_deep_queue_scenario_catches_a_loss_that_starts_at_depth_on_the_real_clock_MQ_LOSS_1():
    """A queue that silently drops pushes past 100 live jobs: the real-clock search's short
    examples rarely get that deep, so a fixed scenario must; correct queues pass it."""
    from mqspec.adapters.ownclock import OwnClock
    from mqspec.adapters.selftest.catalogue import MUTANTS
    from mqspec.adapters.selftest.mutants import SilentCapacity
    from mqspec.conformance.core.engine import run_scenario
    from mqspec.conformance.core.scenarios import DEEP, SCENARIOS

    scenario = next(s for s in SCENARIOS if s.name == "a_deep_queue_loses_nothing")
    assert scenario.clause.id == "MQ-LOSS-1" and DEEP > 100
    broken = run_scenario(
        OwnClock(SilentCapacity(timeout=1)), scenario, "py:x", False, realtime=True
    )
    honest = next(m.clauses for m in MUTANTS if m.name == "silent-capacity")
    assert broken.status == "fail"
    assert {d.clause.id for d in broken.divergences} <= honest
    correct = run_scenario(OwnClock(MemoryQueue(timeout=1)), scenario, "py:x", False, realtime=True)
    assert correct.status == "pass", correct.reason
