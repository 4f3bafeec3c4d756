"""Properties of the reference model itself, plus examples per clause the traces don't cover.

The central property: a naive, obviously correct queue (a list scanned in full, independent of
the model's heaps and intervals) is never flagged, whatever the operations; and a single
corrupted answer from it is flagged with the right clause.
"""

from __future__ import annotations

import copy
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mqspec.reference import Capabilities, Failed, Model, Ok, Unknown, UsageError

T = 10


class NaiveQueue:
    """A lease queue as a plain list: position (-priority, ready_at, seq), never reordered."""

    def __init__(self, timeout: float = T) -> None:
        self.jobs: list[dict] = []
        self.seq = 0
        self.timeout = timeout

    def push(self, task: dict, now: float) -> dict:
        self.seq += 1
        ready = now + task.get("delay", 0)
        self.jobs.append(
            {"task": task, "key": (-task["priority"], ready, self.seq), "visible": ready}
        )
        return task

    def reserve(self, now: float) -> dict | None:
        ready = [j for j in self.jobs if j["visible"] <= now]
        if not ready:
            return None
        job = min(ready, key=lambda j: j["key"])
        job["visible"] = now + self.timeout
        job["leased"] = True
        return job["task"]

    def delete(self, ident: str, now: float) -> bool:
        for job in self.jobs:
            if job["task"]["id"] == ident and job.get("leased") and job["visible"] > now:
                self.jobs.remove(job)
                return True
        return not any(j["task"]["id"] == ident for j in self.jobs)


ops = st.lists(
    st.one_of(
        st.tuples(st.just("push"), st.integers(0, 2), st.sampled_from([0, 0, 1, 3, 10])),
        st.tuples(st.just("reserve"), st.just(0), st.just(0)),
        st.tuples(st.just("delete"), st.integers(0, 30), st.just(0)),
        st.tuples(st.just("wait"), st.sampled_from([0, 1, 5, 9.5, 10, 25]), st.just(0)),
    ),
    max_size=60,
)


def _drive(program, corrupt_at: int | None = None):
    """Run ``program`` on the naive queue and the model; return the first verdict with a finding."""
    queue, model, now, pushed = NaiveQueue(), Model(Capabilities(reservation_timeout=T)), 0.0, 0
    for index, (op, a, b) in enumerate(program):
        if op == "wait":
            now += a
            model.advance(now)
            continue
        if op == "push":
            pushed += 1
            task = {"id": f"j{pushed}", "priority": a}
            if b:
                task["delay"] = b
            verdict = model.push(task, now, Ok(queue.push(task, now)))
        elif op == "reserve":
            got = queue.reserve(now)
            if index == corrupt_at and got is not None:
                got = {**got, "extra": "added by a broken queue"}
            verdict = model.reserve(now, Ok(got))
        else:
            ident = f"j{a}"
            ok = queue.delete(ident, now)
            verdict = model.delete({"id": ident}, now, Ok() if ok else Failed("not reserved"))
        if verdict.violation or verdict.warnings:
            return verdict
    return None


@settings(max_examples=300, deadline=None)
@given(ops)
def test_a_correct_queue_is_never_flagged(program) -> None:
    """No false alarms on MQ-ORDER-1/2, MQ-READY-*, MQ-RESERVE-*, MQ-RESTORE-*, MQ-DELETE-1/2/3."""
    assert _drive(program) is None


@settings(max_examples=200, deadline=None)
@given(ops, st.integers(0, 59))
def test_a_corrupted_round_trip_is_flagged_MQ_TASK_2(program, at) -> None:
    verdict = _drive(program, corrupt_at=at)
    if verdict is not None:
        assert verdict.violation is not None
        assert verdict.violation.clause.id == "MQ-TASK-2"


def test_time_cannot_run_backwards() -> None:
    model = Model(Capabilities())
    model.advance(5)
    with pytest.raises(UsageError, match=r"^time ran backwards: now=4 after now=5$"):
        model.advance(4)


@pytest.mark.parametrize("now", [math.inf, -math.inf, math.nan])
def test_time_must_be_finite(now) -> None:
    model = Model(Capabilities())
    model.advance(5)
    with pytest.raises(UsageError, match=r"^now must be a finite number of seconds"):
        model.advance(now)
    assert model.now == 5


def test_a_finding_renders_what_the_contract_allowed() -> None:
    model = Model(Capabilities())
    task = {"id": "a", "priority": 1}
    model.push(task, 0, Ok(task))
    finding = model.reserve(1, Ok(None)).violation
    assert finding is not None
    assert finding.allowed == "'a'"
    assert finding.render().splitlines()[1:] == ["  allowed:  'a'", "  observed: null"]


def test_rejected_observation_leaves_state_unchanged_MQ_ORDER_1() -> None:
    model = Model(Capabilities())
    low, high = {"id": "low", "priority": 0}, {"id": "high", "priority": 2}
    model.push(low, 0, Ok(low))
    model.push(high, 0, Ok(high))
    verdict = model.reserve(0, Ok(low))
    assert verdict.violation is not None and verdict.violation.clause.id == "MQ-ORDER-1"
    assert "'high' (priority 2)" in verdict.violation.message
    assert model.reserve(0, Ok(high)).allowed
    assert model.reserve(0, Ok(low)).allowed


def test_a_deleted_job_back_under_a_reused_id_breaks_MQ_RESERVE_2_not_MQ_TASK_2() -> None:
    """A queue that acknowledged a Delete without writing it hands the deleted job out again;
    when a later push reused its id with other fields, the root cause is still the deleted
    job's return, not a task mangled in transit."""
    model = Model(Capabilities())
    old = {"id": "A", "priority": 1, "n": 1}
    new = {"id": "A", "priority": 1, "n": 2}
    model.push(old, 0, Ok(old))
    model.reserve(0, Ok(old))
    assert model.delete(old, 1, Ok()).allowed
    model.push(new, 2, Ok(new))
    verdict = model.reserve(3, Ok(old))
    assert verdict.violation is not None and verdict.violation.clause.id == "MQ-RESERVE-2"
    assert "already deleted" in verdict.violation.message
    # Fields that match neither the live job nor a deleted one are still MQ-TASK-2.
    model = Model(Capabilities())
    model.push(new, 0, Ok(new))
    verdict = model.reserve(1, Ok({**new, "n": 3}))
    assert verdict.violation is not None and verdict.violation.clause.id == "MQ-TASK-2"


def test_unknown_push_branches_then_narrows_MQ_LOSS_2() -> None:
    model = Model(Capabilities())
    task = {"id": "maybe", "priority": 1}
    assert model.push(task, 0, Unknown("connection reset")).allowed
    assert model.worlds == 2
    assert model.reserve(0, Ok(None)).allowed  # the world where it was not queued
    assert model.worlds == 1
    assert model.reserve(0, Ok(task)).violation.clause.id == "MQ-RESERVE-2"


def test_unknown_reserve_job_comes_back_after_timeout_MQ_LOSS_2() -> None:
    model = Model(Capabilities(reservation_timeout=T))
    task = {"id": "head", "priority": 1}
    model.push(task, 0, Ok(task))
    assert model.reserve(0, Unknown("timed out")).allowed
    # Either it was reserved (null now) or not (it is ready): both explain what follows.
    assert model.reserve(1, Ok(None)).allowed
    verdict = model.reserve(T, Ok(None), final=True)
    assert verdict.violation is not None and verdict.violation.clause.id == "MQ-LOSS-1"
    assert model.reserve(T, Ok(task)).allowed


def test_failed_push_that_queued_is_a_warning_MQ_LOSS_3() -> None:
    model = Model(Capabilities())
    task = {"id": "dup", "priority": 1}
    model.push(task, 0, Unknown("fault", reported_failure=True))
    verdict = model.reserve(0, Ok(task))
    assert verdict.violation is None
    assert [w.clause.id for w in verdict.warnings] == ["MQ-LOSS-3"]


def test_distinct_duplicates_delete_branches_MQ_PUSH_2() -> None:
    model = Model(Capabilities(duplicate_ids="distinct"))
    first = {"id": "same", "priority": 1, "n": 1}
    second = {"id": "same", "priority": 1, "n": 2}
    model.push(first, 0, Ok(first))
    model.push(second, 0, Ok(second))
    model.reserve(0, Ok(first))
    model.reserve(0, Ok(second))
    # By id, the Delete acknowledges either reservation; by the whole task, the first one.
    assert model.delete(first, 1, Ok()).allowed
    assert model.worlds == 2
    assert model.delete(second, 1, Ok()).allowed
    assert model.live_count() == (0, 1)  # by id twice, the first job may still be live
    assert model.reserve(100, Ok(None), final=True).allowed  # the drain narrows it
    assert model.live_count() == (0, 0)


def test_delete_may_locate_the_job_by_any_field_MQ_DELETE_1() -> None:
    """fn's Bolt queue finds a job by its priority and id: a Delete of a task whose priority
    differs from the live job's finds nothing, and succeeds as for an absent job."""
    model = Model(Capabilities(duplicate_ids="distinct"))
    old = {"id": "A", "priority": 1}
    new = {"id": "A", "priority": 2}
    model.push(old, 0, Ok(old))
    model.reserve(0, Ok(old))
    model.delete(old, 1, Ok())
    model.push(new, 2, Ok(new))
    model.reserve(2, Ok(new))
    assert model.delete(old, 3, Ok()).allowed  # by id: acknowledges A; by task: absent
    assert model.worlds == 2
    assert model.reserve(200, Ok(new), final=True).allowed  # it was absent: A is still live
    assert model.worlds == 1


def test_delete_by_id_of_the_wrong_job_still_judged_MQ_DELETE_2() -> None:
    """Neither lookup lets a Delete succeed on the very task it names while that job is not
    reserved."""
    model = Model(Capabilities())
    task = {"id": "A", "priority": 1}
    model.push(task, 0, Ok(task))
    verdict = model.delete(task, 1, Ok())
    assert verdict.violation is not None and verdict.violation.clause.id == "MQ-DELETE-2"


def test_too_many_worlds_is_inconclusive_not_a_failure() -> None:
    model = Model(Capabilities(), max_worlds=4)
    for i in range(4):
        model.push({"id": f"u{i}", "priority": 1}, 0, Unknown("cut"))
    assert model.inconclusive
    assert model.reserve(0, Ok({"id": "nonsense", "priority": 1})).inconclusive


def test_state_copies_are_independent() -> None:
    model = Model(Capabilities())
    task = {"id": "a", "priority": 1}
    model.push(task, 0, Ok(task))
    twin = copy.deepcopy(model)
    assert model.reserve(0, Ok(task)).allowed
    assert twin.reserve(0, Ok(None)).violation.clause.id == "MQ-READY-1"
