"""A true verdict on a backend nobody here wrote: no false alarm where the spec gives freedom,
no bug masked by an earlier one.

The outsider's queue (`tests.conformance.outsider`) was written from the contract alone: it
treats ``_mq_token`` as an ordinary field, finds a job for Delete by id and priority, and
breaks ties between delayed jobs the other way. It must conform in the default profile.
"""

from __future__ import annotations

from typing import Any

import pytest

from mqspec.adapters.memory import MemoryQueue
from mqspec.adapters.selftest.mutants import AcceptsInvalid
from mqspec.conformance.concurrency.parallel import check_parallel
from mqspec.conformance.concurrency.recorder import record
from mqspec.conformance.core import engine
from mqspec.conformance.core.engine import Profile, RunFinished, run, run_scenario
from mqspec.conformance.core.events import ScenarioDone
from mqspec.conformance.core.scenarios import SCENARIOS
from mqspec.reference.jsonvalue import TOKEN_KEY, json_equal, without_token
from mqspec.reference.tasks import task_problem
from tests.conformance.outsider import OutsiderQueue

SMALL = Profile("quick", examples=15, steps=20)


def _result(adapter: Any, **options: Any) -> Any:
    try:
        last = list(run(adapter, **options))[-1]
    finally:
        adapter.close()
    assert isinstance(last, RunFinished)
    return last.result


def _scenario(name: str) -> Any:
    return next(s for s in SCENARIOS if s.name == name)


def test_a_queue_that_keeps_mq_token_as_an_opaque_field_conforms_MQ_TASK_1(monkeypatch) -> None:
    monkeypatch.setitem(engine.PROFILES, "quick", SMALL)
    result = _result(OutsiderQueue())
    assert result.verdict == "conforms", [d.finding.render() for d in result.divergences]


def test_the_reserved_key_is_sent_to_token_queues_only_MQ_TASK_1_MQ_TOKEN_1() -> None:
    seen: list[Any] = []

    class Watching(MemoryQueue):
        def push(self, task: Any, now: float | None) -> Any:
            seen.append(task)
            return super().push(task, now)

    done = run_scenario(Watching(), _scenario("invalid_tasks_are_refused"), "memory://", False)
    assert done.status == "pass"
    assert not any(isinstance(t, dict) and TOKEN_KEY in t for t in seen)
    seen.clear()
    done = run_scenario(
        Watching(tokens=True), _scenario("invalid_tasks_are_refused"), "memory://", False
    )
    assert done.status == "pass"
    assert any(isinstance(t, dict) and TOKEN_KEY in t for t in seen)


def test_a_token_queue_that_accepts_the_reserved_key_fails_MQ_TASK_1() -> None:
    class KeyAccepted(MemoryQueue):
        def push(self, task: Any, now: float | None) -> Any:
            if isinstance(task, dict) and TOKEN_KEY in task:
                return super().push(without_token(task), now) | {TOKEN_KEY: task[TOKEN_KEY]}
            return super().push(task, now)

    done = run_scenario(
        KeyAccepted(tokens=True), _scenario("invalid_tasks_are_refused"), "memory://", False
    )
    assert done.status == "fail"
    assert {d.clause.id for d in done.divergences} == {"MQ-TASK-1"}


def test_each_invalid_kind_is_tried_on_its_own_MQ_TASK_1() -> None:
    """A queue that accepts only priority 3 is caught although it refuses a task with no id:
    the first invalid kind no longer hides the next (fn's Redis queue)."""

    class AcceptsPriorityThree(MemoryQueue):
        def push(self, task: Any, now: float | None) -> Any:
            if isinstance(task, dict) and task.get("priority") == 3:
                return dict(task)
            return super().push(task, now)

    done = run_scenario(AcceptsPriorityThree(), _scenario("invalid_tasks_are_refused"), "m", False)
    assert done.status == "fail"
    assert "priority 3" in done.reason and "1 of" in done.reason
    assert done.divergence is not None and "[priority 3]" in done.divergence.source


def test_every_invalid_kind_a_queue_accepts_is_named_MQ_TASK_1() -> None:
    done = run_scenario(AcceptsInvalid(), _scenario("invalid_tasks_are_refused"), "m", False)
    assert done.status == "fail"
    assert f"{done.cases} of {done.cases} cases broken" in done.reason
    assert done.clean == 0


def test_a_scenario_reports_every_distinct_clause_its_cases_break() -> None:
    """One case meets one bug, another case another: both clauses are reported."""

    class TwoBugs(MemoryQueue):
        def push(self, task: Any, now: float | None) -> Any:
            out = super().push(task, now)
            if len(task.get("payload", "")) > 64 * 1024:
                raise ValueError("payload too large")  # a valid push refused: MQ-PUSH-1
            return out

        def reserve(self, now: float | None) -> Any:
            got = super().reserve(now)
            if got is not None and isinstance(got.get("payload"), str):
                got["payload"] = got["payload"][: 32 * 1024]  # cut at 32 Ki: MQ-TASK-2
            return got

    done = run_scenario(TwoBugs(), _scenario("fields_round_trip"), "m", False)
    assert {d.clause.id for d in done.divergences} == {"MQ-TASK-2", "MQ-PUSH-1"}


class WholeTaskAudit(MemoryQueue):
    """A queue that notes every Delete whose task is not one a caller could hold: a task
    Reserve returned, the task as pushed, or a valid task of an id never pushed."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.pushed: dict[str, list[Any]] = {}
        self.complaints: list[Any] = []

    def reset(self, now: float | None) -> None:
        super().reset(now)
        self.pushed = {}

    def push(self, task: Any, now: float | None) -> Any:
        out = super().push(task, now)
        # One assignment, so a Delete on another thread never sees a half-made entry.
        self.pushed[task["id"]] = [*self.pushed.get(task["id"], []), dict(task)]
        return out

    def delete(self, task: Any, now: float | None) -> None:
        body = without_token(task)
        known = self.pushed.get(task.get("id"))
        if task_problem(body) is not None or (
            known is not None and not any(json_equal(body, k) for k in known)
        ):
            self.complaints.append((task, known))
        super().delete(task, now)


@pytest.mark.parametrize("tokens", [False, True])
def test_delete_always_gets_a_whole_task_in_every_phase_MQ_DELETE_1(monkeypatch, tokens) -> None:
    monkeypatch.setitem(engine.PROFILES, "quick", SMALL)
    queue = WholeTaskAudit(tokens=tokens)
    result = _result(queue)  # the scenarios and the state machine
    assert result.verdict == "conforms"
    queue = WholeTaskAudit(tokens=tokens)
    check_parallel(queue, examples=15, repeats=2)
    record(queue, clients=3, ops_per_client=30, seed=2)
    assert queue.complaints == []


def test_scenario_done_keeps_its_cases() -> None:
    done = run_scenario(MemoryQueue(), _scenario("delete_without_reservation_fails"), "m", False)
    assert isinstance(done, ScenarioDone)
    assert (done.status, done.cases, done.clean) == ("pass", 3, 3)


@pytest.mark.slow
def test_the_crash_check_never_reopens_a_label_as_a_url_MQ_DURABLE_1(monkeypatch, tmp_path):
    """A run labelled ``sqlite:label`` without the URL it was opened with must not reopen the
    label (it would create a database file named "label" in the working directory)."""
    import attrs

    from mqspec.adapters.sqlite import SqliteQueue

    monkeypatch.setitem(engine.PROFILES, "quick", attrs.evolve(SMALL, crash_check=3))
    monkeypatch.chdir(tmp_path)
    result = _result(SqliteQueue(tmp_path / "q.db", timeout=60), url="sqlite:label")
    assert not (tmp_path / "label").exists()
    reason = {c.clause.id: c.reason for c in result.clauses}["MQ-DURABLE-1"]
    assert "needs the URL the queue was opened with" in reason
