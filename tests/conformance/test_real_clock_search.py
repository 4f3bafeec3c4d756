"""The state machine on the real clock: a queue that reads its own clock gets the search too.

These tests sleep (the real clock is the point) and stay small: budgets of seconds, short
reservation timeouts. A correct queue on its own clock passes with several workers; a broken
one is caught on its clause with a program that replays.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from mqspec.adapters.memory import MemoryQueue
from mqspec.adapters.ownclock import OwnClock, own_clock
from mqspec.adapters.selftest.catalogue import MUTANTS
from mqspec.adapters.selftest.mutants import NeverRestores
from mqspec.adapters.selftest.variants import TickerQueue
from mqspec.conformance.core.engine import run_search
from mqspec.conformance.core.profiles import PROFILES


@pytest.fixture(autouse=True)
def short_shrinking(monkeypatch: pytest.MonkeyPatch) -> None:
    # Shrinking sleeps too: a few seconds are enough to prove it runs and stays bounded.
    monkeypatch.setitem(
        PROFILES, "quick", attrs.evolve(PROFILES["quick"], realtime_shrink=8.0, realtime_steps=10)
    )


def _search(factory: Any, *, budget: float = 6, workers: int = 3, profile: str = "quick") -> Any:
    main = factory()
    opened: list[Any] = []

    def open_queue() -> tuple[Any, Any]:
        queue = factory()
        opened.append(queue)
        return queue, queue.close

    try:
        (done,) = list(
            run_search(
                main, profile, url="py:test", open_queue=open_queue, budget=budget, workers=workers
            )
        )
    finally:
        main.close()
    return done, opened


@pytest.mark.slow
def test_a_correct_queue_on_its_own_clock_passes_the_real_clock_search_MQ_RESTORE_1() -> None:
    done, opened = _search(own_clock(MemoryQueue))
    assert done.clock == "real"
    assert done.divergences == ()
    assert done.workers == 3 and len(opened) == 3  # one queue per worker
    assert done.examples >= 3 and done.steps > 0


@pytest.mark.slow
def test_a_ticker_queue_with_slack_passes_on_the_real_clock_MQ_READY_3() -> None:
    done, _ = _search(lambda: OwnClock(TickerQueue(tick_interval=0.5, timeout=1)))
    assert done.divergences == (), [d.finding.render() for d in done.divergences]


@pytest.mark.slow
def test_a_queue_that_never_restores_is_caught_on_the_real_clock_MQ_RESTORE_1() -> None:
    done, _ = _search(own_clock(NeverRestores), budget=20)
    clauses = {d.clause.id for d in done.divergences}
    honest = next(m.clauses for m in MUTANTS if m.name == "never-restores")
    assert clauses and clauses <= honest, clauses
    divergence = done.divergences[0]
    assert divergence.transcript is not None and divergence.transcript.clock == "real"
    assert "real clock" in divergence.source


class _SometimesSlow:
    """A correct queue on its own clock whose calls number ``slow_calls`` take ``pause``
    seconds (longer than the session's 0.25 s margin): a loaded machine, as an outsider sees
    it."""

    def __init__(self, slow_calls: Any, pause: float = 0.4) -> None:
        self.queue = OwnClock(MemoryQueue(timeout=1))
        self.slow_calls = slow_calls
        self.pause = pause
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.queue, name)

    def _maybe_pause(self) -> None:
        import time

        self.calls += 1
        if self.calls in self.slow_calls:
            time.sleep(self.pause)

    def push(self, task: Any, now: Any) -> Any:
        self._maybe_pause()
        return self.queue.push(task, now)

    def reserve(self, now: Any) -> Any:
        self._maybe_pause()
        return self.queue.reserve(now)

    def delete(self, task: Any, now: Any) -> None:
        self._maybe_pause()
        self.queue.delete(task, now)


class _Every:
    def __init__(self, n: int) -> None:
        self.n = n

    def __contains__(self, call: int) -> bool:
        return call % self.n == 0


@pytest.mark.slow
def test_a_rare_slow_call_drops_its_case_and_the_search_goes_on() -> None:
    """One slow call per queue (its 20th): that case is dropped unjudged and counted, never a
    divergence, and the search goes on to its verdict."""
    done, _ = _search(lambda: _SometimesSlow({20}), budget=8, workers=2)
    assert done.divergences == (), [d.finding.render() for d in done.divergences]
    assert 0 < done.dropped < done.examples
    assert "margin" in done.dropped_why


@pytest.mark.slow
def test_a_backend_too_slow_to_judge_is_an_error_naming_the_margin() -> None:
    from mqspec.reference.errors import DriverError

    with pytest.raises(DriverError, match=r"dropped unjudged.*more than the 0.25s margin"):
        _search(lambda: _SometimesSlow(_Every(2)), budget=4, workers=2)


def test_time_rules_need_an_operation_since_the_last_one() -> None:
    """No real-clock case sleeps before its first operation or twice in a row."""
    from types import SimpleNamespace

    from mqspec.conformance.core.realclock import _time_may_pass

    def machine(*ops: str) -> Any:
        steps = [SimpleNamespace(op=op) for op in ops]
        return SimpleNamespace(session=SimpleNamespace(transcript=SimpleNamespace(steps=steps)))

    assert not _time_may_pass(machine())
    assert _time_may_pass(machine("push"))
    assert not _time_may_pass(machine("push", "advance"))
    assert _time_may_pass(machine("push", "advance", "reserve"))


def test_every_real_clock_catalogue_entry_runs_on_a_short_timeout() -> None:
    """Each entry `mqspec selftest --real-clock` runs declares a T the real clock accepts (a
    mutant whose factory ignored `timeout` was refused mid-selftest once)."""
    from mqspec.conformance.core.profiles import REALTIME_MAX_TIMEOUT
    from mqspec.conformance.frontends.selftest import real_clock_catalogue

    for entry in real_clock_catalogue():
        if entry.not_run:
            continue
        queue = entry.factory()
        try:
            timeout = queue.capabilities.reservation_timeout
            assert timeout <= REALTIME_MAX_TIMEOUT, (entry.name, timeout)
        finally:
            queue.close()


def test_a_selftest_entry_the_real_clock_refuses_is_an_error_row_not_a_crash() -> None:
    from mqspec.adapters.selftest.catalogue import SelftestQueue
    from mqspec.conformance.frontends.selftest import check

    entry = SelftestQueue(
        name="long-timeout",
        factory=lambda: OwnClock(MemoryQueue(timeout=60)),
        profile="realtime",
        strict=True,
        summary="a correct queue whose T is too long to sleep through",
    )
    row = check(entry)
    assert not row.ok and row.verdict == "error"
    assert "reservation timeout of at most 5s" in row.problem


def test_only_crash_entries_are_left_out_of_the_real_clock_catalogue() -> None:
    """Faults and concurrency entries run on their own clock too; the crash entries (reopened
    by URL, out of the wrapper's reach) are listed with the reason, not dropped."""
    from mqspec.conformance.frontends.selftest import catalogue, real_clock_catalogue

    real = real_clock_catalogue()
    assert len(real) == len(catalogue())
    left_out = [e for e in real if e.not_run]
    assert left_out and all(e.url is not None and "URL" in e.not_run for e in left_out)
    profiles = {e.profile for e in real if not e.not_run}
    assert {"realtime", "faults", "concurrency"} <= profiles


@pytest.fixture
def short_faults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        PROFILES, "faults", attrs.evolve(PROFILES["faults"], realtime_shrink=8.0, realtime_steps=10)
    )


@pytest.mark.slow
def test_the_faults_phase_on_the_real_clock_runs_a_rig_per_worker_MQ_LOSS_2(
    short_faults: None,
) -> None:
    done, rigged = _search(own_clock(MemoryQueue), budget=6, profile="faults")
    assert done.phase == "faults" and done.clock == "real"
    assert done.divergences == (), [d.finding.render() for d in done.divergences]
    assert done.workers == 3 and len(rigged) == 3  # one queue, and one fault rig, per worker
    stats = done.faults
    assert stats is not None and stats.cases == done.examples > 0
    assert sum(stats.fired.values()) > 0  # faults did strike: the phase is not a plain search
    assert stats.lost == stats.duplicated == 0


@pytest.mark.slow
def test_a_fault_mutant_is_caught_by_the_faults_phase_on_the_real_clock_MQ_LOSS_2(
    short_faults: None,
) -> None:
    # Run one after another, a dozen sleeping examples found none of the fault mutants; the
    # parallel workers find this one within seconds.
    from mqspec.adapters.selftest.catalogue import FAULT_MUTANTS
    from mqspec.adapters.selftest.fault_mutants import PopBeforeRecord

    done, _ = _search(
        lambda: OwnClock(PopBeforeRecord(timeout=1)), budget=30, workers=4, profile="faults"
    )
    clauses = {d.clause.id for d in done.divergences}
    honest = next(m.clauses for m in FAULT_MUTANTS if m.name == "pop-before-record")
    assert clauses and clauses <= honest, clauses
    assert all("faults, real clock" in d.source for d in done.divergences)


def test_a_server_workers_fault_rig_reaches_that_workers_namespace() -> None:
    """Each real-clock faults worker is on a namespace of its own; its rig, which reopens the
    queue through a proxy by URL, must name that namespace, not the first adapter's."""
    from mqspec.conformance.core.phases import _on_namespace_of

    class Worker:
        queue = "mqspec_w7"

    url = "postgresql://postgres@127.0.0.1:5432/test?queue=mqspec_main&timeout=1"
    assert _on_namespace_of(Worker(), url) == (  # type: ignore[arg-type]
        "postgresql://postgres@127.0.0.1:5432/test?timeout=1&queue=mqspec_w7"
    )
    assert _on_namespace_of(OwnClock(MemoryQueue()), "py:x") == "py:x"  # says no name: as given
