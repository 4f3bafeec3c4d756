"""Tests of the conformance engine (mqspec.conformance.core.engine) and its renderer (render.py).

The state machine runs with a small profile (monkeypatched over "quick") to keep these fast;
the suite's full power against every mutant is tested in tests/quality.
"""

from __future__ import annotations

import attrs
import pytest

from mqspec.adapters.memory import MemoryQueue
from mqspec.adapters.selftest.catalogue import CORRECT_VARIANTS
from mqspec.adapters.selftest.mutants import (
    AcceptsInvalid,
    DeleteAbsentFails,
    DeleteAnything,
    EmptyIsError,
    RestoreToTail,
)
from mqspec.adapters.selftest.variants import TickerQueue
from mqspec.adapters.sqlite import SqliteQueue
from mqspec.conformance.core import engine
from mqspec.conformance.core.engine import NOT_EXERCISED, run
from mqspec.conformance.core.events import PhaseDone, RunFinished, RunStarted, ScenarioDone
from mqspec.conformance.core.profiles import Profile
from mqspec.conformance.core.results import RunResult
from mqspec.conformance.core.scenarios import SCENARIOS
from mqspec.conformance.core.statemachine import machine_for
from mqspec.conformance.core.violations import ContractViolation
from mqspec.conformance.frontends.render import render_divergence, render_failure, render_summary
from mqspec.reference.clauses import CATALOGUE
from mqspec.reference.errors import UsageError

SMALL = Profile("quick", examples=8, steps=15)
LIVE_CLAUSES = [c.id for c in CATALOGUE.values() if not c.withdrawn]


@pytest.fixture(autouse=True)
def small_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(engine.PROFILES, "quick", SMALL)


def events(adapter, **options) -> list:
    try:
        return list(run(adapter, **options))
    finally:
        adapter.close()


def result_of(adapter, **options) -> RunResult:
    last = events(adapter, **options)[-1]
    assert isinstance(last, RunFinished)
    return last.result


def statuses(result: RunResult) -> dict[str, str]:
    return {c.clause.id: c.status for c in result.clauses}


# -- a conforming queue ------------------------------------------------------------------------


def test_events_in_order_and_verdict_conforms():
    adapter = MemoryQueue()
    seen = events(adapter, url="memory://", seed=3)
    assert isinstance(seen[0], RunStarted)
    assert seen[0].url == "memory://"
    assert seen[0].capabilities == adapter.capabilities
    assert seen[0].profile == SMALL
    assert seen[0].seed == 3
    scenario_events = seen[1 : 1 + len(SCENARIOS)]
    assert all(isinstance(e, ScenarioDone) for e in scenario_events)
    assert [e.scenario for e in scenario_events] == SCENARIOS
    assert isinstance(seen[-2], PhaseDone) and seen[-2].phase == "stateful"
    assert seen[-2].examples == SMALL.examples
    assert seen[-2].divergence is None
    assert isinstance(seen[-1], RunFinished)
    assert len(seen) == len(SCENARIOS) + 3
    result = seen[-1].result
    assert result.verdict == "conforms"
    assert (result.url, result.profile, result.seed, result.strict) == (
        "memory://",
        "quick",
        3,
        False,
    )
    assert result.error == ""
    assert result.duration >= 0
    assert result.divergences == ()
    assert result.warnings == ()


def test_every_live_clause_appears_once():
    result = result_of(MemoryQueue())
    assert [c.clause.id for c in result.clauses] == LIVE_CLAUSES
    assert all(not c.clause.withdrawn for c in result.clauses)


def test_skipped_clauses_say_why():
    result = result_of(MemoryQueue())
    for item in result.clauses:
        assert item.status in ("pass", "skip"), item
        if item.status == "skip":
            assert item.reason.strip(), f"{item.clause.id} skipped without a reason"
    reasons = {c.clause.id: c.reason for c in result.clauses if c.status == "skip"}
    assert set(reasons) == {
        "MQ-PUSH-3",
        "MQ-DELETE-4",
        "MQ-TOKEN-1",
        "MQ-LOSS-2",
        "MQ-LOSS-3",
        "MQ-DURABLE-1",
    }
    assert "reservation_tokens" in reasons["MQ-TOKEN-1"]
    assert "slack 0" in reasons["MQ-DELETE-4"]
    assert "max_jobs" in reasons["MQ-PUSH-3"]
    assert reasons["MQ-LOSS-2"] == NOT_EXERCISED["MQ-LOSS-2"]
    assert reasons["MQ-DURABLE-1"] == "the queue does not declare durable"
    assert "fault" in reasons["MQ-LOSS-3"]


def test_a_skip_is_a_gap_unless_the_declared_capabilities_put_the_clause_out_of_reach(tmp_path):
    result = result_of(MemoryQueue())
    out_of_reach = {c.clause.id for c in result.clauses if not c.applicable}
    assert out_of_reach == {"MQ-PUSH-3", "MQ-DELETE-4", "MQ-TOKEN-1", "MQ-DURABLE-1"}
    assert [c.clause.id for c in result.not_exercised] == ["MQ-LOSS-2", "MQ-LOSS-3"]
    # A durable queue has MQ-DURABLE-1 to keep: unexercised, it is a gap, not out of reach.
    # (Opened without its URL, the crash check cannot reopen it, so no crash ran.)
    durable = result_of(SqliteQueue(str(tmp_path / "q.db")))
    assert durable.capabilities is not None and durable.capabilities.durable
    assert "MQ-DURABLE-1" in {c.clause.id for c in durable.not_exercised}


def test_a_clause_whose_scenario_stopped_on_another_is_not_exercised_not_out_of_reach():
    result = result_of(EmptyIsError())
    stopped = [c for c in result.clauses if c.reason.startswith("scenario ") and c.status == "skip"]
    assert stopped, "EmptyIsError stops scenarios early on MQ-RESERVE-1"
    assert all(c.applicable and c in result.not_exercised for c in stopped)
    assert result.basis.startswith(f"{sum(c.status == 'pass' for c in result.clauses)} pass, ")


def test_skipped_scenarios_are_skip_events_with_reasons():
    seen = events(MemoryQueue())
    skipped = {
        e.scenario.clause.id: e.reason
        for e in seen
        if isinstance(e, ScenarioDone) and e.status == "skip"
    }
    assert set(skipped) == {"MQ-PUSH-3", "MQ-DELETE-4", "MQ-TOKEN-1"}
    assert all(skipped.values())


def test_tokens_exercise_MQ_TOKEN_1():
    result = result_of(MemoryQueue(tokens=True))
    assert result.verdict == "conforms"
    assert statuses(result)["MQ-TOKEN-1"] == "pass"


def test_a_ticker_with_slack_exercises_MQ_DELETE_4():
    result = result_of(TickerQueue(tick_interval=1))
    assert result.verdict == "conforms", render_failure(result)
    assert statuses(result)["MQ-DELETE-4"] == "pass"


def test_a_capacity_exercises_MQ_PUSH_3():
    result = result_of(MemoryQueue(max_jobs=5))
    assert result.verdict == "conforms", render_failure(result)
    assert statuses(result)["MQ-PUSH-3"] == "pass"


@pytest.mark.parametrize("name", sorted(CORRECT_VARIANTS))
def test_every_correct_variant_conforms_strictly(name):
    result = result_of(CORRECT_VARIANTS[name](), url=name, strict=True)
    assert result.verdict == "conforms", render_failure(result)
    assert result.warnings == ()


# -- a diverging queue -------------------------------------------------------------------------


def test_a_mutant_diverges_with_a_transcript_MQ_RESERVE_1():
    seen = events(EmptyIsError(), url="py:mqspec.adapters.selftest.mutants:EmptyIsError")
    result = seen[-1].result
    assert result.verdict == "diverges"
    assert statuses(result)["MQ-RESERVE-1"] == "fail"
    assert result.divergences
    assert {d.clause.id for d in result.divergences} == {"MQ-RESERVE-1"}
    for divergence in result.divergences:
        assert divergence.transcript is not None
        assert divergence.transcript.steps
        assert divergence.transcript.url == "py:mqspec.adapters.selftest.mutants:EmptyIsError"
    failed = {
        e.scenario.name: e for e in seen if isinstance(e, ScenarioDone) and e.status == "fail"
    }
    assert "empty_is_null" in failed
    for done in failed.values():
        assert done.reason
        assert done.divergence is not None
        assert done.divergence.source.startswith(f"scenario {done.scenario.name}")
        assert done.divergence.transcript.steps
    own = failed["empty_is_null"].divergence
    assert own.clause.id == "MQ-RESERVE-1"
    assert [s.op for s in own.transcript.steps] == ["reserve"]


@pytest.mark.slow
@pytest.mark.usefixtures("short_shrinking")  # the queue breaks MQ-DELETE-3 alone
def test_the_stateful_machine_finds_a_divergence_alone_MQ_DELETE_3(monkeypatch):
    monkeypatch.setattr(engine, "SCENARIOS", [])
    seen = events(DeleteAbsentFails())
    stateful = seen[-2]
    assert isinstance(stateful, PhaseDone) and stateful.phase == "stateful"
    assert stateful.divergence is not None
    assert stateful.divergence.source == "stateful"
    assert stateful.divergence.clause.id == "MQ-DELETE-3"
    assert stateful.divergence.transcript.steps
    result = seen[-1].result
    assert result.verdict == "diverges"
    assert statuses(result)["MQ-DELETE-3"] == "fail"
    # Without scenarios nothing is marked as passing: the machine alone proves no clause.
    assert set(statuses(result).values()) == {"skip", "fail"}


def test_the_same_seed_finds_the_same_minimal_program(monkeypatch):
    monkeypatch.setattr(engine, "SCENARIOS", [])
    first = result_of(AcceptsInvalid(), seed=7).divergences[0].transcript.listing()
    again = result_of(AcceptsInvalid(), seed=7).divergences[0].transcript.listing()
    assert first == again


def test_a_case_that_failed_is_not_drained_MQ_DELETE_2():
    """Regression: the machine's teardown drained after a rule raised, and the drain's finding
    (MQ-LOSS-1) replaced the rule's (MQ-DELETE-2)."""
    machine = machine_for(DeleteAnything())()
    machine.push(priority=0, delay=0, fields={})
    with pytest.raises(ContractViolation) as caught:
        try:
            machine.delete_pushed({"id": "job-1", "priority": 0})
        finally:
            machine.teardown()
    assert caught.value.finding.clause.id == "MQ-DELETE-2"
    assert [s.op for s in caught.value.transcript.steps] == ["push", "delete"]


# -- SHOULD findings: MQ-RESTORE-3 ----------------------------------------------------------


def test_restore_to_tail_warns_when_not_strict_MQ_RESTORE_3():
    result = result_of(RestoreToTail())
    assert result.verdict == "conforms"
    assert statuses(result)["MQ-RESTORE-3"] == "warn"
    assert [w.clause.id for w in result.warnings] == ["MQ-RESTORE-3"]
    assert result.warnings[0].source == "scenario seed_example_a_b_c"


def test_restore_to_tail_fails_when_strict_MQ_RESTORE_3():
    result = result_of(RestoreToTail(), strict=True)
    assert result.verdict == "diverges"
    assert statuses(result)["MQ-RESTORE-3"] == "fail"
    assert "MQ-RESTORE-3" in {d.clause.id for d in result.divergences}
    assert result.strict


# -- errors --------------------------------------------------------------------------------


def test_unknown_profile_is_a_usage_error():
    with pytest.raises(
        UsageError,
        match=r"^unknown profile 'nope'; known: quick, thorough, realtime, crash, faults, "
        r"concurrency, full$",
    ):
        next(run(MemoryQueue(), profile="nope"))


def test_an_adapter_that_cannot_reset_ends_the_run_with_an_error():
    class BrokenReset(MemoryQueue):
        def reset(self, now):
            raise OSError("disk gone")

    seen = events(BrokenReset())
    assert isinstance(seen[0], RunStarted)
    assert isinstance(seen[-1], RunFinished)
    result = seen[-1].result
    assert result.verdict == "error"
    assert result.error == "the adapter failed to reset: OSError: disk gone"


def test_an_adapter_without_virtual_time_needs_a_short_timeout():
    class RealTime(MemoryQueue):
        @property
        def capabilities(self):
            return attrs.evolve(super().capabilities, virtual_time=False)

    # Without virtual time the run is the real-time profile, which refuses a 60 s timeout.
    with pytest.raises(UsageError, match=r"open it with \?timeout=1"):
        result_of(RealTime())


# -- rendering -------------------------------------------------------------------------------


def test_render_summary_lists_every_clause():
    result = result_of(MemoryQueue())
    text = render_summary(result)
    lines = text.splitlines()
    assert lines[0].split() == ["clause", "level", "status", "note"]
    assert len(lines) == 1 + len(LIVE_CLAUSES)
    for clause_id, line in zip(LIVE_CLAUSES, lines[1:], strict=True):
        assert line.startswith(clause_id)
    token_line = next(line for line in lines if line.startswith("MQ-TOKEN-1 "))
    assert token_line.split()[1:3] == ["MUST", "skip"]
    assert "reservation_tokens" in token_line
    order_line = next(line for line in lines if line.startswith("MQ-ORDER-1 "))
    assert order_line.split() == ["MQ-ORDER-1", "MUST", "pass"]  # no note on a plain pass


def test_render_failure_names_the_clause_and_shows_the_program():
    result = result_of(EmptyIsError(), url="py:x:EmptyIsError", seed=5)
    text = render_failure(result)
    assert text.startswith("py:x:EmptyIsError diverges from the contract (seed 5):")
    assert "MQ-RESERVE-1 (MUST): reserve failed" in text
    assert "found by: scenario " in text
    assert "minimal program" in text
    assert "-> error 'LookupError: queue is empty'" in text
    assert any(line.startswith("MQ-RESERVE-1") and "FAIL" in line for line in text.splitlines())
    assert render_summary(result) in text


def test_render_failure_includes_warnings():
    result = result_of(RestoreToTail())
    text = render_failure(result)
    assert "MQ-RESTORE-3 (SHOULD)" in text
    assert "found by: scenario seed_example_a_b_c" in text


def test_render_divergence_without_a_transcript():
    result = result_of(RestoreToTail())
    [warning] = result.warnings
    assert warning.transcript is None
    text = render_divergence(warning)
    assert text.splitlines()[0].startswith("MQ-RESTORE-3 (SHOULD): ")
    assert "minimal program" not in text


def test_a_dead_backend_is_reported_by_its_own_failure_not_as_flakiness():
    """A driver that dies mid-run makes Hypothesis's re-runs fail at reset; the run must name
    the driver's failure, not Hypothesis's FlakyStrategyDefinition."""
    from mqspec.conformance.core.machine_search import backend_failure

    class Dead(MemoryQueue):
        failure = "exec driver 'x' exited with code 4 before answering request seq 9 (push)"

        def reset(self, now):
            raise RuntimeError("broken pipe")

    assert backend_failure(Dead()) == Dead.failure
    assert backend_failure(MemoryQueue()) is None


# -- the tally and the phase event --------------------------------------------------------------


def test_the_tally_fails_every_clause_a_concurrency_phase_broke_with_one_divergence_shown():
    from mqspec.conformance.core.events import PhaseDone
    from mqspec.conformance.core.results import ConcurrencySummary, Divergence
    from mqspec.conformance.core.tally import Tally
    from mqspec.reference.types import Finding

    first = Finding(CATALOGUE["MQ-RESERVE-3"], "job a served twice")
    second = Finding(CATALOGUE["MQ-ORDER-1"], "low priority before high")
    counts = ConcurrencySummary(4, 40, 2, (("budget", 3),), 0.5, 4)
    done = PhaseDone(
        "concurrency",
        (Divergence(first, "concurrency: round 1", None),),
        concurrency=counts,
        violations=(first, second),
    )
    tally = Tally(strict=False, unexercised={})
    tally.handle_event(done)
    status = {c.clause.id: (c.status, c.reason) for c in tally.results()}
    assert status["MQ-RESERVE-3"] == ("fail", "job a served twice")
    assert status["MQ-ORDER-1"] == ("fail", "low priority before high")
    assert [d.clause.id for d in tally.divergences] == ["MQ-RESERVE-3"]
    assert tally.concurrent == counts and counts.unknown_count == 3
    assert tally.crash_counts is None and tally.fault_stats is None


def test_the_tally_passes_MQ_DURABLE_1_only_when_a_crash_phase_restarted_the_queue():
    from mqspec.conformance.core.events import PhaseDone
    from mqspec.conformance.core.tally import Tally

    reasons = {"MQ-DURABLE-1": "no crash happened in this run"}
    for restarts, expected in (
        (0, ("skip", reasons["MQ-DURABLE-1"])),
        (3, ("pass", "3 crashes and restarts")),
    ):
        tally = Tally(strict=False, unexercised=reasons)
        tally.handle_event(PhaseDone("crash", examples=5, restarts=restarts))
        status = {c.clause.id: (c.status, c.reason) for c in tally.results()}
        assert status["MQ-DURABLE-1"] == expected
        assert tally.crash_counts == (restarts, 0)


def test_render_phase_names_what_ran_and_its_counts():
    from mqspec.conformance.core.events import PhaseDone
    from mqspec.conformance.frontends.render import render_phase

    assert render_phase(PhaseDone("stateful", examples=8)) == "state machine, 8 examples: ok"
    real = PhaseDone("stateful", examples=12, elapsed=30.4, clock="real", workers=3, steps=90)
    assert render_phase(real) == (
        "state machine on the real clock, 3 workers, 12 examples, 90 operations in 30s: ok"
    )
    crash = PhaseDone("crash", examples=5, restarts=7, cuts=2)
    assert render_phase(crash) == (
        "state machine with crashes, 5 examples, 7 restarts, 2 inside operations: ok"
    )
