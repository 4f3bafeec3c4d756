"""Tests of `Session` (mqspec.conformance.core.session): one case, driven and judged step by step.

Correct behaviour uses `MemoryQueue`; broken behaviour uses the mutants of
`mqspec.adapters.selftest.mutants` or tiny adapters defined here. Tests about a clause name it.
"""

from __future__ import annotations

import attrs
import pytest

from mqspec.adapters.memory import MemoryQueue
from mqspec.adapters.selftest.mutants import (
    DeleteAbsentFails,
    DoubleDelivery,
    EmptyIsError,
    NeverRestores,
    RestoreToTail,
)
from mqspec.conformance.core.session import OperationCut, Session
from mqspec.conformance.core.transcript import Transcript
from mqspec.conformance.core.violations import ContractViolation
from mqspec.reference.errors import DriverError, UsageError
from mqspec.reference.types import Capabilities, Failed, Ok, Unknown

T = 10  # the reservation timeout used throughout


def job(ident, priority=1, **extra):
    return {"id": ident, "priority": priority, **extra}


def ops(transcript: Transcript) -> list[str]:
    return [step.op for step in transcript.steps]


# -- correct behaviour -------------------------------------------------------------------------


def test_push_reserve_delete_outcomes_MQ_PUSH_1_MQ_DELETE_1():
    s = Session(MemoryQueue(timeout=T))
    assert s.push(job("a", 2, payload="x")) == Ok(job("a", 2, payload="x"))
    assert s.reserve() == Ok(job("a", 2, payload="x"))
    assert s.delete(job("a", 2, payload="x")) == Ok(None)
    assert s.reserve() == Ok(None)
    assert s.warnings == []
    assert ops(s.transcript) == ["push", "reserve", "delete", "reserve"]


def test_empty_queue_reserves_null_MQ_RESERVE_1():
    s = Session(MemoryQueue())
    assert s.reserve() == Ok(None)


def test_starts_at_the_given_time_and_resets_the_adapter():
    q = MemoryQueue()
    q.push(job("left-over"), 0)
    s = Session(q, start=100)
    assert s.now == 100
    assert s.reserve() == Ok(None)  # reset emptied the queue
    s.advance(5)
    assert s.now == 105


def test_advance_records_a_step_and_advance_to_now_records_none():
    s = Session(MemoryQueue())
    s.advance_to(0)
    assert s.transcript.steps == []
    s.advance(2.5)
    s.advance_to(4)
    assert [(step.now, step.op) for step in s.transcript.steps] == [
        (2.5, "advance"),
        (4, "advance"),
    ]


def test_time_cannot_run_backwards():
    s = Session(MemoryQueue())
    s.advance_to(5)
    with pytest.raises(UsageError, match=r"^time cannot move back from 5\.0 to 4$"):
        s.advance_to(4)
    assert s.now == 5


def test_delayed_job_waits_for_its_time_MQ_READY_2():
    s = Session(MemoryQueue())
    s.push(job("later", delay=5))
    s.advance(4.999)
    assert s.reserve() == Ok(None)
    s.advance_to(5)
    assert s.reserve() == Ok(job("later", delay=5))


def test_timed_out_job_comes_back_MQ_RESTORE_1():
    s = Session(MemoryQueue(timeout=T))
    s.push(job("slow"))
    s.reserve()
    s.advance(T)
    assert s.reserve() == Ok(job("slow"))


def test_invalid_push_becomes_a_failed_outcome_MQ_TASK_1():
    s = Session(MemoryQueue())
    outcome = s.push(job("bad", 3))
    assert isinstance(outcome, Failed)
    assert outcome.message.startswith("ValueError: ")
    assert s.transcript.steps[-1].outcome == outcome
    assert s.drain() == []


def test_delete_of_a_ready_job_becomes_a_failed_outcome_MQ_DELETE_2():
    s = Session(MemoryQueue())
    s.push(job("ready"))
    outcome = s.delete(job("ready"))
    assert isinstance(outcome, Failed)
    assert outcome.message.startswith("LookupError: cannot delete job 'ready'")
    assert s.drain() == [job("ready")]


def test_delete_of_an_absent_id_succeeds_MQ_DELETE_3():
    s = Session(MemoryQueue())
    assert s.delete(job("never-pushed")) == Ok(None)


def test_drain_returns_every_remaining_job_MQ_LOSS_1():
    s = Session(MemoryQueue(timeout=T))
    s.push(job("a", 0))
    s.push(job("b", 2))
    s.push(job("c", 1, delay=30))
    s.push(job("d", 1))
    taken = s.reserve()
    assert taken == Ok(job("b", 2))
    s.push(job("e", 1))
    out = s.drain()
    # b's reservation expired during the drain and it kept its place (MQ-RESTORE-3).
    assert [t["id"] for t in out] == ["b", "d", "e", "c", "a"]
    # The drain passed every ready time and deadline (plus one second) before reserving.
    assert s.now == 31
    assert ops(s.transcript)[-len(out) - 2 :] == ["advance"] + ["drain"] * (len(out) + 1)


def test_drain_of_an_empty_queue():
    s = Session(MemoryQueue())
    assert s.drain() == []
    assert ops(s.transcript) == ["advance", "drain"]


# -- broken adapters: MUST findings raise ContractViolation ---------------------------------


def test_reserve_error_on_empty_is_MQ_RESERVE_1():
    s = Session(EmptyIsError())
    s.push(job("only"))
    s.reserve()
    with pytest.raises(ContractViolation) as caught:
        s.reserve()
    violation = caught.value
    assert violation.finding.clause.id == "MQ-RESERVE-1"
    assert isinstance(violation, AssertionError)
    assert violation.transcript is s.transcript
    assert ops(violation.transcript) == ["push", "reserve", "reserve"]
    assert violation.transcript.steps[-1].outcome == Failed("LookupError: queue is empty")
    assert "MQ-RESERVE-1 (MUST)" in str(violation)
    assert "Minimal program:" in str(violation)
    assert violation.program == s.transcript.listing()
    assert s.violation is violation


def test_double_delivery_is_MQ_RESERVE_3():
    s = Session(DoubleDelivery(timeout=T))
    s.push(job("held"))
    assert s.reserve() == Ok(job("held"))
    with pytest.raises(ContractViolation) as caught:
        s.reserve()
    assert caught.value.finding.clause.id == "MQ-RESERVE-3"
    assert caught.value.finding.observed
    assert ops(caught.value.transcript) == ["push", "reserve", "reserve"]


def test_delete_of_absent_id_failing_is_MQ_DELETE_3():
    s = Session(DeleteAbsentFails())
    with pytest.raises(ContractViolation) as caught:
        s.delete(job("never-pushed"))
    assert caught.value.finding.clause.id == "MQ-DELETE-3"
    [step] = caught.value.transcript.steps
    assert step.op == "delete"
    assert step.task == job("never-pushed")
    assert isinstance(step.outcome, Failed)


def test_lost_job_is_flagged_by_the_drain_MQ_LOSS_1():
    s = Session(NeverRestores(timeout=T))
    s.push(job("forgotten"))
    s.reserve()
    with pytest.raises(ContractViolation) as caught:
        s.drain()
    violation = caught.value
    assert violation.finding.clause.id == "MQ-LOSS-1"
    assert "forgotten" in violation.finding.message
    assert ops(violation.transcript) == ["push", "reserve", "advance", "drain"]


def test_a_valid_push_that_raises_is_a_failed_outcome_judged_as_MQ_PUSH_1():
    class Down(MemoryQueue):
        def push(self, task, now):
            raise RuntimeError("backend down")

    s = Session(Down())
    with pytest.raises(ContractViolation) as caught:
        s.push(job("a"))
    step = caught.value.transcript.steps[-1]
    assert step.outcome == Failed("RuntimeError: backend down")
    assert caught.value.finding.clause.id == "MQ-PUSH-1"


# -- SHOULD findings: warnings, or failures in strict mode (MQ-RESTORE-3) ----------------------


def seed_example(s: Session) -> None:
    """The spec's [A, B, C] example: reserve A and B, delete B, let A time out."""
    for name in "ABC":
        s.push(job(name))
    s.reserve()
    b = s.reserve()
    assert isinstance(b, Ok)
    s.delete(b.value)
    s.advance(T)
    s.reserve()
    s.reserve()


def test_restore_to_tail_is_a_warning_when_not_strict_MQ_RESTORE_3():
    s = Session(RestoreToTail(timeout=T))
    seed_example(s)
    assert [w.clause.id for w in s.warnings] == ["MQ-RESTORE-3"]
    assert not s.warnings[0].is_violation
    assert s.violation is None
    # The tail-restoring queue answered [C, A]; both come back in the drain, nothing is lost.
    assert sorted(t["id"] for t in s.drain()) == ["A", "C"]


def test_warnings_are_kept_once_per_clause_MQ_RESTORE_3():
    s = Session(RestoreToTail(timeout=T))
    seed_example(s)  # answered [C, A]: both reserved now
    s.delete(job("C"))
    s.delete(job("A"))
    for name in "XYZ":
        s.push(job(name))
    s.reserve()
    s.delete(s.reserve().value)
    s.advance(T)
    assert s.reserve() == Ok(job("Z"))  # the same SHOULD finding a second time
    assert [w.clause.id for w in s.warnings] == ["MQ-RESTORE-3"]


def test_restore_to_tail_raises_when_strict_MQ_RESTORE_3():
    s = Session(RestoreToTail(timeout=T), strict=True)
    with pytest.raises(ContractViolation) as caught:
        seed_example(s)
    violation = caught.value
    assert violation.finding.clause.id == "MQ-RESTORE-3"
    assert violation.finding.clause.level == "SHOULD"
    assert ops(violation.transcript) == [
        "push",
        "push",
        "push",
        "reserve",
        "reserve",
        "delete",
        "advance",
        "reserve",
    ]
    assert violation.transcript.steps[-1].outcome == Ok(job("C"))
    assert s.warnings == []


def test_a_correct_queue_gives_no_warning_on_the_seed_example_MQ_RESTORE_3():
    s = Session(MemoryQueue(timeout=T), strict=True)
    seed_example(s)
    assert s.warnings == []


# -- harness errors --------------------------------------------------------------------------


def test_a_tick_that_raises_is_a_driver_error():
    class BrokenTicker(MemoryQueue):
        def tick(self, now):
            raise RuntimeError("ticker died")

    s = Session(BrokenTicker())
    with pytest.raises(
        DriverError, match=r"^the adapter's tick\(5\.0\) failed: RuntimeError: ticker died$"
    ):
        s.advance(5)


def test_a_reset_that_raises_is_a_driver_error():
    class BrokenReset(MemoryQueue):
        def reset(self, now):
            raise OSError("disk gone")

    with pytest.raises(DriverError, match=r"^the adapter failed to reset: OSError: disk gone$"):
        Session(BrokenReset())


def test_an_adapter_without_virtual_time_runs_in_real_time():
    class RealTime(MemoryQueue):
        @property
        def capabilities(self) -> Capabilities:
            return attrs.evolve(super().capabilities, virtual_time=False)

    session = Session(RealTime())
    assert session.realtime  # forced: the adapter keeps its own clock
    assert session.model.capabilities.slack == session.margin


def test_the_url_and_capabilities_go_into_the_transcript():
    q = MemoryQueue(timeout=5, tokens=True)
    s = Session(q, url="memory://?timeout=5&tokens=1")
    assert s.transcript.url == "memory://?timeout=5&tokens=1"
    assert s.transcript.capabilities == q.capabilities
    assert s.capabilities.reservation_tokens


# -- copies: neither side can change what the other holds ------------------------------------


class Hoarder(MemoryQueue):
    """Hands out the objects it keeps, then scribbles on them; also scribbles on its inputs."""

    def __init__(self) -> None:
        super().__init__(timeout=T)
        self.given: list[dict] = []
        self.returned: list[dict] = []

    def push(self, task, now):
        self.given.append(task)
        out = super().push(task, now)
        self.returned.append(out)
        task["id"] = "scribbled-input"
        return out

    def reserve(self, now):
        out = super().reserve(now)
        if out is not None:
            self.returned.append(out)
        return out

    def scribble(self) -> None:
        for task in self.returned:
            task["id"] = "scribbled"
            task["priority"] = 0


def test_the_adapter_gets_a_copy_of_the_pushed_task():
    q = Hoarder()
    s = Session(q)
    mine = job("a", payload=["x"])
    s.push(mine)
    assert mine == job("a", payload=["x"])  # the adapter changed only its own copy
    assert q.given[0] is not mine


def test_mutating_what_the_adapter_returned_does_not_reach_the_model():
    q = Hoarder()
    s = Session(q)
    pushed = s.push(job("a", 2))
    reserved = s.reserve()
    q.scribble()
    assert pushed == Ok(job("a", 2))
    assert reserved == Ok(job("a", 2))
    assert [step.outcome for step in s.transcript.steps] == [Ok(job("a", 2)), Ok(job("a", 2))]
    # The model still holds job "a" (priority 2) under reservation: a delete acknowledges it.
    assert s.delete(job("a", 2)) == Ok(None)
    assert s.drain() == []


def test_mutating_the_pushed_task_afterwards_does_not_reach_the_model():
    s = Session(MemoryQueue())
    mine = job("a", 2)
    s.push(mine)
    mine["priority"] = 0
    mine["id"] = "changed"
    assert s.transcript.steps[0].task == job("a", 2)
    assert s.reserve() == Ok(job("a", 2))  # judged against what was pushed, not the mutation


# -- crashes (MQ-DURABLE-1, MQ-LOSS-2) ------------------------------------------------------------


class Durable(MemoryQueue):
    """Declares durable and keeps its state across restart(), as a durable queue must.

    ``cut_next`` cuts the next operation as a crash would: after it took effect ("effect") or
    before ("none"); the queue then restarts and raises `OperationCut`.
    """

    def __init__(self, **options):
        super().__init__(**options)
        self.restarts = 0
        self.cut_next: str | None = None

    @property
    def capabilities(self) -> Capabilities:
        return attrs.evolve(super().capabilities, durable=True)

    def restart(self):
        self.restarts += 1

    def _maybe_cut(self, op, action):
        how, self.cut_next = self.cut_next, None
        if how is None:
            return action()
        if how == "effect":
            action()
        self.restart()
        raise OperationCut(f"killed inside {op}")

    def push(self, task, now):
        return self._maybe_cut("push", lambda: MemoryQueue.push(self, task, now))

    def reserve(self, now):
        return self._maybe_cut("reserve", lambda: MemoryQueue.reserve(self, now))

    def delete(self, task, now):
        return self._maybe_cut("delete", lambda: MemoryQueue.delete(self, task, now))


class Forgets(Durable):
    """Claims durable, but a restart loses every job."""

    def restart(self):
        super().restart()
        self.reset(None)


def test_a_restart_is_recorded_and_the_queue_must_come_back_unchanged_MQ_DURABLE_1():
    q = Durable(timeout=T)
    s = Session(q)
    s.push(job("a"))
    s.push(job("b"))
    s.reserve()
    s.restart()
    assert q.restarts == 1
    assert ops(s.transcript) == ["push", "push", "reserve", "restart"]
    assert s.reserve() == Ok(job("b"))  # 'a' is still reserved
    s.advance(T)
    assert s.reserve() == Ok(job("a"))


def test_a_queue_that_forgets_in_a_restart_breaks_MQ_DURABLE_1():
    s = Session(Forgets(timeout=T))
    s.push(job("a"))
    s.restart()
    with pytest.raises(ContractViolation) as caught:
        s.reserve()
    finding = caught.value.finding
    assert finding.clause.id == "MQ-DURABLE-1"
    assert finding.message.endswith("was ready (it was live before the queue restarted)")


def test_a_forgotten_job_deleted_after_a_restart_is_named_MQ_DURABLE_1():
    s = Session(Forgets(timeout=T))
    s.push(job("a"))
    s.restart()
    with pytest.raises(ContractViolation) as caught:
        s.delete(job("a"))  # the queue no longer knows 'a', so it says ok
    assert caught.value.finding.clause.id == "MQ-DURABLE-1"
    assert caught.value.finding.message == (
        "delete of 'a' succeeded, but it had no pending reservation "
        "(ready; it was live before the queue restarted)"
    )


def test_restart_needs_an_adapter_that_can_restart_and_declares_durable():
    with pytest.raises(UsageError, match=r"^MemoryQueue cannot be restarted \(no restart\(\)\)$"):
        Session(MemoryQueue()).restart()

    class NotDurable(MemoryQueue):
        def restart(self):
            pass

    with pytest.raises(UsageError, match=r"^restart\(\) needs a queue that declares durable=True$"):
        Session(NotDurable()).restart()


def test_a_restart_that_raises_is_a_driver_error():
    class RestartFails(Durable):
        def restart(self):
            raise OSError("no such file")

    with pytest.raises(
        DriverError, match=r"^the adapter failed to restart: OSError: no such file$"
    ):
        Session(RestartFails()).restart()


@pytest.mark.parametrize("how", ["effect", "none"])
def test_a_push_cut_by_a_crash_is_unknown_then_a_restart_MQ_LOSS_2(how):
    q = Durable(timeout=T)
    s = Session(q)
    q.cut_next = how
    assert s.push(job("a")) == Unknown("killed inside push")
    assert ops(s.transcript) == ["push", "restart"]
    assert q.restarts == 1
    # Either way is allowed: the push took full effect or none.
    assert s.drain() == ([job("a")] if how == "effect" else [])


@pytest.mark.parametrize("how", ["effect", "none"])
def test_a_delete_cut_by_a_crash_took_full_effect_or_none_MQ_LOSS_2(how):
    q = Durable(timeout=T)
    s = Session(q)
    s.push(job("a"))
    s.reserve()
    q.cut_next = how
    assert s.delete(job("a")) == Unknown("killed inside delete")
    assert s.drain() == ([] if how == "effect" else [job("a")])


def test_the_drain_waits_out_a_reservation_its_cut_reserve_made_MQ_LOSS_1():
    q = Durable(timeout=T)
    s = Session(q)
    s.push(job("a"))
    q.cut_next = "effect"  # the drain's first reserve takes 'a', then the crash cuts it
    assert s.drain() == [job("a")]
    assert ops(s.transcript) == ["push", "advance", "drain", "restart", "advance", "drain", "drain"]


def test_the_drain_is_not_bounded_by_a_model_that_gave_up():
    """Seven unknown pushes make 128 possible states, past the model's 64: it stops judging,
    and the drain must not then call the jobs that come out one too many (MQ-LOSS-1)."""
    q = Durable(timeout=T)
    s = Session(q)
    for n in range(7):
        q.cut_next = "effect"
        s.push(job(f"j{n}"))
    assert s.model.inconclusive
    assert len(s.drain()) == 7


class _SharesNestedObjects(MemoryQueue):
    """Keeps the caller's nested objects (a shallow copy): found by mutation testing."""

    def push(self, task, now):
        stored = super().push(task, now)
        with self._lock:
            for jobs in self._index.values():
                for job in jobs.values():
                    if job.task["id"] == task["id"]:
                        job.task = {**job.task, **{k: v for k, v in task.items()}}
        return stored


def test_a_queue_that_aliases_the_callers_objects_is_caught_MQ_TASK_2():
    """The harness changes the task it pushed after the call, as a caller may; a queue that
    kept a reference hands the change back out."""
    s = Session(_SharesNestedObjects())
    s.push({"id": "a", "priority": 1, "payload": {"nested": [1, 2]}})
    with pytest.raises(ContractViolation, match="MQ-TASK-2"):
        s.reserve()
