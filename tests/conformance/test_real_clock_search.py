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
from mqspec.conformance.core.engine import run, run_search
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
@pytest.mark.soak  # about 45 s of sleeping: scenarios, a search and its shrinking
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


def test_slow_calls_at_the_same_time_in_several_workers_are_one_stall() -> None:
    """One pause of the whole process slows every worker's call in flight: it drops up to one
    case per worker, and must count once, or a phase of few cases becomes an error for a
    single garbage collection. Separate slow calls each count."""
    from mqspec.conformance.core.realclock import stalls, too_few_judged

    assert stalls([]) == 0
    together = [(10.0, 13.5), (10.2, 13.5), (12.9, 13.6)]  # three workers, one 3.5 s pause
    assert stalls(together) == 1
    assert not too_few_judged(stalls(together), dropped=3, cases=8)
    apart = [(10.0, 10.4), (20.0, 20.4), (30.0, 30.4)]
    assert stalls(apart) == 3
    assert too_few_judged(stalls(apart), dropped=3, cases=8)  # 3 of 8 is more than a quarter
    assert stalls([(1.0, 2.0), (1.5, 3.0), (3.5, 4.0)]) == 2


def test_a_queue_slow_all_the_time_is_many_stalls_not_one_chain() -> None:
    """Two workers on a queue whose every other call is slow: their slow calls overlap in a
    chain (each overlaps the next) but no moment is inside them all. Merging the chain counted
    the whole run as one stall and let a queue too slow to judge pass (a CI failure of
    `test_a_backend_too_slow_to_judge_is_an_error_naming_the_margin`)."""
    from mqspec.conformance.core.realclock import stalls, too_few_judged

    staggered = [(0.0, 0.4), (0.2, 0.6), (0.41, 0.81), (0.61, 1.01), (0.82, 1.22), (1.02, 1.42)]
    assert stalls(staggered) == 3  # at 0.4, 0.81 and 1.22
    assert too_few_judged(stalls(staggered), dropped=6, cases=6)


def test_most_cases_dropped_in_several_stalls_is_an_error() -> None:
    """Sixteen workers slowed together again and again: every moment covers sixteen dropped
    cases, so the stalls are few beside the cases, but a verdict would rest on almost none."""
    from mqspec.conformance.core.realclock import too_few_judged

    assert too_few_judged(stalled=3, dropped=48, cases=60)
    assert not too_few_judged(stalled=1, dropped=16, cases=60)  # one pause of sixteen workers
    # One pause in a short phase may take most of its cases: the verdict rests on the rest...
    assert not too_few_judged(stalled=1, dropped=16, cases=20)
    # ...but never on none.
    assert too_few_judged(stalled=1, dropped=8, cases=8)
    assert not too_few_judged(stalled=0, dropped=0, cases=0)


def test_a_dropped_case_is_counted_on_its_own_machine_class_only() -> None:
    """The crash and fault machines are made without `machine_for`; the slow call a case of
    theirs dropped must be counted on their class, not on every machine's base class (where
    the next run, in the same process, would count it again)."""
    from mqspec.conformance.core.statemachine import QueueMachine

    bound = type(
        "Bound", (QueueMachine,), {"adapter": MemoryQueue(), "url": "m", "findings": []}
    )
    machine = bound()
    machine.session.dropped = "a call slower than the margin"
    machine.session.dropped_span = (1.0, 2.0)
    machine.teardown()
    assert bound.dropped_spans == [(1.0, 2.0)] and bound.cases_dropped == 1
    assert QueueMachine.dropped_spans == [] and QueueMachine.cases_dropped == 0


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


def test_the_real_clock_catalogue_runs_every_entry_crash_entries_by_a_url_on_their_own_clock():
    """Every entry runs on its own clock, faults, concurrency and crash entries included; a
    crash entry (reopened by URL in a host process) gets a URL naming its queue on its own
    clock, which opens a queue that reads its own clock and is still durable."""
    from mqspec.adapters.registry import open_adapter
    from mqspec.conformance.frontends.selftest import catalogue, real_clock_catalogue

    real = real_clock_catalogue()
    assert len(real) == len(catalogue())
    assert not [e.name for e in real if e.not_run]
    assert {"realtime", "faults", "concurrency", "crash", "quick"} <= {e.profile for e in real}
    by_url = [e for e in real if e.url is not None]
    assert {e.profile for e in by_url} == {"quick", "crash"}
    for entry in by_url:
        assert entry.url.startswith("py:mqspec.adapters.ownclock:on_own_clock?of=")
        queue = open_adapter(entry.url)
        try:
            caps = queue.capabilities
            assert not caps.virtual_time and caps.durable and caps.reservation_timeout == 1
        finally:
            queue.close()


def test_a_url_on_its_own_clock_names_a_bad_target_or_timeout() -> None:
    from mqspec.adapters.registry import open_adapter
    from mqspec.reference.errors import UsageError

    base = "py:mqspec.adapters.ownclock:on_own_clock"
    with pytest.raises(UsageError, match="no callable 'Nothing'"):
        open_adapter(f"{base}?of=mqspec.adapters.memory:Nothing")
    with pytest.raises(UsageError, match="timeout='soon' is not a number"):
        open_adapter(f"{base}?of=mqspec.adapters.memory:MemoryQueue&timeout=soon")


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
@pytest.mark.soak  # about 30 s of sleeping: the faults phase's budget and shrinking
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


def _own_clock_url(**option: str) -> str:
    from urllib.parse import urlencode

    return f"py:mqspec.adapters.ownclock:on_own_clock?{urlencode(option)}"


@pytest.mark.slow
@pytest.mark.soak  # about a minute of sleeping: a search's budget, twice, and shrinking
def test_the_crash_phase_on_the_real_clock_passes_sqlite_and_catches_a_forgetful_queue_MQ_DURABLE_1(
    tmp_path,
) -> None:
    """Crash and restart on a queue that reads its own clock: the restart takes real time,
    which the model counts. SQLite (its own wall clock, durable) conforms with crashes inside
    operations; a queue that only claims durability is caught on MQ-DURABLE-1."""
    from mqspec.conformance.core.phases import crash_phase
    from mqspec.conformance.core.profiles import Profile

    small = Profile("crash", 3, 8, crash=True, realtime_shrink=5)
    sqlite = _own_clock_url(url=f"sqlite:///{tmp_path / 'q.db'}")
    done = crash_phase(sqlite, small, True, 0, realtime=True, budget=6)
    assert done.divergences == (), done.divergences[0].finding.message
    assert done.restarts > 0 and done.workers == 1  # a py: queue: one worker, on the URL
    forgetful = _own_clock_url(of="mqspec.adapters.selftest.mutants:ForgetfulDurable")
    broken = crash_phase(forgetful, small, True, 0, realtime=True, budget=30)
    assert [d.clause.id for d in broken.divergences] == ["MQ-DURABLE-1"]
    assert broken.divergences[0].source.startswith("crash")


@pytest.mark.slow
def test_the_crash_phase_on_the_real_clock_runs_workers_each_killing_its_own_host_MQ_DURABLE_1(
    tmp_path,
) -> None:
    """SQLite on its own clock (now=None): each worker reopens a namespace of its own in a
    host process of its own and kills it; the restarts add up, and nothing is lost."""
    from mqspec.adapters.registry import open_isolated_url
    from mqspec.conformance.core.phases import crash_phase
    from mqspec.conformance.core.profiles import Profile

    url = f"sqlite:///{tmp_path / 'q.db'}?timeout=1"
    _, opened, cleanup = open_isolated_url(url)

    def opener():
        queue, _, close = open_isolated_url(url)
        return queue, close

    small = Profile("crash", 3, 8, crash=True, realtime_shrink=5)
    try:
        done = crash_phase(
            opened, small, True, 0, realtime=True, open_queue=opener, budget=6, workers=3
        )
    finally:
        cleanup()
    assert done.divergences == (), done.divergences[0].finding.message
    assert done.workers == 3 and done.clock == "real"
    assert done.restarts >= 3 and done.examples >= 3


def test_a_durable_queue_a_new_process_or_instance_serves_gets_one_real_clock_worker_and_a_note():
    """Workers of an exec: or py: queue are new processes or instances, which a durable queue
    may back by one shared store: by default they run one at a time, and the run says why.
    Queues in memory, and SQLite or servers (a namespace each), keep their workers."""
    from mqspec.adapters.selftest.mutants import ForgetfulDurable
    from mqspec.conformance.core.engine import shared_storage
    from mqspec.conformance.core.events import RunStarted

    durable = OwnClock(ForgetfulDurable(timeout=1)).capabilities
    memory = OwnClock(MemoryQueue(timeout=1)).capabilities
    assert "--workers N" in shared_storage(durable, "exec:./my-driver --db q.bolt")
    assert "MQSPEC_NAMESPACE" in shared_storage(durable, "py:my.module:Queue")
    assert shared_storage(memory, "exec:./my-driver") == ""
    assert shared_storage(durable, "sqlite:///q.db?queue=w1") == ""

    def started(queue, **given):
        events = run(queue, url="py:x", open_queue=lambda: (queue, lambda: None), **given)
        first = next(events)
        events.close()
        assert isinstance(first, RunStarted)
        return first.notes

    (note,) = started(OwnClock(ForgetfulDurable(timeout=1)))
    assert note.startswith("one real-clock worker")
    assert started(OwnClock(ForgetfulDurable(timeout=1)), workers=4) == ()  # the user's choice
    assert started(OwnClock(MemoryQueue(timeout=1))) == ()


def test_a_worker_namespace_keeps_an_absolute_sqlite_path() -> None:
    from mqspec.adapters.sqlite import SqliteQueue
    from mqspec.conformance.core.phases import _on_namespace_of

    queue = SqliteQueue(":memory:", queue="mqspec_w2")
    try:
        assert (
            _on_namespace_of(queue, "sqlite:////tmp/q.db?timeout=1&queue=mqspec_w1")
            == "sqlite:////tmp/q.db?timeout=1&queue=mqspec_w2"
        )
    finally:
        queue.close()
