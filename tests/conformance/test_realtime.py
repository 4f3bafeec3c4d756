"""The bounded real-time profile: the production code path, on the real clock.

Tests that sleep (about a minute each): the scenarios with a 1 s reservation timeout, then the
real-clock state machine for a budget of seconds.
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


def _result(adapter, profile="realtime"):
    for event in run(adapter, url="memory://?timeout=1", profile=profile, budget=8):
        if isinstance(event, RunFinished):
            return event.result
    raise AssertionError("no RunFinished")


@pytest.mark.slow
def test_realtime_profile_passes_a_correct_queue() -> None:
    result = _result(MemoryQueue(timeout=1))
    assert result.verdict == "conforms", render_failure(result)
    assert {c.status for c in result.clauses} <= {"pass", "skip"}


@pytest.mark.slow
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
