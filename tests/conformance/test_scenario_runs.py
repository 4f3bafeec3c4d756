"""The fixed scenarios on the real clock run their cases in parallel, with the same verdicts.

Real clock: these tests sleep, but only through a handful of short scenarios (about 2 s in
all one after another), chosen so that one mutant breaks some and passes others.
"""

from __future__ import annotations

import threading

import pytest

from mqspec.adapters.memory import MemoryQueue
from mqspec.adapters.ownclock import OwnClock
from mqspec.adapters.selftest import mutants as m
from mqspec.conformance.core.scenario_runs import run_scenarios
from mqspec.conformance.core.scenarios import SCENARIOS
from mqspec.reference.errors import DriverError

# Instant on the real clock but for no_double_delivery and stale_delete (about 1.25 s each).
_NAMES = (
    "invalid_tasks_are_refused",
    "higher_priority_first",
    "delete_absent_succeeds",
    "no_double_delivery",
    "stale_delete",
    "reserve_carries_token",  # skipped: the queue declares no tokens
)
_CHOSEN = [s for s in SCENARIOS if s.name in _NAMES]


class _Opened:
    """An opener that counts the queues it opened and closed, by thread."""

    def __init__(self, make) -> None:
        self.make = make
        self.opened = 0
        self.closed = 0
        self.threads: set[str] = set()
        self.lock = threading.Lock()

    def __call__(self):
        queue = OwnClock(self.make())
        with self.lock:
            self.opened += 1
            self.threads.add(threading.current_thread().name)

        def close() -> None:
            with self.lock:
                self.closed += 1

        return queue, close


def _summary(events):
    return [
        (e.scenario.name, e.status, sorted(d.clause.id for d in e.divergences), e.cases, e.clean)
        for e in events
    ]


@pytest.mark.parametrize("make", [m.PriorityIgnored, m.AcceptsInvalid, MemoryQueue])
def test_parallel_scenarios_give_the_verdicts_of_sequential_ones_MQ_ORDER_1_MQ_TASK_1(make) -> None:
    """The same events, in the same order, whether the cases run one after another on the
    caller's queue or spread over workers each on a queue of its own."""
    one = OwnClock(make(timeout=1))
    sequential = list(run_scenarios(one, _CHOSEN, "py:x", False, realtime=True))
    opener = _Opened(lambda: make(timeout=1))
    parallel = list(
        run_scenarios(one, _CHOSEN, "py:x", False, realtime=True, open_queue=opener, workers=4)
    )
    assert _summary(parallel) == _summary(sequential)
    assert [e.scenario.name for e in parallel] == [s.name for s in _CHOSEN]
    assert 1 < opener.opened <= 4, "the cases ran on more than one worker's queue, at most 4"
    assert opener.closed == opener.opened
    statuses = {e.scenario.name: e.status for e in parallel}
    assert statuses["reserve_carries_token"] == "skip"
    if make is m.PriorityIgnored:
        assert statuses["higher_priority_first"] == "fail"
        assert statuses["invalid_tasks_are_refused"] == "pass"
    elif make is m.AcceptsInvalid:
        assert statuses["invalid_tasks_are_refused"] == "fail"
        assert statuses["higher_priority_first"] == "pass"
    else:
        assert {"fail", "warn"}.isdisjoint(statuses.values())


def test_parallel_scenarios_without_an_opener_or_off_the_real_clock_run_on_the_callers_queue():
    opener = _Opened(lambda: MemoryQueue(timeout=1))
    events = list(
        run_scenarios(MemoryQueue(), _CHOSEN, "memory://", False, open_queue=opener, workers=4)
    )
    assert opener.opened == 0  # virtual time: nothing to overlap
    assert [e.status for e in events] == ["pass"] * 5 + ["skip"]


class _BreaksOnPush(MemoryQueue):
    def push(self, task, now):
        raise DriverError("the driver exited (status 1)")


def test_a_driver_error_in_a_parallel_case_ends_the_run_and_closes_every_queue() -> None:
    opener = _Opened(lambda: _BreaksOnPush(timeout=1))
    events = run_scenarios(
        OwnClock(_BreaksOnPush(timeout=1)),
        _CHOSEN,
        "py:x",
        False,
        realtime=True,
        open_queue=opener,
        workers=3,
    )
    with pytest.raises(DriverError, match="exited"):
        list(events)
    assert opener.opened >= 1
    assert opener.closed == opener.opened
