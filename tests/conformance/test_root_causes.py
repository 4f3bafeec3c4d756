"""Every divergence names the clause that is really broken, and says so readably.

Each attribution is tested with a queue that has exactly that bug: a late promotion is
MQ-READY-3 (not the order it breaks), a restore that never comes is MQ-RESTORE-1 (not a
priority error), a job missing from the drain is MQ-LOSS-1 with when it was last seen, a
backend that dies is a divergence with its stderr, and a task mismatch names each key.
"""

from __future__ import annotations

from typing import Any

import pytest

from mqspec.adapters.memory import MemoryQueue
from mqspec.adapters.selftest.mutants import DelayOneSecondLate, DropsOpaqueFields, NeverRestores
from mqspec.conformance.core import engine
from mqspec.conformance.core.engine import Profile, RunFinished, check_realtime, run, run_scenario
from mqspec.conformance.core.scenarios import SCENARIOS
from mqspec.conformance.core.session import Session
from mqspec.conformance.core.transcript import Transcript
from mqspec.conformance.core.violations import ContractViolation
from mqspec.conformance.frontends.render import render_divergence
from mqspec.reference.errors import UsageError
from mqspec.reference.jsonvalue import describe_difference, json_text
from mqspec.reference.types import Capabilities
from tests.conftest import TEST_SHRINK_SECONDS


def _scenario(name: str) -> Any:
    return next(s for s in SCENARIOS if s.name == name)


@pytest.mark.slow
def test_a_late_promotion_is_named_as_such_not_as_the_order_it_breaks_MQ_READY_3(monkeypatch):
    """Named MQ-READY-3; where a program cannot tell a late promotion from a priority the queue
    ignored (the served job was enqueued before the delayed one was due), the order is named
    and the late promotion given as the other explanation, never left out."""
    # Every program the search finds must be attributed so, shrunk or not: 2 s of shrinking.
    small = Profile("quick", examples=30, steps=25, shrink_seconds=TEST_SHRINK_SECONDS)
    monkeypatch.setitem(engine.PROFILES, "quick", small)
    adapter = DelayOneSecondLate()
    try:
        last = list(run(adapter))[-1]
    finally:
        adapter.close()
    assert isinstance(last, RunFinished)
    found = {d.clause.id: d.finding.message for d in last.result.divergences}
    assert "MQ-READY-3" in found
    for clause_id, message in found.items():
        if clause_id != "MQ-READY-3":
            assert clause_id in ("MQ-ORDER-1", "MQ-RESTORE-2"), (clause_id, message)
            assert "or else MQ-READY-3: delayed until" in message, message


def test_an_ambiguous_late_promotion_names_both_explanations_MQ_ORDER_1_MQ_READY_3() -> None:
    """The program found on seed 2: a duplicate id, the delayed copy of higher priority."""
    s = Session(DelayOneSecondLate(), url="m")
    s.push({"id": "job-1", "priority": 1, "delay": 1})
    s.push({"id": "job-1", "priority": 0, "payload": "dup-1"})
    s.advance_to(1)
    with pytest.raises(ContractViolation) as caught:
        s.reserve()
    finding = caught.value.finding
    assert finding.clause.id == "MQ-ORDER-1"
    assert "or else MQ-READY-3: delayed until 1, it was due by 1; promoted late" in (
        finding.message
    )


def test_a_late_promotion_says_what_came_first_because_of_it_MQ_READY_3() -> None:
    s = Session(DelayOneSecondLate(), url="m")
    s.push({"id": "D", "priority": 1, "delay": 2})
    s.advance(2.5)  # D was due at 2; this queue promotes it at 3
    s.push({"id": "F", "priority": 1})
    with pytest.raises(ContractViolation) as caught:
        s.reserve()
    finding = caught.value.finding
    assert finding.clause.id == "MQ-READY-3"
    assert "promoted late, a job enqueued after it came first (MQ-ORDER-2)" in finding.message


def test_a_restore_that_never_comes_is_MQ_RESTORE_1_not_a_priority_error() -> None:
    done = run_scenario(NeverRestores(), _scenario("restored_keeps_priority_and_place"), "m", False)
    assert done.divergence is not None
    assert done.divergence.clause.id == "MQ-RESTORE-1"
    assert "lost its priority: MQ-RESTORE-2" in done.divergence.finding.message


def test_a_job_missing_from_the_drain_says_when_it_was_last_seen_MQ_LOSS_1() -> None:
    class Forgets(NeverRestores):
        pass

    s = Session(Forgets(), url="m")
    s.push({"id": "A", "priority": 1})
    s.advance(3)
    s.reserve()
    with pytest.raises(ContractViolation) as caught:
        s.drain()
    finding = caught.value.finding
    assert finding.clause.id in ("MQ-LOSS-1", "MQ-RESTORE-1")
    if finding.clause.id == "MQ-LOSS-1":
        assert "last seen when a Reserve returned it at 3" in finding.message


def test_a_task_mismatch_names_each_key_with_both_values_as_json_MQ_TASK_2() -> None:
    done = run_scenario(DropsOpaqueFields(), _scenario("fields_round_trip"), "m", False)
    assert done.divergence is not None
    message = done.divergence.finding.message
    assert '"memory" missing (pushed 256)' in message
    assert "True" not in message and "None" not in message  # JSON, not Python reprs


def test_long_values_are_cut_with_their_length_shown() -> None:
    text = json_text("x" * 100_000)
    assert len(text) < 200 and "100002 characters in all" in text
    diff = describe_difference({"id": "a", "p": "x" * 50_000}, {"id": "a", "p": "x" * 32_767})
    assert '"p": pushed "xxx' in diff and "50002 characters in all" in diff
    assert len(diff) < 400


def test_a_zero_valued_field_a_driver_adds_is_named_MQ_PUSH_1() -> None:
    diff = describe_difference({"id": "a", "priority": 1}, {"id": "a", "priority": 1, "app": ""})
    assert diff == '"app" added ("", never pushed)'


def test_real_clock_programs_say_real_time() -> None:
    from mqspec.conformance.core.results import Divergence
    from mqspec.reference.clauses import clause
    from mqspec.reference.types import Finding

    finding = Finding(clause("MQ-READY-1"), "x", "y", "z")
    real = Divergence(finding, "scenario s", Transcript(Capabilities(), clock="real"))
    assert "real time t" in render_divergence(real)
    virtual = Divergence(finding, "scenario s", Transcript(Capabilities()))
    assert "virtual time t" in render_divergence(virtual)
    assert Transcript.from_jsonl(real.transcript.to_jsonl()).clock == "real"  # type: ignore[union-attr]


def test_the_timeout_hint_for_an_exec_driver_says_to_set_it_in_the_driver() -> None:
    with pytest.raises(UsageError) as caught:
        check_realtime(Capabilities(reservation_timeout=60), "exec:./my-driver")
    assert "set it in the driver" in str(caught.value) and "?timeout" not in str(caught.value)
    with pytest.raises(UsageError, match=r"\?timeout=1"):
        check_realtime(Capabilities(reservation_timeout=60), "sqlite:///q.db")


def test_a_durable_backend_that_dies_is_restarted_and_judged_as_after_a_crash_MQ_DURABLE_1(
    tmp_path,
) -> None:
    """A durable driver that dies by itself between calls is started again; the call that
    found it dead is cut (MQ-LOSS-2), and every job must still be there (MQ-DURABLE-1)."""
    import os
    import signal

    from mqspec.adapters.process import ProcessQueue
    from mqspec.conformance.faults.crash import host_argv

    queue = ProcessQueue(host_argv(f"sqlite:///{tmp_path / 'q.db'}?timeout=30"))
    try:
        assert queue.capabilities.durable
        s = Session(queue, url="exec:host")
        s.push({"id": "A", "priority": 1})
        s.push({"id": "B", "priority": 1})
        assert queue.pid is not None
        os.kill(queue.pid, signal.SIGKILL)  # the backend dies on its own, between calls
        s.reserve()  # finds it dead: restarted, this call judged as cut
        assert [step.op for step in s.transcript.steps][-2:] == ["reserve", "restart"]
        s.drain()  # A and B both come out: nothing was lost
    finally:
        queue.close()


def test_a_backend_that_is_not_durable_and_dies_has_lost_its_jobs_MQ_LOSS_1() -> None:
    import os
    import signal
    import sys

    from mqspec.adapters.process import ProcessQueue

    queue = ProcessQueue([sys.executable, "-m", "mqspec.adapters.host", "memory://"])
    try:
        s = Session(queue, url="exec:host")
        s.push({"id": "A", "priority": 1})
        assert queue.pid is not None
        os.kill(queue.pid, signal.SIGKILL)
        with pytest.raises(ContractViolation) as caught:
            s.reserve()
        finding = caught.value.finding
        assert finding.clause.id == "MQ-LOSS-1"
        assert "killed by signal 9" in finding.message and "1 live job(s)" in finding.message
    finally:
        queue.close()


# -- an order broken, or a job lost? -------------------------------------------------------------


class _DropsTheSecondPush(MemoryQueue):
    """Answers the second push as queued and forgets it: a lost job, first seen as an order."""

    def __init__(self, **options):
        super().__init__(**options)
        self.pushes = 0

    def push(self, task, now):
        self.pushes += 1
        if self.pushes == 2:
            return task
        return super().push(task, now)


def _order_program(queue):
    from mqspec.conformance.core.session import Session
    from mqspec.conformance.core.violations import ContractViolation

    session = Session(queue)
    for ident in "abc":
        session.push({"id": ident, "priority": 1})
    try:
        for _ in range(3):
            session.reserve()
    except ContractViolation as violation:
        return violation.finding, session
    raise AssertionError("no divergence")


def test_a_job_passed_over_that_never_comes_out_is_a_loss_not_an_order_MQ_LOSS_1() -> None:
    finding, session = _order_program(_DropsTheSecondPush())
    assert finding.clause.id == "MQ-LOSS-1"
    assert "'b' never came out" in finding.message
    assert "the MQ-ORDER-2 divergence is how the loss first showed" in finding.message
    # After the deadlines, the reserved 'a' and 'c' came back; 'b' never did.
    assert finding.observed == "'c', then 'a', 'c' and null, never 'b'"
    # The look after the fact is neither judged nor recorded: the program ends at the reserve.
    assert [step.op for step in session.transcript.steps][-1] == "reserve"


def test_a_job_passed_over_that_comes_out_later_is_an_order_broken_MQ_ORDER_2() -> None:
    from mqspec.adapters.selftest.mutants import LifoWithinPriority

    finding, _ = _order_program(LifoWithinPriority())
    assert finding.clause.id == "MQ-ORDER-2"
    assert finding.passed_over == "a"


def test_the_look_after_the_fact_keeps_the_order_when_the_queue_fails_it() -> None:
    """A Reserve that raises during the look proves nothing: the order finding stands."""

    class FailsAfterTheSkip(_DropsTheSecondPush):
        reserves = 0

        def reserve(self, now):
            self.reserves += 1
            if self.reserves > 2:
                raise RuntimeError("connection reset")
            return super().reserve(now)

    finding, _ = _order_program(FailsAfterTheSkip())
    assert finding.clause.id == "MQ-ORDER-2"


class _DropsEveryPush(MemoryQueue):
    """Answers every push as queued and keeps nothing."""

    def push(self, task, now):
        return task


class _ShowsPushesLate(MemoryQueue):
    """The first Reserve after a push finds nothing; the job is there for the next one."""

    hidden = True

    def reserve(self, now):
        if self.hidden:
            self.hidden = False
            return None
        return super().reserve(now)


def _null_program(queue):
    from mqspec.conformance.core.session import Session
    from mqspec.conformance.core.violations import ContractViolation

    session = Session(queue)
    session.push({"id": "a", "priority": 0})
    try:
        session.reserve()
    except ContractViolation as violation:
        return violation.finding
    raise AssertionError("no divergence")


def test_a_ready_job_not_served_that_never_comes_out_is_a_loss_MQ_LOSS_1() -> None:
    finding = _null_program(_DropsEveryPush())
    assert finding.clause.id == "MQ-LOSS-1"
    assert "the MQ-READY-1 divergence is how the loss first showed" in finding.message
    assert finding.observed == "null, then no other job and null, never 'a'"


def test_a_ready_job_not_served_that_comes_out_later_is_late_MQ_READY_1() -> None:
    finding = _null_program(_ShowsPushesLate())
    assert finding.clause.id == "MQ-READY-1"
    assert finding.passed_over == "a"


def test_a_job_passed_over_is_told_from_a_live_job_with_its_id_MQ_LOSS_1() -> None:
    """Duplicate ids are distinct jobs: the first 'a' coming out says nothing of the second."""
    from mqspec.conformance.core.session import Session
    from mqspec.conformance.core.violations import ContractViolation

    session = Session(_DropsTheSecondPush())
    session.push({"id": "a", "priority": 0})
    session.push({"id": "a", "priority": 1, "payload": "second"})
    with pytest.raises(ContractViolation) as caught:
        session.reserve()
    assert caught.value.finding.clause.id == "MQ-LOSS-1"
    assert caught.value.finding.observed == "'a', then no other job and null, never 'a'"


def _real_clock_order_program(queue):
    from mqspec.adapters.ownclock import OwnClock
    from mqspec.conformance.core.session import Session
    from mqspec.conformance.core.violations import ContractViolation

    session = Session(OwnClock(queue), realtime=True)
    for ident in "abc":
        session.push({"id": ident, "priority": 1})
    with pytest.raises(ContractViolation) as caught:
        session.reserve()
        session.reserve()
    return caught.value.finding


def test_on_the_real_clock_a_job_passed_over_that_never_comes_out_is_a_loss_MQ_LOSS_1() -> None:
    """The look after the fact runs on the real clock too: it sleeps past the deadlines of the
    jobs the program reserved (T = 1 s), plus the margin, then reserves until null."""
    finding = _real_clock_order_program(_DropsTheSecondPush(timeout=1))
    assert finding.clause.id == "MQ-LOSS-1"
    assert "the MQ-ORDER-2 divergence is how the loss first showed" in finding.message
    # 'a' and 'c', reserved by the program, came back once their deadlines had passed.
    assert finding.observed == "'c', then 'a', 'c' and null, never 'b'"


def test_on_the_real_clock_a_job_passed_over_that_comes_out_later_is_an_order_MQ_ORDER_2() -> None:
    from mqspec.adapters.selftest.mutants import LifoWithinPriority

    finding = _real_clock_order_program(LifoWithinPriority(timeout=1))
    assert finding.clause.id == "MQ-ORDER-2"
    assert finding.passed_over == "a"
